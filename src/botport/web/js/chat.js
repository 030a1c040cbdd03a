// The turns the page follows, at most one per conversation: send a question, attach to an answer that
// is running (started by this tab before a reload, or by another tab), stop it, retry it. A turn runs
// on the server to its end; the page only reads it, and stops reading when it looks elsewhere.

import * as api from "./api.js";
import { announce, notify } from "./dom.js";
import { errorInfo, follow } from "./follow.js";
import { t } from "./i18n.js";
import { restoreAttachments } from "./attachments.js";
import {
  appendAssistant,
  appendUser,
  attachmentsOf,
  clearActions,
  cutThreadAt,
  knowQuestionId,
  questionBefore,
} from "./messages.js";
import { botBySlug, emit, state, upsertConversation } from "./store.js";
import { tell } from "./tabs.js";
import { setThreadActions } from "./versions.js";

const STOP_GRACE_MS = 3000; // after Stop, how long to wait for the turn's last frame

let openConversation = null; // set by main.js: (conversation, {push, render}) => Promise

export function setNavigator(fn) {
  openConversation = fn;
}

/** The turn the page follows in the open conversation, or null. */
export function turnHere() {
  return state.current ? (state.turns.get(state.current.id) ?? null) : null;
}

/** A key that makes a resent question re-attach to its turn (randomUUID needs a secure origin). */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function newTurn(conversation, view, fields) {
  return {
    conversationId: conversation.id,
    botName: botBySlug(conversation.bot)?.name || "",
    view,
    controller: new AbortController(),
    messageId: null,
    lastSeq: 0,
    question: "",
    attachments: [], // the question's files (their records), sent with it
    key: null,
    posts: 0,
    stopped: false, // Stop was pressed here
    detached: false, // the page stopped reading (it looks at another conversation)
    ended: false, // the turn's last frame came
    open: null, // how to start it when it is not a plain question: (options) => events (an edit, a regenerate)
    userItem: null, // the question's bubble, to learn its id when the turn starts
    branches: false, // it makes a new version: the thread is read again at its end, with ‹ ›
    ...fields,
  };
}

function handlers(question, attachments = []) {
  const onRetry = (detail) => retry({ ...detail, attachments });
  return { question, attachments, onRetry, onSuggestion: (q) => send(q) };
}

/**
 * Retry on a failed answer, live or in the history: `messageId` is the failed answer, `question` what it
 * answered. The one place that decides what Retry does: a new version of the answer when its id is
 * known, else (the send itself failed: nothing was stored) the question asked again, with its files.
 */
export function retry({ question, messageId, attachments = [] }) {
  return messageId ? regenerate(messageId) : send(question, attachments);
}

/**
 * Ask a new version of the question `messageId` (shown in the thread): the thread from it on gives way
 * to the new branch; the old one stays on the server, a ‹ › away. Its files stay with the new version
 * (their ids are sent again, so a question of files only can be edited without text).
 */
export async function editQuestion(messageId, content) {
  const text = content.trim();
  const conversation = state.current;
  const kept = attachmentsOf(messageId);
  if ((!text && kept.length === 0) || !conversation || turnHere() || !cutThreadAt(messageId)) return false;
  clearActions();
  const userItem = appendUser(text, null, kept);
  const view = appendAssistant({ status: "streaming" }, handlers(text));
  const ids = kept.map((attachment) => attachment.id);
  const open = (options) => api.streamEdit(conversation.id, messageId, text, { ...options, attachments: ids });
  await run(newTurn(conversation, view, { question: text, key: newKey(), open, userItem, branches: true }));
  return true;
}

/** Answer the answer `messageId`'s question again, as a new version of that answer. */
export async function regenerate(messageId) {
  const conversation = state.current;
  const question = questionBefore(messageId);
  if (!conversation || turnHere() || !cutThreadAt(messageId)) return false;
  clearActions();
  const view = appendAssistant({ status: "streaming" }, handlers(question));
  const open = (options) => api.streamRegenerate(conversation.id, messageId, options);
  await run(newTurn(conversation, view, { key: newKey(), open, branches: true }));
  return true;
}

/** Read the conversation along another version of a message (‹ ›). */
export async function showVersion(messageId) {
  const conversation = state.current;
  if (!conversation || turnHere()) return;
  try {
    await api.switchBranch(conversation.id, messageId);
  } catch (error) {
    notify(errorInfo(error).message);
    return;
  }
  tell("branch", { conversation }); // other tabs showing it read the same branch
  await openConversation(conversation, { push: false });
  document.querySelector(`#messages [data-id="${CSS.escape(messageId)}"] .versions button:not(:disabled)`)?.focus();
}

/**
 * Send `content` with `attachments` (uploaded files' records: attachments.js) in the open conversation,
 * creating one first for a new chat. Files may go without text.
 */
