// Who may use this chat (BOTPORT_WEB_ACCESS): the passcode dialog, or the notice that it is closed.

import * as api from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

const el = (id) => document.getElementById(id);

/** Ask for the passcode until the server takes it, then load the page again as a let-in browser. */
export function askPasscode() {
  const dialog = el("passcode-dialog");
  if (dialog.open) return;
  const input = el("passcode-input");
  const error = el("passcode-error");
  dialog.addEventListener("cancel", (event) => event.preventDefault()); // Escape: there is no way around it
  el("passcode-form").onsubmit = async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      await api.givePasscode(input.value);
      location.reload();
    } catch (failure) {
      error.textContent = failure.code === "wrong_passcode" ? t("passcodeWrong") : failure.message;
      error.hidden = false;
      input.select();
    }
  };
  dialog.showModal();
  input.focus();
}

/** Only programs with an API key may chat here: say so where the messages would be, with no composer. */
export function showClosed() {
  const notice = h("li", { class: "message notice-row" }, h("p", { class: "notice" }, t("chatClosed")));
  el("messages").replaceChildren(notice);
  el("composer").hidden = true;
  el("empty-state").hidden = true;
}
