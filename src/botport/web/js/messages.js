// The conversation thread: user bubbles and assistant answers (streamed text, then server html).

import { copyText, h, icon } from "./dom.js";
import { feedbackControls } from "./feedback.js";
import { t } from "./i18n.js";
import { patchHtml } from "./patch.js";
import { scrollToEnd } from "./scroll.js";
import { botBySlug, state } from "./store.js";

const list = () => document.getElementById("messages");

export { scrollToEnd };

/** Wide code scrolls sideways: keyboard users must reach it (WCAG 2.1.1, scrollable-region-focusable). */
function focusablePre(root) {
  for (const pre of root.querySelectorAll("pre")) pre.tabIndex = 0;
}

export function clearThread() {
  list().replaceChildren();
}

export function hasMessages() {
  return list().childElementCount > 0;
}

/** Only the newest answer offers follow-up chips and a retry button. */
export function clearActions() {
  for (const el of list().querySelectorAll(".follow-ups, .retry-button")) el.remove();
}

export function appendUser(content) {
  const said = h("span", { class: "visually-hidden" }, t("youSaid"));
  const item = h("li", { class: "message user" }, said, h("div", { class: "bubble user-text" }, content));
  list().append(item);
  scrollToEnd(true);
  return item;
}

/**
 * Append an assistant answer and return its view: the controller calls its methods as events arrive.
 * `message` is a stored Message (history) or a placeholder `{status: "streaming"}`.
 */
