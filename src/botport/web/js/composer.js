// The message box: grows with its text, Enter sends, Shift+Enter breaks the line, Stop while streaming.
// Its text is the open conversation's draft (drafts.js): it stays there when the page looks elsewhere.
// Files go with the text (attachments.js): Send waits for their uploads, and sends files without text.

import { blockedReason, explainBlocked, initAttachments, takeAttachments, trayState } from "./attachments.js";
import { send, stop, turnHere } from "./chat.js";
import { draftKey, loadDraft, saveDraft } from "./drafts.js";
import { on, state } from "./store.js";

const MAX_HEIGHT = 200;

export function initComposer() {
  const form = document.getElementById("composer");
  const input = document.getElementById("composer-input");
  const sendButton = document.getElementById("send-button");
  const stopButton = document.getElementById("stop-button");

  const grow = () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, MAX_HEIGHT)}px`;
  };
  const refresh = () => {
    // Only an answer running in the open conversation blocks sending; other conversations run their own.
    const turn = turnHere();
    const streaming = Boolean(turn && !turn.stopped);
    sendButton.hidden = streaming;
    stopButton.hidden = !streaming;
    const nothing = input.value.trim() === "" && trayState().ready === 0;
    sendButton.disabled = Boolean(turn) || nothing || Boolean(blockedReason());
  };

  let draftFor = draftKey(state.current); // whose draft the box holds
  const keep = () => saveDraft(draftFor, input.value);
  // The page opens another conversation (or a new chat): the box shows that place's draft.
  const swapDraft = () => {
    const key = draftKey(state.current);
    if (key === draftFor) return;
    draftFor = key;
    input.value = loadDraft(key);
    grow();
    refresh();
  };

  const submit = async () => {
    const files = trayState();
    if (turnHere() || (input.value.trim() === "" && files.ready + files.uploading + files.failed === 0)) return;
    if (blockedReason()) {
      explainBlocked(); // uploads still running, or a file that failed is still in the tray
      return;
    }
    const text = input.value;
    const attachments = takeAttachments();
    if (text.trim() === "" && attachments.length === 0) return;
    saveDraft(draftFor, ""); // sent: the draft is done
    input.value = "";
    grow();
    refresh();
    await send(text, attachments);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    // isComposing: Enter that confirms an IME candidate (Chinese input) must not send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    grow();
    refresh();
    keep();
  });
  stopButton.addEventListener("click", () => {
    stop();
    input.focus();
  });
  on("turn", refresh);
  on("attachments", refresh);
  on("opening", swapDraft);
  on("opened", () => {
    swapDraft();
    refresh();
  });
  // A question that was not sent (another tab's answer was running) comes back to the box.
  on("draft", (text) => {
    if (input.value.trim() !== "") return;
    input.value = text;
    keep();
    grow();
    refresh();
  });
  on("config", () => {
    const max = state.config?.limits?.max_message_chars;
    if (max) input.maxLength = max;
  });
  initAttachments();
  input.value = loadDraft(draftFor);
  grow();
  refresh();
}

export function focusComposer() {
  document.getElementById("composer-input").focus();
}
