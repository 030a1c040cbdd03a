// Auto-follow: the thread stays at its end while the reader is there — as text streams, when the
// answer is rendered, when chips appear, whatever the layout does — and never moves once they scroll
// up to read. Away from the end, a "jump to latest" button brings them back.

import { t } from "./i18n.js";

const NEAR_END_PX = 48; // this close to the end counts as "at the end"

let pinned = true; // the reader is at the end: keep them there
let lastTop = 0;
let button = null;

const thread = () => document.getElementById("thread");

function distance(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight;
}

function jump(box) {
  // Instant: a smooth scroll still under way when the content grows again would end short of the end.
  box.scrollTo({ top: box.scrollHeight, behavior: "instant" });
  lastTop = box.scrollTop;
}

function showButton(box) {
  if (button) button.hidden = pinned || distance(box) <= NEAR_END_PX;
}

/** Scroll to the end if the reader is there (or `force`: a new question, a conversation opened). */
export function scrollToEnd(force = false) {
  const box = thread();
  if (!box) return;
  if (force) pinned = true;
  if (pinned) jump(box);
  showButton(box);
}

/** Watch the reader's scrolling and the thread's size; call once, when the page starts. */
export function setupFollow() {
  const box = thread();
  if (!box || button) return;
  box.addEventListener(
    "scroll",
    () => {
      // Content that grows never lowers scrollTop, and content that shrinks clamps it at the end:
      // only the reader moves up.
      if (distance(box) <= NEAR_END_PX) pinned = true;
      else if (box.scrollTop < lastTop - 1) pinned = false;
      lastTop = box.scrollTop;
      showButton(box);
    },
    { passive: true },
  );
  // Any change of size (a render, chips, a wide code block, the composer growing) while pinned.
  const follow = new ResizeObserver(() => {
    if (pinned) jump(box);
    showButton(box);
  });
  follow.observe(box);
  const inner = box.firstElementChild;
  if (inner) follow.observe(inner);

  button = document.createElement("button");
  button.type = "button";
  button.className = "jump-latest";
  button.hidden = true;
  button.dataset.i18n = "jumpToLatest";
  button.textContent = t("jumpToLatest");
  button.addEventListener("click", () => {
    pinned = true;
    jump(box);
    showButton(box);
  });
  const composer = document.getElementById("composer");
  if (composer) composer.prepend(button);
  else box.after(button);
}