export function appendAssistant(message, { onRetry, onSuggestion, question } = {}) {
  const thinkingText = h("div", { class: "thinking-text" });
  const thinkingLabel = h("span", {}, t("thoughts"));
  const thinking = h("details", { class: "thinking", hidden: true }, h("summary", {}, thinkingLabel), thinkingText);
  const answer = h("div", { class: "answer markdown" });
  const streamText = h("div", { class: "answer stream-text" });
  const typing = h("div", { class: "typing", "aria-hidden": "true" }, h("span"), h("span"), h("span"));
  const problem = h("div", { class: "message-error", hidden: true });
  const reconnecting = h("p", { class: "reconnecting", role: "status", hidden: true }, t("reconnecting"));
  const statusMark = h("span", { class: "status-mark", hidden: true });
  const usage = h("span", { class: "usage", hidden: true });
  const copyButton = h(
    "button",
    { type: "button", class: "icon-button small copy-button", "aria-label": t("copy"), title: t("copy") },
    icon("copy"),
  );
  const rating = feedbackControls();
  const meta = h("div", { class: "message-meta" }, copyButton, rating.element, statusMark, usage);
  const bubble = h("div", { class: "bubble" }, thinking, answer, streamText, typing, reconnecting, problem, meta);
  const avatar = h("img", { class: "avatar", src: "/static/icons/logo.svg", alt: "", width: 28, height: 28 });
  // Screen readers hear who speaks: "<bot> said:" before each answer, "You said:" before each question.
  const botName = botBySlug(state.current?.bot ?? state.selectedBot)?.name || "botport";
  const said = h("span", { class: "visually-hidden" }, t("botSaid", { bot: botName }));
  const item = h("li", { class: "message assistant" }, said, avatar, bubble);

  let content = message.content || "";
  let reasoning = message.reasoning || "";
  let tail = []; // streamed deltas {seq, text} that the last rendered snapshot does not cover yet

  copyButton.addEventListener("click", async () => {
    if (await copyText(content)) {
      copyButton.replaceChildren(icon("check"));
      copyButton.title = t("copied");
      setTimeout(() => {
        copyButton.replaceChildren(icon("copy"));
        copyButton.title = t("copy");
      }, 1500);
    }
  });

  const view = {
    element: item,
    get content() {
      return content;
    },
    /** What the reader sees, without markdown marks (for the live region). */
    get plainText() {
      return (answer.textContent || streamText.textContent || content).replace(/\s+/g, " ").trim();
    },
    setStatus(status) {
      item.dataset.status = status;
      const streaming = status === "streaming";
      typing.hidden = !streaming || content !== "";
      meta.hidden = streaming;
      copyButton.hidden = !content;
      rating.setStatus(status);
      thinkingLabel.textContent = streaming && !content ? t("thinking") : t("thoughts");
      statusMark.hidden = status !== "interrupted";
      statusMark.textContent = t("stopped");
      if (!streaming) reconnecting.hidden = true;
    },
    /** The stream dropped and the page is reconnecting (or it is back). */
    setReconnecting(on) {
      reconnecting.hidden = !on;
      if (on) scrollToEnd();
    },
    appendReasoning(text) {
      reasoning += text;
      thinking.hidden = false;
      if (!content) thinking.open = true;
      thinkingText.textContent = reasoning;
      scrollToEnd();
    },
    appendText(text, seq = null) {
      if (!content && thinking.open) thinking.open = false; // the answer begins: fold the thoughts
      content += text;
      tail.push({ seq, text });
      streamText.textContent += text;
      typing.hidden = true;
      thinkingLabel.textContent = t("thoughts");
      scrollToEnd();
    },
    /** A rendered snapshot of the answer up to delta `seq` (sanitised by the server); later deltas stay as text. */
    setRendered(html, seq) {
      if (item.dataset.status !== "streaming") return; // the final render came first
      patchHtml(answer, html, focusablePre);
      tail = tail.filter((delta) => delta.seq === null || delta.seq > seq);
      streamText.textContent = tail.map((delta) => delta.text).join("");
      typing.hidden = true;
      scrollToEnd();
    },
    /** The server's rendered answer replaces the streamed text (it is sanitized by the server). */
    setMessage(stored) {
      content = stored.content ?? content;
      if (stored.reasoning) {
        reasoning = stored.reasoning;
        thinkingText.textContent = reasoning;
        thinking.hidden = false;
      }
      if (stored.html) {
        patchHtml(answer, stored.html, focusablePre); // equal blocks stay: no re-layout after the last snapshot
        streamText.textContent = "";
        tail = [];
      } else {
        answer.replaceChildren();
        streamText.textContent = content;
      }
      typing.hidden = true;
      copyButton.hidden = !content;
      rating.know(stored);
      scrollToEnd();
    },
    setFollowUps(suggestions) {
      item.querySelector(".follow-ups")?.remove();
      if (!suggestions || suggestions.length === 0) return;
      const chips = suggestions.map((text) =>
        h("button", { type: "button", class: "chip", onclick: () => onSuggestion?.(text) }, text),
      );
      bubble.append(h("div", { class: "follow-ups", role: "group", "aria-label": t("suggestions") }, chips));
      scrollToEnd();
    },
    setUsage(value) {
      if (!value || !value.total_tokens) return;
      usage.hidden = false;
      usage.textContent = t("tokens", { total: value.total_tokens });
      usage.title = t("tokensDetail", { input: value.input_tokens, output: value.output_tokens });
    },
    /** An inline error with its log id, and a retry button that sends the question again. */
    fail(error) {
      view.setStatus("failed");
      const parts = [h("strong", {}, t("failed")), " ", error.message || error.code || ""];
      if (error.logid) parts.push(h("span", { class: "logid" }, `${t("logid")}: `, h("code", {}, error.logid)));
      problem.replaceChildren(icon("alert"), h("div", { class: "error-text" }, parts));
      if (onRetry && question) {
        const retry = h("button", { type: "button", class: "retry-button", onclick: () => onRetry(question) });
        retry.append(icon("retry"), t("retry"));
        problem.append(retry);
      }
      problem.hidden = false;
      problem.setAttribute("role", "alert");
      scrollToEnd();
    },
    notice(text) {
      bubble.insertBefore(h("p", { class: "notice" }, text), meta);
    },
  };

  rating.know(message);
  if (message.html) view.setMessage(message);
  else if (content) streamText.textContent = content;
  if (reasoning) {
    thinkingText.textContent = reasoning;
    thinking.hidden = false;
  }
  view.setStatus(message.status || "completed");
  view.setUsage(message.usage);
  list().append(item);
  scrollToEnd(true);
  return view;
}

/**
 * Render stored history (oldest first); the last answer gets its follow-ups and retry. With `liveId`
 * (a running turn's answer) that answer is rendered empty and streaming, appended when it is not stored
 * yet, and its view is returned: the page replays the turn into it from the start.
 */
export function renderHistory(messages, handlers, liveId = null) {
  clearThread();
  let question = "";
  let live = null;
  messages.forEach((message, index) => {
    if (message.role === "user") {
      question = message.content;
      appendUser(message.content);
      return;
    }
    const last = index === messages.length - 1;
    if (message.id === liveId) {
      live = appendAssistant({ status: "streaming" }, { ...handlers, question });
      return;
    }
    const view = appendAssistant(message, last ? { ...handlers, question } : {});
    if (message.status === "failed") {
      view.fail(message.error || { code: "failed", message: "" });
    }
    if (last) view.setFollowUps(message.follow_ups);
  });
  if (liveId && !live) live = appendAssistant({ status: "streaming" }, { ...handlers, question });
  scrollToEnd(true);
  return live;
}
