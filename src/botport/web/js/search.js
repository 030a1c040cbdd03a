// Search the reader's conversations from the sidebar: while a query is typed (debounced), its results
// replace the list; Escape clears it, ArrowDown goes to the results, Ctrl/Cmd+K (shortcuts.js) comes here.

import * as api from "./api.js";
import { announce, h } from "./dom.js";
import { failureReason } from "./failures.js";
import { t } from "./i18n.js";
import { botLabel } from "./library.js";
import { on, state } from "./store.js";

const DEBOUNCE_MS = 200;
const el = (id) => document.getElementById(id);

let timer = null;
let pending = null; // the AbortController of the search in flight
let shown = null; // {query, items} on screen; null: the list is

function searching(on) {
  el("conversations").classList.toggle("searching", on);
  el("search-results").hidden = !on;
  el("search-status").hidden = !on;
}

/** The snippet's parts as text, the matched ones in <mark> (never HTML from the server). */
function snippetOf(parts) {
  return h("span", { class: "search-snippet" }, parts.map((p) => (p.match ? h("mark", {}, p.text) : p.text)));
}

function result(hit, navigate) {
  const title = hit.title || t("untitled");
  const current = state.current && state.current.id === hit.id;
  const link = h(
    "a",
    { class: "search-link", href: `/c/${encodeURIComponent(hit.id)}` },
    h("span", { class: "search-title" }, h("span", { class: "search-title-text" }, title), botLabel(hit)),
    hit.snippet.length ? snippetOf(hit.snippet) : null,
  );
  if (current) link.setAttribute("aria-current", "page");
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(hit.id);
  });
  return h("li", { class: "search-result", dataset: { id: hit.id } }, link);
}

function render(navigate) {
  if (!shown) return;
  el("search-results").setAttribute("aria-label", t("searchResults"));
  el("search-results").replaceChildren(...shown.items.map((hit) => result(hit, navigate)));
  const count = shown.items.length;
  el("search-status").textContent = count ? t("searchCount", { count }) : t("searchNone");
}

async function run(query, navigate) {
  pending?.abort();
  if (!query) {
    pending = null;
    shown = null;
    searching(false);
    return;
  }
  const controller = new AbortController();
  pending = controller;
  try {
    const { items } = await api.searchConversations(query, controller.signal);
    if (pending !== controller) return;
    shown = { query, items };
    searching(true);
    render(navigate);
    announce(el("search-status").textContent);
  } catch (error) {
    if (error.name === "AbortError" || pending !== controller) return;
    shown = { query, items: [] };
    searching(true);
    el("search-results").replaceChildren();
    el("search-status").textContent = t("searchFailed", { message: failureReason(error) });
  }
}

export function clearSearch() {
  const input = el("conversation-search");
  clearTimeout(timer);
  input.value = "";
  run("", null);
}

/** Focus the search box, opening the sidebar first if it is hidden. */
export function focusSearch() {
  const input = el("conversation-search");
  if (input.getClientRects().length === 0 || getComputedStyle(el("sidebar")).visibility === "hidden") {
    el("sidebar-toggle").click();
  }
  input.focus();
  input.select();
}

export function initSearch(navigate) {
  const input = el("conversation-search");
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const query = input.value.trim();
    timer = setTimeout(() => run(query, navigate), query ? DEBOUNCE_MS : 0);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && input.value) {
      event.preventDefault();
      event.stopPropagation(); // clears the search only: the drawer stays, the answer goes on
      clearSearch();
    } else if (event.key === "ArrowDown" && shown?.items.length) {
      event.preventDefault();
      el("search-results").querySelector("a")?.focus();
    }
  });
  // Escape from a result also clears the search, and comes back to the box.
  el("search-results").addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.preventDefault();
    event.stopPropagation();
    clearSearch();
    input.focus();
  });
  document.addEventListener("botport:language", () => render(navigate));
  on("opened", () => render(navigate)); // which result is open (aria-current)
}
