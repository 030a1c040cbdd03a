// Keeping conversations: pin one to the top, export it (Markdown to read, JSON to import again), import
// an exported JSON file as a new conversation, and name each row's bot when the server has several.

import * as api from "./api.js";
import { announce, h, icon, notify } from "./dom.js";
import { failureReason } from "./failures.js";
import { t } from "./i18n.js";
import { menuButton } from "./menu.js";
import { botBySlug, state, upsertConversation } from "./store.js";

const el = (id) => document.getElementById(id);

/** Tell the other tabs (tabs.js listens to what this page changed on the server). */
function changed(kind, conversation) {
  document.dispatchEvent(new CustomEvent("botport:changed", { detail: { kind, conversation } }));
}

/** The row's bot name, only when there is a choice of bots. */
export function botLabel(conversation) {
  if (state.bots.length < 2) return null;
  const bot = botBySlug(conversation.bot);
  const name = bot && bot.slug === conversation.bot ? bot.name || bot.slug : conversation.bot;
  return h("span", { class: "conversation-bot" }, name);
}

/** The row's "more" menu: pin or unpin, export as Markdown or JSON. */
export function rowMenu(conversation, title) {
  const label = `${t("moreActions")}: ${title}`;
  const pin = !conversation.pinned;
  const items = () => [
    { label: pin ? t("pin") : t("unpin"), run: () => setPinned(conversation, pin) },
    { label: t("exportMarkdown"), run: () => download(conversation, "md") },
    { label: t("exportJson"), run: () => download(conversation, "json") },
  ];
  const props = { class: "icon-button small more-button", "aria-label": label, title: t("moreActions") };
  return menuButton(props, items, icon("more"));
}

async function setPinned(conversation, pinned) {
  try {
    const updated = await api.pinConversation(conversation.id, pinned);
    upsertConversation(updated);
    changed("pinned", updated);
    // The list was drawn again: keep the keyboard where the row went (now in or out of Pinned).
    if (document.activeElement === document.body) {
      document.querySelector(`.conversation[data-id="${CSS.escape(updated.id)}"] .more-button`)?.focus();
    }
    announce(t(pinned ? "pinnedDone" : "unpinnedDone"));
  } catch (error) {
    notify(t("pinFailed", { message: failureReason(error) }));
  }
}

/** Download the export: the server names the file (Content-Disposition), the cookie goes with the link. */
function download(conversation, format) {
  const link = h("a", { href: api.exportUrl(conversation.id, format), download: "", class: "offscreen" });
  document.body.append(link);
  link.click();
  link.remove();
}

/** The list with the pinned conversations it lacks (older than its first page), newest first. */
export function withPinned(conversations, pinned) {
  const ids = new Set(conversations.map((c) => c.id));
  const missing = pinned.filter((c) => !ids.has(c.id));
  if (missing.length === 0) return conversations;
  return [...conversations, ...missing].sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
}

/** The pinned conversations, to show first (they may be older than the first page of the list). */
export async function loadPinned() {
  try {
    return (await api.listPinned()).items;
  } catch {
    return [];
  }
}

async function importFile(file, navigate) {
  let body;
  try {
    body = JSON.parse(await file.text());
  } catch {
    notify(t("importFailed", { message: t("importNotJson") }));
    return;
  }
  try {
    const conversation = await api.importConversation(body);
    upsertConversation(conversation);
    changed("created", conversation);
    announce(t("importDone"));
    navigate(conversation.id);
  } catch (error) {
    notify(t("importFailed", { message: failureReason(error) }));
  }
}

/** The sidebar's Import button opens a file picker for a botport JSON export. */
export function initLibrary(navigate) {
  const input = el("import-file");
  el("import-button").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    const [file] = input.files;
    input.value = ""; // the same file can be picked again
    if (file) importFile(file, navigate);
  });
}
