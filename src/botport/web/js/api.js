// The botport HTTP API (docs/api.md): JSON calls and the message stream.

import { readEvents } from "./sse.js";

/** An error answer of the API: `{error: {code, message, logid?}}`, or a network failure. */
export class ApiError extends Error {
  constructor(status, { code = "error", message = "", logid = null, retryAfter = null } = {}) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.logid = logid;
    this.retryAfter = retryAfter; // seconds (Retry-After), when trying again later will work
  }
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: keep the status line
  }
  const detail = body && typeof body.error === "object" && body.error ? body.error : {};
  return new ApiError(response.status, {
    code: detail.code || `http_${response.status}`,
    message: detail.message || response.statusText,
    logid: detail.logid || null,
    retryAfter: Number(response.headers.get("Retry-After")) || null,
  });
}

let embedToken = null; // the chat widget's frame on another site: its identity (embedded.js)
let renewEmbedSession = null;

/** In the widget's frame: send `token` with every call; `renew` gets a new one when it expires. */
export function useEmbedSession(token, renew) {
  embedToken = token;
  renewEmbedSession = renew;
}

// In the widget's frame: an attachment's url -> Promise of its blob: URL, the most recently used last.
const privateUrls = new Map();
// Each blob: URL holds a file's bytes in memory until it is revoked: a visitor who goes through many
// conversations keeps only the newest this many (far more than one conversation's thread shows).
export const PRIVATE_URLS_KEPT = 64;

/**
 * The URL an <img> or a link may use for an attachment's bytes (served only to their owner): the url
 * itself, but in the widget's frame, whose identity is a header that neither can send, a blob: URL of
 * the bytes fetched with it (once, while it is among the PRIVATE_URLS_KEPT most recently used).
 */
export function attachmentUrl(url) {
  if (!embedToken) return Promise.resolve(url);
  let blobUrl = privateUrls.get(url);
  if (blobUrl) {
    privateUrls.delete(url); // used again: now the most recent
  } else {
    blobUrl = request("GET", url, { headers: { Accept: "*/*" } })
      .then((response) => response.blob())
      .then((blob) => URL.createObjectURL(blob));
    const fetched = blobUrl;
    fetched.catch(() => {
      if (privateUrls.get(url) === fetched) privateUrls.delete(url); // a later look tries again
    });
  }
  privateUrls.set(url, blobUrl);
  for (const [oldest, held] of privateUrls) {
    if (privateUrls.size <= PRIVATE_URLS_KEPT) break;
    privateUrls.delete(oldest);
    held.then((revoked) => URL.revokeObjectURL(revoked), () => {});
  }
  return blobUrl;
}

/** True when attachments are shown through attachmentUrl's blob: URLs (the widget's frame). */
export const privateAttachments = () => embedToken !== null;

async function request(method, path, { body, signal, headers = {}, again = true } = {}) {
  const init = {
    method,
    headers: { Accept: "application/json", ...(embedToken ? { "X-Botport-Embed": embedToken } : {}), ...headers },
    signal,
    credentials: "same-origin",
    cache: "no-store",
  };
  if (body instanceof FormData) {
    init.body = body; // multipart: the browser writes its Content-Type with the boundary
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { code: "network_error", message: error.message });
  }
  if (!response.ok) {
    const error = await errorOf(response);
    // Another site on this host planted a second identity cookie: the server did nothing and its
    // answer deleted the planted one, so the same request once more is safe and goes through.
    if (error.code === "identity_cookie_conflict" && again) {
      return request(method, path, { body, signal, headers, again: false });
    }
    if (error.code === "invalid_embed_token" && again && renewEmbedSession) {
      await renewEmbedSession(); // expired, or its site was removed (then this fails, and says why)
      return request(method, path, { body, signal, headers, again: false });
    }
    // The passcode changed, or this browser's pass is gone: the page asks for it again.
    if (error.code === "passcode_required") document.dispatchEvent(new CustomEvent("botport:passcode"));
    throw error;
  }
  return response;
}

async function json(method, path, body) {
  const response = await request(method, path, { body });
  return response.status === 204 ? null : response.json();
}

const conv = (id) => `/api/conversations/${encodeURIComponent(id)}`;

export const getConfig = () => json("GET", "/api/config");
export const givePasscode = (passcode) => json("POST", "/api/access", { passcode });
export const listConversations = (before = null, limit = 30) =>
  json("GET", `/api/conversations?limit=${limit}${before ? `&before=${encodeURIComponent(before)}` : ""}`);
export const getConversation = (id) => json("GET", conv(id));

/** Say that this page changed a conversation on the server (tabs.js tells the other tabs). */
function changed(kind, detail) {
  document.dispatchEvent(new CustomEvent("botport:changed", { detail: { kind, ...detail } }));
}

