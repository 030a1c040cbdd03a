// The conversation thread: user bubbles and assistant answers (streamed text, then server html).

import { attachmentList } from "./attachments.js";
import { flashCopied, prepareCode } from "./codecopy.js";
import { copyText, h, icon } from "./dom.js";
import { failureReason } from "./failures.js";
import { feedbackControls } from "./feedback.js";
import { t } from "./i18n.js";
import { patchHtml } from "./patch.js";
import { scrollToEnd } from "./scroll.js";
import { botBySlug, state } from "./store.js";
import { toolNotice } from "./tools.js";
import { openEditor, threadActions, versionNav } from "./versions.js";

const list = () => document.getElementById("messages");

export { scrollToEnd };

/** Code blocks: focusable (they scroll sideways) and each with its Copy button (codecopy.js). */
const focusablePre = prepareCode;

function metaButton(name, iconName, label, onclick) {
  return h(
    "button",
    { type: "button", class: `icon-button small ${name}-button`, "aria-label": label, title: label, onclick },
    icon(iconName),
  );
}

export function clearThread() {
  list().replaceChildren();
}

export function hasMessages() {
  return list().childElementCount > 0;
}

/** Only the newest answer offers follow-up chips; every failed answer keeps its Retry. */
export function clearActions() {
  for (const el of list().querySelectorAll(".follow-ups")) el.remove();
}

const sentFiles = new WeakMap(); // a question's item -> its attachments' records

/**
 * Append the reader's question, its files above its text (either may be missing). `message` (a stored
 * one) gives its id, versions and attachments; a question just sent gets its id when its turn starts
 * (`item.dataset.id`), and Edit waits for it.
 */
export function appendUser(content, message = null, attachments = message?.attachments ?? []) {
  const said = h("span", { class: "visually-hidden" }, t("youSaid"));
  const copy = metaButton("copy", "copy", t("copyMessage"), async () => {
    if (await copyText(content)) flashCopied(copy, t("copyMessage"));
  });
  copy.hidden = !content;
  const keeps = attachments.length > 0;
  const edit = metaButton("edit", "pencil", t("editMessage"), () =>
    openEditor(item, content, { onCancel: () => edit.focus(), keepsAttachments: keeps }),
  );
  const meta = h("div", { class: "message-meta user-meta" }, message ? versionNav(message) : null, copy, edit);
  const text = content ? h("div", { class: "bubble user-text" }, content) : null;
  const column = h("div", { class: "user-column" }, attachmentList(attachments), text, meta);
  const item = h("li", { class: "message user" }, said, column);
  sentFiles.set(item, attachments);
  knowQuestionId(item, message?.id);
  list().append(item);
  scrollToEnd(true);
  return item;
}

/** A question's stored id (known once its turn started): it can be edited from then on. */
export function knowQuestionId(item, id) {
  if (id) item.dataset.id = id;
  item.querySelector(".edit-button").hidden = !id;
}

/** The attachments of the question `messageId`, as the thread shows them. */
export function attachmentsOf(messageId) {
  const item = Array.from(list().children).find((li) => li.dataset.id === messageId);
  return (item && sentFiles.get(item)) || [];
}

/** The thread from `messageId` on goes (a new version replaces it on screen); false if it is not shown. */
export function cutThreadAt(messageId) {
  const from = Array.from(list().children).find((item) => item.dataset.id === messageId);
  if (!from) return false;
  while (from.nextElementSibling) from.nextElementSibling.remove();
  from.remove();
  return true;
}

/** The question an answer (by id) answers, as the thread shows it. */
export function questionBefore(messageId) {
  let item = Array.from(list().children).find((li) => li.dataset.id === messageId)?.previousElementSibling;
  while (item && !item.matches(".message.user")) item = item.previousElementSibling;
  return item?.querySelector(".user-text")?.textContent ?? "";
}

/**
 * Append an assistant answer and return its view: the controller calls its methods as events arrive.
 * `message` is a stored Message (history) or a placeholder `{status: "streaming"}`.
 */
export function appendAssistant(message, { onRetry, onSuggestion, question, attachments = [] } = {}) {
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
  // Answer again (a new version; this one stays as a branch). Not while it runs, nor for a tool call.
  const regenerate = metaButton("regenerate", "retry", t("regenerate"), () => {
    if (item.dataset.id) threadActions().regenerate?.(item.dataset.id);
  });
  const versions = versionNav(message);
  const meta = h("div", { class: "message-meta" }, versions, copyButton, regenerate, rating.element, statusMark, usage);
  const bubble = h("div", { class: "bubble" }, thinking, answer, streamText, typing, reconnecting, problem, meta);
  const avatar = h("img", { class: "avatar", src: "/static/icons/logo.svg", alt: "", width: 28, height: 28 });
  // Screen readers hear who speaks: "<bot> said:" before each answer, "You said:" before each question.
  const botName = botBySlug(state.current?.bot ?? state.selectedBot)?.name || "botport";
  const said = h("span", { class: "visually-hidden" }, t("botSaid", { bot: botName }));
  const item = h("li", { class: "message assistant" }, said, avatar, bubble);
  if (message.id) item.dataset.id = message.id;

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
      regenerate.hidden = streaming || status === "requires_action";
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
    /**
     * An inline error: why, as a sentence in the page's language, its log id small, and Retry. Every
     * failed answer offers Retry; one without handlers (older history) asks through a botport:retry
     * event, with its question read from the thread.
     */
    fail(error) {
      view.setStatus("failed");
      const sentence = t("failedBecause", { reason: failureReason(error) });
      const parts = [h("span", { class: "error-sentence" }, sentence)];
      if (error.logid) parts.push(h("span", { class: "logid" }, `${t("logid")}: `, h("code", {}, error.logid)));
      problem.replaceChildren(icon("alert"), h("div", { class: "error-text" }, parts));
      let asked = item.previousElementSibling;
      while (asked && !asked.matches(".message.user")) asked = asked.previousElementSibling;
      const again = {
        question: question || asked?.querySelector(".user-text")?.textContent || "",
        messageId: error.message_id || message.id || null,
      };
      const event = (detail) => new CustomEvent("botport:retry", { detail, bubbles: true });
      const ask = onRetry ?? ((detail) => item.dispatchEvent(event(detail)));
      if (again.question || again.messageId || attachments.length) {
        const retry = h("button", { type: "button", class: "retry-button", onclick: () => ask(again) });
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
  if (message.status === "requires_action") view.notice(toolNotice(message.tool_calls)); // it runs no tools
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
      appendUser(message.content, message);
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
