// The turns the page follows, at most one per conversation: send a question, attach to an answer that
// is running (started by this tab before a reload, or by another tab), stop it, retry it. A turn runs
// on the server to its end; the page only reads it, and stops reading when it looks elsewhere.

import * as api from "./api.js";
import { announce } from "./dom.js";
import { errorInfo, follow } from "./follow.js";
import { t } from "./i18n.js";
import { appendAssistant, appendUser, clearActions } from "./messages.js";
import { botBySlug, emit, state, upsertConversation } from "./store.js";

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
    key: null,
    posts: 0,
    stopped: false, // Stop was pressed here
    detached: false, // the page stopped reading (it looks at another conversation)
    ended: false, // the turn's last frame came
    ...fields,
  };
}

function handlers(question) {
  return { question, onRetry: (q) => send(q), onSuggestion: (q) => send(q) };
}

/** Send `content` in the open conversation (creating one first for a new chat). */
export async function send(content) {
  const text = content.trim();
  if (!text || turnHere()) return false;
  let conversation = state.current;
  if (!conversation) {
    try {
      conversation = await api.createConversation(state.selectedBot);
    } catch (error) {
      appendUser(text);
      appendAssistant({ status: "failed" }, handlers(text)).fail(errorInfo(error));
      return true;
    }
    upsertConversation(conversation);
    await openConversation(conversation, { push: true, render: false });
  }
  clearActions();
  appendUser(text);
  const view = appendAssistant({ status: "streaming" }, handlers(text));
  await run(newTurn(conversation, view, { question: text, key: newKey() }));
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
  const outcome = await follow(turn, { onStarted: () => started(turn) });
  if (state.turns.get(conversationId) === turn) state.turns.delete(conversationId);
  emit("turn");
  if (outcome === "aborted" && turn.detached) return; // the page looks elsewhere
  if (outcome === "aborted") turn.view.setStatus("interrupted"); // stopped, and the last frame did not come
  if (outcome === "busy") {
    await showBusy(turn);
    return;
  }
  await refreshAfterTurn(turn);
}

/** The turn exists on the server now: the conversation has its title; a Stop that came too early is resent. */
function started(turn) {
  if (turn.stopped) api.cancelTurn(turn.conversationId).catch(() => {});
  refreshConversation(turn.conversationId).catch(() => {});
}

/** A 409: another tab runs a turn in this conversation. Show that answer, and give the question back. */
async function showBusy(turn) {
  if (turn.posts === 1) emit("draft", turn.question); // a resent question may be that very turn
  if (state.current && state.current.id === turn.conversationId) {
    await openConversation(state.current, { push: false });
  }
}

async function refreshConversation(id) {
  upsertConversation(await api.getConversation(id));
}

/** The server may have titled the conversation; a stopped or failed answer gets its rendered html. */
async function refreshAfterTurn(turn) {
  try {
    await refreshConversation(turn.conversationId);
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
