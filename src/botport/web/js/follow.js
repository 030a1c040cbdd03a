// Read one turn's events into its answer's view. The turn runs on the server: when the stream drops,
// the page reconnects by itself from the last sequence number it saw, with a growing pause.

import * as api from "./api.js";
import { announce } from "./dom.js";
import { failureSentence } from "./failures.js";
import { t } from "./i18n.js";
import { toolNotice } from "./tools.js";

const FIRST_PAUSE_MS = 500;
const MAX_PAUSE_MS = 5000;
const GIVE_UP_MS = 120_000;
const GATEWAY = new Set([502, 503, 504]);
const DELTAS = new Set(["text.delta", "reasoning.delta"]);

export function errorInfo(error) {
  if (error instanceof api.ApiError) {
    if (error.code === "network_error") return { code: error.code, message: t("networkError") };
    return { code: error.code, message: error.message, logid: error.logid, retryAfter: error.retryAfter };
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
  if (turn.open) return turn.open({ signal, onOpen, idempotencyKey: turn.key }); // an edit, a regenerate
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
  else if (event === "tool_calls.required") view.notice(toolNotice(data.tool_calls));
  else if (event === "turn.completed") {
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
      if (data.code !== "cancelled") view.notice(failureSentence(data)); // e.g. a server shutdown
    } else view.fail(data);
  }
}

/**
 * A resumed stream that ended without a word: the turn may have ended where its events are gone (the
 * server crashed and resolved it on restart). The stored answer says how it ended: play that. False
 * while it still runs (or the store cannot say), so the page reconnects as before.
 */
async function playStoredEnd(turn) {
  let stored;
  try {
    const { items } = await api.listMessages(turn.conversationId);
    stored = items.find((message) => message.id === turn.messageId);
  } catch {
    return false;
  }
  if (!stored || stored.status === "streaming" || turn.controller.signal.aborted) return false;
  const frames = [{ event: "message.completed", data: stored }];
  if (stored.follow_ups?.length) frames.push({ event: "follow_ups", data: { suggestions: stored.follow_ups } });
  if (stored.status === "completed" || stored.status === "requires_action") {
    if (stored.tool_calls?.length) frames.push({ event: "tool_calls.required", data: stored });
    frames.push({ event: "turn.completed", data: { status: stored.status, usage: stored.usage } });
  } else {
    const code = stored.status === "interrupted" ? "cancelled" : "failed";
    const error = { code, ...stored.error, message_id: stored.id, turn_status: stored.status };
    frames.push({ event: "error", data: error });
  }
  for (const frame of frames) apply(turn, { ...frame, id: "" });
  return true;
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
      let heard = false;
      for await (const frame of connect(turn)) {
        heard = true;
        wait = FIRST_PAUSE_MS;
        lostSince = null;
        apply(turn, frame, onStarted);
        if (turn.ended) return "ended";
      }
      if (!heard && turn.messageId && (await playStoredEnd(turn))) return "ended";
    } catch (error) {
      if (controller.signal.aborted) return "aborted";
      if (error?.code === "turn_in_progress" && !turn.messageId) return "busy";
      if (!transient(error)) {
        view.fail({ ...errorInfo(error), message_id: turn.messageId });
        return "failed";
      }
    }
    if (controller.signal.aborted) return "aborted";
    // The stream ended early or the network failed: the turn goes on, so reconnect.
    lostSince ??= Date.now();
    if (Date.now() - lostSince > GIVE_UP_MS) {
      view.fail({ code: "network_error", message: t("networkError"), message_id: turn.messageId });
      return "failed";
    }
    view.setReconnecting(true);
    await pause(wait, controller.signal);
    wait = Math.min(wait * 2, MAX_PAUSE_MS);
  }
}