export async function send(content, attachments = []) {
  const text = content.trim();
  if ((!text && attachments.length === 0) || turnHere()) return false;
  let conversation = state.current;
  if (!conversation) {
    try {
      conversation = await api.createConversation(state.selectedBot);
    } catch (error) {
      appendUser(text, null, attachments);
      appendAssistant({ status: "failed" }, handlers(text, attachments)).fail(errorInfo(error));
      emit("turn"); // the thread has messages now: the empty state goes
      return true;
    }
    upsertConversation(conversation);
    await openConversation(conversation, { push: true, render: false });
  }
  clearActions();
  const userItem = appendUser(text, null, attachments);
  const view = appendAssistant({ status: "streaming" }, handlers(text, attachments));
  const ids = attachments.map((attachment) => attachment.id);
  const id = conversation.id;
  // With files the question is sent with their ids (a plain question needs no `open`: follow.js sends it).
  const open = ids.length ? (options) => api.streamMessage(id, text, { ...options, attachments: ids }) : null;
  await run(newTurn(conversation, view, { question: text, attachments, key: newKey(), userItem, open }));
  return true;
}

/** Follow the running answer `messageId` (rendered empty as `view`) from its first event. */
export function attach(conversation, messageId, view) {
  run(newTurn(conversation, view, { messageId }));
}

/** Stop reading every followed turn but the one of `keepId`; the turns go on on the server. */
export function detachTurns(keepId = null) {
  for (const [id, turn] of state.turns) {
    if (id === keepId) continue;
    turn.detached = true;
    turn.controller.abort();
    state.turns.delete(id);
  }
  emit("turn");
}

async function run(turn) {
  const { conversationId } = turn;
  const earlier = state.turns.get(conversationId);
  if (earlier) {
    earlier.detached = true; // a re-render attached again: read the turn once
    earlier.controller.abort();
  }
  state.turns.set(conversationId, turn);
  emit("turn");
  announce(t("answering", { bot: turn.botName }));
  const outcome = await follow(turn, { onStarted: (data) => started(turn, data) });
  if (state.turns.get(conversationId) === turn) state.turns.delete(conversationId);
  emit("turn");
  if (outcome === "aborted" && turn.detached) return; // the page looks elsewhere
  if (outcome === "aborted") turn.view.setStatus("interrupted"); // stopped, and the last frame did not come
  if (outcome === "busy") {
    await showBusy(turn);
    return;
  }
  const detail = { status: turn.view.element.dataset.status, text: turn.view.content }; // embedded.js tells the host
  document.dispatchEvent(new CustomEvent("botport:answered", { detail }));
  await refreshAfterTurn(turn);
  // A new version: read the thread again, so it shows ‹ › (unless the reader is elsewhere, or busy).
  if (turn.branches && state.current?.id === conversationId && !turnHere()) {
    await openConversation(state.current, { push: false });
  }
}

/** The turn exists on the server now: the conversation has its title; a Stop that came too early is resent. */
function started(turn, data = {}) {
  if (turn.userItem) knowQuestionId(turn.userItem, data.user_message_id);
  turn.view.element.dataset.id = data.message_id || "";
  if (turn.stopped) api.cancelTurn(turn.conversationId).catch(() => {});
  refreshConversation(turn.conversationId)
    .then((conversation) => {
      if (asked(turn)) tell("turn-started", { conversation }); // the others may follow
    })
    .catch(() => {});
}

/** A 409: another tab runs a turn in this conversation. Show that answer, and give the question back. */
async function showBusy(turn) {
  if (turn.posts === 1 && !turn.branches) {
    emit("draft", turn.question); // a resent question may be that very turn
    restoreAttachments(turn.attachments, turn.conversationId);
  }
  if (state.current && state.current.id === turn.conversationId) {
    await openConversation(state.current, { push: false });
  }
}

/** This tab asked the turn (a question, files, an edit, a regenerate), rather than attached to it. */
function asked(turn) {
  return Boolean(turn.question || turn.attachments.length || turn.branches);
}

async function refreshConversation(id) {
  const conversation = await api.getConversation(id);
  upsertConversation(conversation);
  return conversation;
}

/** The server may have titled the conversation; a stopped or failed answer gets its rendered html. */
async function refreshAfterTurn(turn) {
  try {
    const conversation = await refreshConversation(turn.conversationId);
    if (asked(turn)) tell("turn-ended", { conversation });
    const { view, messageId } = turn;
    if (messageId && view.element.isConnected && view.element.dataset.status !== "completed") {
      const { items } = await api.listMessages(turn.conversationId);
      const stored = items.find((message) => message.id === messageId);
      if (stored && stored.status !== "streaming" && stored.html) view.setMessage(stored);
    }
  } catch {
    // the list refreshes on the next load anyway
  }
}

/** Stop the open conversation's answer for every tab that follows it; the partial answer stays. */
export async function stop() {
  const turn = turnHere();
  if (!turn || turn.stopped) return;
  turn.stopped = true;
  turn.view.setStatus("interrupted");
  emit("turn");
  try {
    await api.cancelTurn(turn.conversationId);
  } catch {
    // the turn's end frame, or the grace below, ends the reading
  }
  setTimeout(() => turn.controller.abort(), STOP_GRACE_MS);
}

// The thread's buttons (messages.js draws them): Edit, Regenerate, ‹ ›.
setThreadActions({ edit: editQuestion, regenerate, showVersion });
