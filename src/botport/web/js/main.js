// Boot the page: config, bots, routing (/ and /c/{id}), header, empty state and the other views.

import { embedded } from "./frame.js"; // first: the widget's frame on another site is set up before the rest
import { askPasscode, showClosed } from "./access.js";
import * as api from "./api.js";
import { attach, detachTurns, retry, send, setNavigator } from "./chat.js";
import { focusComposer, initComposer } from "./composer.js";
import { confirmNewChat } from "./dialogs.js";
import { startEmbedded } from "./embedded.js";
import { h, icon } from "./dom.js";
import { failureReason } from "./failures.js";
import { lang, t, toggleLanguage, translatePage } from "./i18n.js";
import { clearThread, hasMessages, renderHistory } from "./messages.js";
import { closeSidebarOnPhone, initSidebar, loadConversations, titleOf } from "./sidebar.js";
import { botBySlug, emit, on, state, upsertConversation } from "./store.js";
import { setupFollow } from "./scroll.js";
import { initShortcuts } from "./shortcuts.js";
import { initTabs } from "./tabs.js";
import { initTheme, toggleTheme } from "./theme.js";

const el = (id) => document.getElementById(id);
const BOT_KEY = "botport.bot";
const finePointer = window.matchMedia("(pointer: fine)");
let loadToken = 0; // a later navigation wins over a slower earlier one

function conversationIdFromPath(path = location.pathname) {
  if (embedded) return embedded.conversation ?? null; // the widget's frame stays at /embed/{slug}
  const match = /^\/c\/([^/]+)\/?$/.exec(path);
  return match ? decodeURIComponent(match[1]) : null;
}

function setPath(path, push) {
  if (embedded || location.pathname === path) return;
  if (push) history.pushState(null, "", path);
  else history.replaceState(null, "", path);
}

function renderChrome() {
  const bot = botBySlug(state.current ? state.current.bot : state.selectedBot);
  const title = state.current ? titleOf(state.current) : bot?.name || "botport";
  el("conversation-title").textContent = title;
  document.title = state.current ? `${title} · botport` : "botport";
  el("bot-select").value = bot?.slug ?? "";
  el("empty-name").textContent = bot?.name || "botport";
  el("empty-description").textContent = bot?.description || "";
  el("empty-greeting").textContent = bot?.greeting || "";
  el("empty-greeting").hidden = !bot?.greeting;
  el("empty-state").hidden = hasMessages();
  el("lang-label").textContent = lang() === "zh" ? "English" : "中文";
}

function showNotFound() {
  clearThread();
  el("messages").append(h("li", { class: "message notice-row" }, h("p", { class: "notice" }, t("notFound"))));
}

/**
 * Loading conversation `id` failed: a 404 says it is not there; anything else (the server is down) says
 * why, with a way to try again, instead of claiming that it does not exist.
 */
function showLoadFailed(error, id) {
  if (error?.status === 404) {
    showNotFound();
    return;
  }
  clearThread();
  const why = h("p", { class: "notice", role: "alert" }, t("loadFailed", { reason: failureReason(error) }));
  const again = h("button", { type: "button", class: "retry-button" }, icon("retry"), t("tryAgain"));
  again.addEventListener("click", () => navigate(id, { push: false }));
  el("messages").append(h("li", { class: "message notice-row load-failed" }, why, again));
}

/** The answer still running in a conversation: the server says so, or its last message is streaming. */
function runningAnswer(conversation, messages) {
  if (conversation.running_turn) return conversation.running_turn.message_id;
  const last = messages[messages.length - 1];
  return last && last.role === "assistant" && last.status === "streaming" ? last.id : null;
}

/** Show a conversation's history; an answer still running is replayed into an empty view and followed. */
function showConversation(conversation, messages) {
  if (state.conversations.some((c) => c.id === conversation.id)) upsertConversation(conversation);
  else state.current = conversation;
  const liveId = runningAnswer(conversation, messages);
  const view = renderHistory(messages, { onRetry: retry, onSuggestion: send }, liveId);
  if (liveId) attach(conversation, liveId, view);
}

