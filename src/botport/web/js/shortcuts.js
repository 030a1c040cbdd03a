// Keyboard shortcuts, listed in a dialog opened with "?" (outside a text field) or the topbar button:
// Ctrl/Cmd+Shift+O new chat, "/" the message box, Ctrl/Cmd+K the search box, Escape stops the answer.

import { stop, turnHere } from "./chat.js";
import { focusComposer } from "./composer.js";
import { focusSearch } from "./search.js";

const el = (id) => document.getElementById(id);

/** Typing in a field (or a select): single-key shortcuts stay out of the way. */
function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
}

export function openShortcuts() {
  const dialog = el("shortcuts-dialog");
  if (!dialog.open) dialog.showModal();
}

/** `newChat` opens a new chat (main.js navigates). */
export function initShortcuts(newChat) {
  el("shortcuts-button").addEventListener("click", openShortcuts);
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing) return;
    const modal = document.querySelector("dialog[open]");
    const drawer = el("app").classList.contains("sidebar-open");
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.shiftKey && !event.altKey && event.key.toLowerCase() === "o") {
      if (modal) return;
      event.preventDefault();
      newChat();
    } else if (mod && !event.shiftKey && !event.altKey && event.key.toLowerCase() === "k") {
      if (modal) return;
      event.preventDefault(); // also in a text field, and before the browser's own Ctrl+K
      focusSearch();
    } else if (event.key === "Escape" && !modal && !drawer && turnHere() && !turnHere().stopped) {
      event.preventDefault();
      stop();
    } else if (mod || event.altKey || modal || typing(event.target)) {
      return;
    } else if (event.key === "?") {
      event.preventDefault();
      openShortcuts();
    } else if (event.key === "/") {
      event.preventDefault();
      focusComposer();
    }
  });
}
