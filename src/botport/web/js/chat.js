// One turn: send a question, stream the answer into its view, stop it, retry it.

import * as api from "./api.js";
import { announce } from "./dom.js";
import { t } from "./i18n.js";
import { appendAssistant, appendUser, clearActions } from "./messages.js";
import { botBySlug, emit, state, upsertConversation } from "./store.js";

let openConversation = null; // set by main.js: (conversation, {push}) => void

export function setNavigator(fn) {
  openConversation = fn;
}

export function isStreamingHere() {
  return Boolean(state.turn && state.current && state.turn.conversationId === state.current.id);
}

function errorInfo(error) {
  if (error instanceof api.ApiError) {
    if (error.code === "network_error") return { code: error.code, message: t("networkError") };
    return { code: error.code, message: error.message, logid: error.logid };
  }
  return { code: "error", message: String(error && error.message ? error.message : error) };
}

/** Send `content` in the open conversation (creating one first for a new chat). */
export async function send(content) {
  const text = content.trim();
  if (!text || state.turn) return false;
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
    openConversation(conversation, { push: true, render: false });
  }
  clearActions();
  appendUser(text);
  const view = appendAssistant({ status: "streaming" }, handlers(text));
  const turn = { conversationId: conversation.id, controller: new AbortController(), view, stopped: false };
  state.turn = turn;
  emit("turn");
  const botName = botBySlug(conversation.bot)?.name || "";
  announce(t("answering", { bot: botName }));
  await runTurn(turn, text, botName);
  return true;
}

function handlers(question) {
  return { question, onRetry: (q) => send(q), onSuggestion: (q) => send(q) };
}

async function runTurn(turn, text, botName) {
  const { view } = turn;
  let finished = false;
  let messageId = null;
  try {
    for await (const { event, data } of api.streamMessage(turn.conversationId, text, turn.controller.signal)) {
      if (turn.stopped) break;
      if (event === "turn.started") messageId = data.message_id;
      else if (event === "reasoning.delta") view.appendReasoning(data.text || "");
      else if (event === "text.delta") view.appendText(data.text || "");
      else if (event === "message.completed") view.setMessage(data);
      else if (event === "follow_ups") view.setFollowUps(data.suggestions);
      else if (event === "tool_calls.required") {
        view.notice(t("toolCall", { names: (data.tool_calls || []).map((call) => call.name).join(", ") }));
      } else if (event === "turn.completed") {
        finished = true;
        view.setStatus(data.status === "completed" ? "completed" : data.status);
        view.setUsage(data.usage);
        announce(t("answered", { bot: botName, text: view.content }));
      } else if (event === "error") {
        finished = true;
        messageId = messageId || data.message_id || null;
        // `status` is the HTTP status; `turn_status` says how the stored answer ended.
        if (data.turn_status === "interrupted" || data.code === "cancelled") view.setStatus("interrupted");
        else view.fail(data);
      }
    }
    if (!finished && !turn.stopped) view.fail({ code: "network_error", message: t("networkError") });
  } catch (error) {
    if (!turn.stopped) view.fail(errorInfo(error));
  } finally {
    if (turn.stopped) view.setStatus("interrupted");
    state.turn = null;
    emit("turn");
    await refreshAfterTurn(turn, messageId);
  }
}

/** The server may have titled the conversation; a stopped or failed answer gets its rendered html. */
async function refreshAfterTurn(turn, messageId) {
  try {
    upsertConversation(await api.getConversation(turn.conversationId));
    if (messageId && turn.view.element.dataset.status !== "completed") {
      const { items } = await api.listMessages(turn.conversationId);
      const stored = items.find((message) => message.id === messageId);
      if (stored && stored.html) turn.view.setMessage(stored);
    }
  } catch {
    // the list refreshes on the next load anyway
  }
}

/** Stop the running answer: ask the server to cancel, then stop reading. The partial answer stays. */
export async function stop() {
  const turn = state.turn;
  if (!turn || turn.stopped) return;
  turn.stopped = true;
  turn.view.setStatus("interrupted");
  const abort = () => turn.controller.abort();
  const timer = setTimeout(abort, 2000);
  try {
    await api.cancelTurn(turn.conversationId);
  } catch {
    // aborting the request stops the turn too
  } finally {
    clearTimeout(timer);
    abort();
  }
}