export async function createConversation(bot) {
  const conversation = await json("POST", "/api/conversations", bot ? { bot } : {});
  changed("created", { conversation });
  return conversation;
}

export async function renameConversation(id, title) {
  const conversation = await json("PATCH", conv(id), { title });
  changed("renamed", { conversation });
  return conversation;
}

export async function deleteConversation(id) {
  await json("DELETE", conv(id));
  changed("deleted", { id });
  return null;
}
// The reader's library (search.js, library.js): search, pins, export and import.
export const searchConversations = async (q, signal) =>
  (await request("GET", `/api/search?q=${encodeURIComponent(q)}&limit=30`, { signal })).json();
export const listPinned = () => json("GET", "/api/pinned");
export const pinConversation = (id, pinned) => json("PATCH", conv(id), { pinned });
export const importConversation = (file) => json("POST", "/api/import", file);
export const exportUrl = (id, format) => `${conv(id)}/export?format=${format}`;
export const listMessages = (id) => json("GET", `${conv(id)}/messages`);
export const cancelTurn = (id) => json("POST", `${conv(id)}/cancel`);
/** Upload a file to attach to a message: its Attachment record `{id, name, content_type, size, width, height, url}`. */
export async function uploadFile(file, signal) {
  const form = new FormData();
  form.append("file", file, file.name);
  return (await request("POST", "/api/files", { body: form, signal })).json();
}
/** Delete an upload no message carries (a file taken out of the tray before sending). */
export const deleteFile = (id) => json("DELETE", `/api/files/${encodeURIComponent(id)}`);
/** Rate an answer: "like", "unlike", or null to remove the rating. */
export const rateMessage = (id, messageId, rating) =>
  json("PUT", `${conv(id)}/messages/${encodeURIComponent(messageId)}/feedback`, { rating });

/** Yield a response's SSE events as `{event, data, id}` with `data` parsed; a failed read is a network error. */
async function* events(response) {
  try {
    for await (const { event, data, id } of readEvents(response.body)) {
      let parsed;
      try {
        parsed = JSON.parse(data);
      } catch {
        continue; // not ours to crash on: the server only writes JSON, a proxy may add noise
      }
      yield { event, data: parsed, id };
    }
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { code: "network_error", message: error.message });
  }
}

// X-Botport-Render: the stream also carries the answer rendered so far (text.rendered, docs/api.md).
const SSE = { Accept: "text/event-stream", "X-Botport-Render": "html" };

/**
 * Send a message and yield the turn's events; `onOpen` is called once the stream is accepted. The
 * same `idempotencyKey` on a retry re-attaches to the turn the first request started. Aborting
 * `signal` only stops reading: the turn goes on on the server.
 */
export async function* streamMessage(id, content, { signal, onOpen, idempotencyKey, attachments = [] }) {
  const headers = idempotencyKey ? { ...SSE, "Idempotency-Key": idempotencyKey } : SSE;
  const body = attachments.length ? { content, attachments, stream: true } : { content, stream: true };
  const response = await request("POST", `${conv(id)}/messages`, { body, signal, headers });
  onOpen?.();
  yield* events(response);
}

/** Send a new version of the question `messageId` (an edit); yields its turn's events like streamMessage. */
export async function* streamEdit(id, messageId, content, { signal, onOpen, idempotencyKey, attachments }) {
  const headers = idempotencyKey ? { ...SSE, "Idempotency-Key": idempotencyKey } : SSE;
  const path = `${conv(id)}/messages/${encodeURIComponent(messageId)}/edit`;
  // `attachments` omitted: the question's own stay with the new version; given: exactly these ids.
  const body = attachments ? { content, attachments, stream: true } : { content, stream: true };
  const response = await request("POST", path, { body, signal, headers });
  onOpen?.();
  yield* events(response);
}

/** Answer the answer `messageId`'s question again (a new version of it); yields its turn's events. */
export async function* streamRegenerate(id, messageId, { signal, onOpen, idempotencyKey }) {
  const headers = idempotencyKey ? { ...SSE, "Idempotency-Key": idempotencyKey } : SSE;
  const path = `${conv(id)}/messages/${encodeURIComponent(messageId)}/regenerate`;
  const response = await request("POST", path, { body: { stream: true }, signal, headers });
  onOpen?.();
  yield* events(response);
}

/** Read the conversation along another version of a message; the messages as they now read. */
export const switchBranch = (id, messageId) => json("PUT", `${conv(id)}/branch`, { message_id: messageId });

/** Follow a turn by its answer's id: its events after sequence number `after`, then live to its end. */
export async function* followTurn(messageId, after, { signal, onOpen }) {
  const path = `/api/messages/${encodeURIComponent(messageId)}/events?after=${after}`;
  const response = await request("GET", path, { signal, headers: SSE });
  onOpen?.();
  yield* events(response);
}
