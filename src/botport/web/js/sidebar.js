// The conversation list: newest first in date groups (dates.js), pinned ones first (library.js), open,
// rename, delete, load more, search (search.js); off-canvas on phones.

import * as api from "./api.js";
import { groupedItems } from "./dates.js";
import { askTitle, confirmDelete } from "./dialogs.js";
import { h, icon, notify } from "./dom.js";
import { failureReason } from "./failures.js";
import { t } from "./i18n.js";
import { botLabel, initLibrary, loadPinned, rowMenu, withPinned } from "./library.js";
import { initSearch } from "./search.js";
import { emit, on, removeConversation, state, upsertConversation } from "./store.js";

const narrow = window.matchMedia("(max-width: 768px)");
const el = (id) => document.getElementById(id);

export function titleOf(conversation) {
  return conversation.title || t("untitled");
}

export async function loadConversations(more = false) {
  const [page, pinned] = await Promise.all([
    api.listConversations(more ? state.nextCursor : null),
    more ? [] : loadPinned(), // pinned ones show first, however old: the list pages as before
  ]);
  const known = more ? state.conversations : [];
  const ids = new Set(known.map((c) => c.id));
  state.conversations = withPinned([...known, ...page.items.filter((c) => !ids.has(c.id))], pinned);
  state.nextCursor = page.next_cursor || null;
  emit("conversations");
}

function item(conversation, navigate) {
  const title = titleOf(conversation);
  const current = state.current && state.current.id === conversation.id;
  const link = h(
    "a",
    { class: "conversation-link", href: `/c/${encodeURIComponent(conversation.id)}`, title },
    h("span", { class: "conversation-title" }, title),
    botLabel(conversation),
  );
  if (current) link.setAttribute("aria-current", "page");
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(conversation.id);
  });
  const action = (name, label, fn) => {
    const button = h("button", {
      type: "button",
      class: `icon-button small ${name}-button`,
      "aria-label": `${label}: ${title}`,
      title: label,
      onclick: fn,
    });
    button.append(icon(name === "rename" ? "pencil" : "trash"));
    return button;
  };
  return h(
    "li",
    { class: current ? "conversation current" : "conversation", dataset: { id: conversation.id } },
    link,
    h(
      "div",
      { class: "conversation-actions" },
      action("rename", t("rename"), () => rename(conversation)),
      action("delete", t("delete"), () => remove(conversation, navigate)),
      rowMenu(conversation, title),
    ),
  );
}

async function rename(conversation) {
  const title = await askTitle(conversation.title || "");
  if (!title || title === conversation.title) return;
  try {
    upsertConversation(await api.renameConversation(conversation.id, title));
  } catch (error) {
    notify(t("renameFailed", { message: failureReason(error) }));
  }
}

async function remove(conversation, navigate) {
  if (!(await confirmDelete(titleOf(conversation)))) return;
  try {
    await api.deleteConversation(conversation.id);
  } catch (error) {
    if (error.status !== 404) {
      notify(t("deleteFailed", { message: failureReason(error) }));
      return;
    }
    // Already gone (deleted in another tab): drop it here too.
  }
  removeConversation(conversation.id);
  if (state.current && state.current.id === conversation.id) navigate(null);
}

export function setSidebarOpen(open) {
  const app = el("app");
  if (narrow.matches) {
    app.classList.toggle("sidebar-open", open);
    el("scrim").hidden = !open;
  } else {
    app.classList.toggle("sidebar-collapsed", !open);
  }
  el("sidebar-toggle").setAttribute("aria-expanded", String(open));
  // The phone drawer is modal: the page behind it is inert, Tab cycles inside it (see trapFocus).
  setBehindInert(open && narrow.matches);
  if (open && narrow.matches) el("new-chat").focus();
}

function setBehindInert(inert) {
  el("main").inert = inert;
  document.querySelector(".skip-link").inert = inert;
}

/** Tab and Shift+Tab wrap around inside the open phone drawer. */
function trapFocus(event) {
  const candidates = el("sidebar").querySelectorAll("a[href], button:not([disabled]), select, input");
  const focusable = [...candidates].filter((node) => node.getClientRects().length > 0);
  if (focusable.length === 0) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  const inside = el("sidebar").contains(document.activeElement);
  if (event.shiftKey && (document.activeElement === first || !inside)) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
    event.preventDefault();
    first.focus();
  }
}

function sidebarIsOpen() {
  const app = el("app");
  return narrow.matches ? app.classList.contains("sidebar-open") : !app.classList.contains("sidebar-collapsed");
}

/** Phones: close the drawer after choosing something in it. */
export function closeSidebarOnPhone() {
  if (narrow.matches && sidebarIsOpen()) setSidebarOpen(false);
}

/** Where the focus is in the list: a conversation's id and which of its controls (or null). */
function focusInList(list) {
  const active = document.activeElement;
  const row = list.contains(active) ? active.closest("li[data-id]") : null;
  return row ? { id: row.dataset.id, index: [...row.querySelectorAll("a, button")].indexOf(active) } : null;
}

/** Focus the same control of the same conversation in the list drawn again. */
function keepFocus(list, spot) {
  if (!spot || spot.index < 0) return;
  const row = list.querySelector(`li[data-id="${CSS.escape(spot.id)}"]`);
  row?.querySelectorAll("a, button")[spot.index]?.focus({ preventScroll: true });
}

export function initSidebar(navigate) {
  const render = () => {
    const list = el("conversation-list");
    // Drawn again (a title came, another tab changed something): a keyboard user's focus stays put.
    const spot = focusInList(list);
    list.replaceChildren(...groupedItems(state.conversations, (c) => item(c, navigate)));
    keepFocus(list, spot);
    el("conversations-empty").hidden = state.conversations.length > 0;
    el("load-more").hidden = !state.nextCursor;
  };
  on("conversations", render);
  on("opened", render);
  document.addEventListener("botport:language", render);
  el("load-more").addEventListener("click", () => loadConversations(true));
  initSearch(navigate);
  initLibrary(navigate);
  el("sidebar-toggle").addEventListener("click", () => setSidebarOpen(!sidebarIsOpen()));
  el("sidebar-close").addEventListener("click", () => {
    setSidebarOpen(false);
    el("sidebar-toggle").focus();
  });
  el("scrim").addEventListener("click", () => setSidebarOpen(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && narrow.matches && sidebarIsOpen() && !document.querySelector("dialog[open]")) {
      setSidebarOpen(false);
      el("sidebar-toggle").focus();
    }
    if (event.key === "Tab" && narrow.matches && sidebarIsOpen() && !document.querySelector("dialog[open]")) {
      trapFocus(event);
    }
  });
  narrow.addEventListener("change", () => {
    el("app").classList.remove("sidebar-open", "sidebar-collapsed");
    setBehindInert(false);
    el("scrim").hidden = true;
    el("sidebar-toggle").setAttribute("aria-expanded", String(!narrow.matches));
  });
  el("sidebar-toggle").setAttribute("aria-expanded", String(!narrow.matches));
}
