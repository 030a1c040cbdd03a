// The chat page as the widget's iframe on another site (docs/embed.md). Its identity is a token from
// POST /embed/{slug}/session, sent as a header on every API call (api.js): a third-party frame gets no
// cookie of botport's. The host page's script (embed.js) and this frame talk by postMessage, each only
// to the other's origin: this frame to `parent`, which the server let frame it (CSP frame-ancestors).
//
// From the host: init {user}, open, send {text}, identify {user}.
// To the host:   hello, ready, close, message {text}, error {code, message}.

import * as api from "./api.js";
import { send, turnHere } from "./chat.js";
import { focusComposer } from "./composer.js";
import { h, icon } from "./dom.js";
import { embedded, lasting } from "./frame.js";
import { lang } from "./i18n.js";
import { on, state } from "./store.js";

const INIT_WAIT_MS = 3000; // the host script answers "hello" at once; without it (opened alone), go on
const TOKEN_KEY = "botport.embed.token";
const WORDS = {
  en: { newChat: "New conversation", close: "Close the chat", refused: "This chat is not available: {message}" },
  zh: { newChat: "新对话", close: "关闭聊天", refused: "无法使用此聊天：{message}" },
};
const el = (id) => document.getElementById(id);
const word = (key) => (WORDS[lang()] || WORDS.en)[key];

let user = null; // {userId, userHash} the host page gave, kept in memory only
let initReceived = null; // resolves when the host's "init" came

/** The frame's parent is the origin it was given, and the browser agrees (where it can say). */
function parentVerified() {
  if (!embedded.parent || window.parent === window) return false;
  const ancestors = location.ancestorOrigins;
  // "null": a browser that hides the ancestor (referrer policy); frame-ancestors already vouched for it.
  return !ancestors || ancestors.length === 0 || [embedded.parent, "null"].includes(ancestors[0]);
}

function post(message) {
  if (parentVerified()) window.parent.postMessage({ botport: 1, ...message }, embedded.parent);
}

function savedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

class SessionRefused extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

/** Get this visitor's token (a signed user's when the host gave one) and use it for every API call. */
async function openSession() {
  const body = { site: embedded.parent };
  if (user) Object.assign(body, { user_id: String(user.userId), user_hash: String(user.userHash) });
  else if (savedToken()) body.token = savedToken();
  const response = await fetch(`/embed/${encodeURIComponent(embedded.slug)}/session`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin", // the partitioned cookie with last visit's anonymous token
    cache: "no-store",
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = answer.error || {};
    throw new SessionRefused(response.status, error.code || `http_${response.status}`, error.message);
  }
  if (answer.kind === "anonymous" && lasting) localStorage.setItem(TOKEN_KEY, answer.token);
  api.useEmbedSession(answer.token, openSession);
}

function handle(message) {
  if (message.type === "init") {
    user = message.user && message.user.userId && message.user.userHash ? message.user : null;
    initReceived?.();
  } else if (message.type === "open") {
    focusComposer();
  } else if (message.type === "send" && typeof message.text === "string") {
    if (!turnHere()) send(message.text);
    else post({ type: "error", code: "busy", message: "an answer is still being written" });
  } else if (message.type === "identify") {
    location.reload(); // the host's script gives the new identity in its answer to "hello"
  }
}

function listen() {
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || event.origin !== embedded.parent || !parentVerified()) return;
    if (event.data && event.data.botport === 1) handle(event.data);
  });
}

/** The compact header: the title, a new conversation, close. */
function compactHeader(newChat) {
  const title = h("h1", { class: "embed-title", id: "embed-title" }, embedded.title);
  const fresh = h("button", { type: "button", class: "icon-button", id: "embed-new", "aria-label": word("newChat") });
  fresh.title = word("newChat");
  fresh.append(icon("pencil"));
  fresh.addEventListener("click", () => newChat());
  const close = h("button", { type: "button", class: "icon-button", id: "embed-close", "aria-label": word("close") });
  close.title = word("close");
  close.append(h("span", { class: "embed-x", "aria-hidden": "true" }, "×"));
  close.addEventListener("click", () => post({ type: "close" }));
  document.querySelector(".topbar").append(title, fresh, close);
}

function showRefused(error) {
  const notice = h("p", { class: "notice", role: "alert" }, word("refused").replace("{message}", error.message));
  el("messages").replaceChildren(h("li", { class: "message notice-row embed-refused" }, notice));
  el("composer").hidden = true;
  el("empty-state").hidden = true;
  document.documentElement.dataset.ready = "true";
}

/** This bot's most recent conversation of this visitor: the one to show again. */
async function latestConversation() {
  try {
    const { items } = await api.listConversations(null, 50);
    return items.find((conversation) => conversation.bot === embedded.slug)?.id ?? null;
  } catch {
    return null;
  }
}

function relayAnswers() {
  document.addEventListener("botport:answered", ({ detail }) => {
    if (detail.status === "completed") post({ type: "message", text: detail.text });
    else if (detail.status === "failed") post({ type: "error", code: "answer_failed", message: detail.text });
  });
  document.addEventListener("keydown", (event) => {
    // Escape stops a running answer (shortcuts.js); otherwise it closes the panel.
    if (event.key !== "Escape" || event.defaultPrevented || document.querySelector("dialog[open]")) return;
    if (!turnHere()) post({ type: "close" });
  });
  new MutationObserver(() => {
    if (document.documentElement.dataset.ready === "true") post({ type: "ready" });
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-ready"] });
}

/**
 * Start the widget: wait for the host's "init", open the session, find where the visitor left off
 * (`embedded.conversation`, which main.js opens). `newChat` opens a new conversation (main.js).
 * False when refused (the frame says why).
 */
export async function startEmbedded(newChat) {
  listen();
  compactHeader(newChat);
  relayAnswers();
  on("config", () => {
    state.selectedBot = embedded.slug;
    const bot = state.bots.find((b) => b.slug === embedded.slug);
    if (bot && embedded.greeting) bot.greeting = embedded.greeting;
    if (bot && !embedded.title) el("embed-title").textContent = bot.name;
  });
  await new Promise((resolve) => {
    initReceived = resolve;
    post({ type: "hello" });
    setTimeout(resolve, parentVerified() ? INIT_WAIT_MS : 0);
  });
  try {
    await openSession();
  } catch (error) {
    const refused = error instanceof SessionRefused ? error : new SessionRefused(0, "network_error", error.message);
    showRefused(refused);
    post({ type: "error", code: refused.code, message: refused.message });
    return false;
  }
  embedded.conversation = await latestConversation();
  return true;
}
