// Read one turn's events into its answer's view. The turn runs on the server: when the stream drops,
// the page reconnects by itself from the last sequence number it saw, with a growing pause.

import * as api from "./api.js";
import { announce } from "./dom.js";
import { t } from "./i18n.js";

const FIRST_PAUSE_MS = 500;
const MAX_PAUSE_MS = 5000;
const GIVE_UP_MS = 120_000;
const GATEWAY = new Set([502, 503, 504]);
const DELTAS = new Set(["text.delta", "reasoning.delta"]);

export function errorInfo(error) {
  if (error instanceof api.ApiError) {
    if (error.code === "network_error") return { code: error.code, message: t("networkError") };
    return { code: error.code, message: error.message, logid: error.logid };
  }
  return { code: "error", message: String(error && error.message ? error.message : error) };
}

/**
 * Worth trying again: no answer at all, or a proxy's gateway error while botport restarts. botport's
 * own errors (a JSON body with a code: an upstream failure, a limit) are shown instead.
 */
function transient(error) {
  if (!(error instanceof api.ApiError)) return false;
  return error.status === 0 || (GATEWAY.has(error.status) && error.code === `http_${error.status}`);
}

/** Wait `ms`; sooner when the browser is back online or reading is aborted. */
function pause(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
    signal.addEventListener("abort", done);
  });
}

/** Before turn.started the page (re)sends the question with its key; after it, it follows the turn. */
function connect(turn) {
  const { signal } = turn.controller;
  const onOpen = () => turn.view.setReconnecting(false);
  if (turn.messageId) return api.followTurn(turn.messageId, turn.lastSeq, { signal, onOpen });
  turn.posts += 1;
  return api.streamMessage(turn.conversationId, turn.question, { signal, onOpen, idempotencyKey: turn.key });
}

function apply(turn, { event, data, id }, onStarted) {
  const seq = /^\d+$/.test(id) ? Number(id) : null;
  if (seq !== null) {
    if (seq <= turn.lastSeq && DELTAS.has(event)) return; // already shown
    turn.lastSeq = Math.max(turn.lastSeq, seq);
  }
  const { view } = turn;
  if (event === "turn.started") {
    turn.messageId = data.message_id;
    onStarted?.(data);
  } else if (event === "reasoning.delta") view.appendReasoning(data.text || "");
  else if (event === "text.delta") view.appendText(data.text || "", seq);
  else if (event === "text.rendered") view.setRendered(data.html || "", data.seq ?? 0);
  else if (event === "message.completed") view.setMessage(data);
  else if (event === "follow_ups") view.setFollowUps(data.suggestions);
  else if (event === "tool_calls.required") {
    view.notice(t("toolCall", { names: (data.tool_calls || []).map((call) => call.name).join(", ") }));
  } else if (event === "turn.completed") {
    turn.ended = true;
    view.setStatus(data.status === "completed" ? "completed" : data.status);
    view.setUsage(data.usage);
    announce(t("answered", { bot: turn.botName, text: view.plainText }));
  } else if (event === "error") {
    turn.ended = true;
    turn.messageId = turn.messageId || data.message_id || null;
    // `status` is the HTTP status; `turn_status` says how the stored answer ended.
    if (data.turn_status === "interrupted" || data.code === "cancelled") {
      view.setStatus("interrupted");
      if (data.code !== "cancelled" && data.message) view.notice(data.message); // e.g. a server shutdown
    } else view.fail(data);
  }
}

/**
 * Read `turn` to its end. Resolves to "ended" (its last frame came), "aborted" (the page stopped
 * reading), "busy" (409 before it started: another turn runs in the conversation) or "failed" (the
 * view shows why).
 */
export async function follow(turn, { onStarted } = {}) {
  const { view, controller } = turn;
  let wait = FIRST_PAUSE_MS;
  let lostSince = null;
  for (;;) {
    try {
      for await (const frame of connect(turn)) {
        wait = FIRST_PAUSE_MS;
        lostSince = null;
        apply(turn, frame, onStarted);
        if (turn.ended) return "ended";
      }
    } catch (error) {
      if (controller.signal.aborted) return "aborted";
      if (error?.code === "turn_in_progress" && !turn.messageId) return "busy";
      if (!transient(error)) {
        view.fail(errorInfo(error));
        return "failed";
      }
    }
    if (controller.signal.aborted) return "aborted";
    // The stream ended early or the network failed: the turn goes on, so reconnect.
    lostSince ??= Date.now();
    if (Date.now() - lostSince > GIVE_UP_MS) {
      view.fail({ code: "network_error", message: t("networkError") });
      return "failed";
    }
    view.setReconnecting(true);
    await pause(wait, controller.signal);
    wait = Math.min(wait * 2, MAX_PAUSE_MS);
  }
}