/** Open a conversation (or a new chat when `conversation` is null). */
async function open(conversation, { push = true, render = true } = {}) {
  const token = ++loadToken;
  // Stop reading answers the page no longer shows (they go on on the server); coming back re-attaches.
  detachTurns(render ? null : (conversation?.id ?? null));
  state.current = conversation;
  setPath(conversation ? `/c/${encodeURIComponent(conversation.id)}` : "/", push);
  if (conversation) state.selectedBot = conversation.bot;
  emit("opening"); // the composer swaps to this place's draft
  if (render) {
    clearThread();
    if (conversation) {
      try {
        const [fresh, { items }] = await Promise.all([
          api.getConversation(conversation.id),
          api.listMessages(conversation.id),
        ]);
        if (token !== loadToken) return;
        showConversation(fresh, items);
      } catch (error) {
        if (token === loadToken) showLoadFailed(error, conversation.id);
      }
    }
  }
  emit("opened");
  renderChrome();
}

/** Navigate by id (sidebar links, back/forward); null opens a new chat. */
async function navigate(id, { push = true, focus = true } = {}) {
  closeSidebarOnPhone();
  if (!id) {
    await open(null, { push });
    // Ready to type; not on touch screens, where focus would pop up the keyboard.
    if (focus && finePointer.matches) focusComposer();
    return;
  }
  let conversation = state.conversations.find((c) => c.id === id);
  if (!conversation) {
    const token = ++loadToken;
    try {
      conversation = await api.getConversation(id);
    } catch (error) {
      if (token !== loadToken) return;
      state.current = null;
      emit("opened");
      renderChrome();
      showLoadFailed(error, id);
      el("empty-state").hidden = true;
      return;
    }
  }
  await open(conversation, { push });
}

function initBots() {
  const select = el("bot-select");
  select.replaceChildren(...state.bots.map((bot) => h("option", { value: bot.slug }, bot.name || bot.slug)));
  el("bot-picker").hidden = state.bots.length < 2;
  const saved = localStorage.getItem(BOT_KEY);
  state.selectedBot = botBySlug(saved)?.slug ?? state.bots[0]?.slug ?? null;
  select.addEventListener("change", async () => {
    const slug = select.value;
    const leaving = state.current && state.current.bot !== slug ? state.current : null;
    // A conversation keeps its bot: another bot means a new conversation, which the person confirms.
    if (leaving && !(await confirmNewChat(botBySlug(slug)?.name || slug))) {
      if (state.current?.id === leaving.id) select.value = leaving.bot;
      return;
    }
    state.selectedBot = slug;
    localStorage.setItem(BOT_KEY, slug);
    if (leaving && state.current?.id === leaving.id) navigate(null);
    else renderChrome();
  });
}

async function boot() {
  initTheme();
  translatePage();
  initSidebar((id) => navigate(id));
  initComposer();
  setupFollow();
  initShortcuts(() => navigate(null));
  setNavigator((conversation, options) => open(conversation, options));

  el("new-chat").addEventListener("click", () => navigate(null));
  el("brand-link").addEventListener("click", (event) => {
    event.preventDefault();
    navigate(null);
  });
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault(); // a #fragment would add a history entry
    focusComposer();
  });
  el("lang-toggle").addEventListener("click", toggleLanguage);
  el("theme-toggle").addEventListener("click", toggleTheme);
  document.addEventListener("botport:language", renderChrome);
  on("conversations", renderChrome);
  on("turn", () => {
    el("empty-state").hidden = hasMessages();
  });
  // Whatever adds a message (a failure with the server down, too), the greeting makes room for it.
  new MutationObserver(() => {
    if (hasMessages()) el("empty-state").hidden = true;
  }).observe(el("messages"), { childList: true });
  document.addEventListener("botport:retry", (event) => retry(event.detail));
  initTabs({
    reopen: () => state.current && open(state.current, { push: false }),
    leave: () => navigate(null, { push: false, focus: false }),
  });
  window.addEventListener("popstate", () => navigate(conversationIdFromPath(), { push: false }));
  if (embedded && !(await startEmbedded(() => navigate(null)))) return; // refused: it says why

  try {
    state.config = await api.getConfig();
  } catch {
    state.config = { demo_mode: false, bots: [], limits: {} };
  }
  state.bots = state.config.bots || [];
  el("demo-banner").hidden = !state.config.demo_mode;
  initBots();
  emit("config");
  renderChrome();
  document.addEventListener("botport:passcode", askPasscode);
  if (state.config.access === "keys" || (state.config.access === "passcode" && !state.config.admitted)) {
    if (state.config.access === "keys") showClosed();
    else askPasscode();
    document.documentElement.dataset.ready = "true";
    return;
  }
  await Promise.all([
    loadConversations().catch(() => {}),
    navigate(conversationIdFromPath(), { push: false, focus: false }),
  ]);
  document.documentElement.dataset.ready = "true";
}

boot();
