// Versions of a message: an edited question or a regenerated answer leaves the earlier one as another
// branch, read with ‹ 2/3 ›. Also the inline editor of a question. What the buttons do is chat.js's,
// given through setThreadActions (this module only draws).

import { h, icon } from "./dom.js";
import { t } from "./i18n.js";

const actions = { edit: null, regenerate: null, showVersion: null };

/** `edit(messageId, text)`, `regenerate(messageId)`, `showVersion(messageId)`: chat.js sets them. */
export function setThreadActions(fns) {
  Object.assign(actions, fns);
}

export function threadActions() {
  return actions;
}

/** ‹ i/n › for a message with several versions (`message.versions`); null when it has one. */
export function versionNav(message) {
  const versions = message.versions || [];
  const index = versions.indexOf(message.id);
  if (versions.length < 2 || index < 0) return null;
  const step = (delta, name, label) =>
    h(
      "button",
      {
        type: "button",
        class: `icon-button small version-${name}`,
        "aria-label": label,
        title: label,
        disabled: index + delta < 0 || index + delta >= versions.length,
        onclick: () => actions.showVersion?.(versions[index + delta]),
      },
      icon(name),
    );
  const where = t("versionOf", { index: index + 1, count: versions.length });
  return h(
    "div",
    { class: "versions", role: "group", "aria-label": where },
    step(-1, "prev", t("previousVersion")),
    h("span", { class: "version-label", "aria-hidden": "true" }, `${index + 1}/${versions.length}`),
    step(1, "next", t("nextVersion")),
  );
}

/**
 * Edit a question in place: its bubble becomes a text box with Send and Cancel (Enter sends, Shift+Enter
 * starts a new line, Escape cancels). Sending asks the new version; the old one stays as a branch. A
 * question with files (`keepsAttachments`) says that they stay, and may be sent without text.
 */
export function openEditor(item, content, { onCancel, keepsAttachments = false } = {}) {
  if (item.querySelector(".edit-form")) return;
  const shown = Array.from(item.children).filter((child) => !child.classList.contains("visually-hidden"));
  const box = h("textarea", { class: "edit-box", rows: 3, "aria-label": t("editMessage") });
  box.value = content;
  const close = () => {
    form.remove();
    for (const child of shown) child.hidden = false;
    onCancel?.();
  };
  const cancel = h("button", { type: "button", class: "button-secondary", onclick: close }, t("cancel"));
  const save = h("button", { type: "submit", class: "button-primary" }, t("sendEdit"));
  const note = keepsAttachments ? h("p", { class: "edit-note" }, t("editKeepsAttachments")) : null;
  const form = h("form", { class: "edit-form" }, box, note, h("div", { class: "edit-actions" }, cancel, save));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = box.value.trim();
    if ((!text && !keepsAttachments) || !item.dataset.id) return;
    actions.edit?.(item.dataset.id, text);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  for (const child of shown) child.hidden = true;
  item.append(form);
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}
