// The rename, delete and new-chat dialogs (<dialog>: focus trap, Escape and backdrop come for free).

import { t } from "./i18n.js";

// Cancel buttons are type="button" so that Enter in the input submits "ok", not the first button.
for (const button of document.querySelectorAll("dialog button[value='cancel']")) {
  button.addEventListener("click", () => button.closest("dialog").close("cancel"));
}

function result(dialog) {
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
  });
}

/** Ask for a new title; resolves to the trimmed title, or null when cancelled. */
export async function askTitle(currentTitle) {
  const dialog = document.getElementById("rename-dialog");
  const input = document.getElementById("rename-input");
  input.value = currentTitle;
  dialog.returnValue = "cancel";
  const answer = result(dialog);
  dialog.showModal();
  input.select();
  const value = await answer;
  const title = input.value.trim();
  return value === "ok" && title ? title : null;
}

/** Ask before deleting; resolves true when confirmed. */
export async function confirmDelete(title) {
  const dialog = document.getElementById("delete-dialog");
  document.getElementById("delete-text").textContent = t("deleteText", { title });
  dialog.returnValue = "cancel";
  const answer = result(dialog);
  dialog.showModal();
  return (await answer) === "ok";
}

/** Ask before leaving a conversation for a new one with another bot; resolves true when confirmed. */
export async function confirmNewChat(botName) {
  const dialog = document.getElementById("switch-bot-dialog");
  document.getElementById("switch-bot-title").textContent = t("switchBotTitle", { bot: botName });
  dialog.returnValue = "cancel";
  const answer = result(dialog);
  dialog.showModal();
  return (await answer) === "ok";
}
