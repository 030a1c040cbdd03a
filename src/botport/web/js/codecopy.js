// Code blocks in answers: reachable by keyboard (they scroll sideways) and each with a Copy button.
// The button is part of the prepared html, so a block stays equal from one rendering to the next
// (patch.js keeps equal blocks); one listener on the document serves every button.

import { copyText, h, icon } from "./dom.js";
import { t } from "./i18n.js";

/** Adjust rendered answer html (a fragment or an element) before it is shown. */
export function prepareCode(root) {
  for (const pre of root.querySelectorAll("pre")) {
    pre.tabIndex = 0; // WCAG 2.1.1: a region that scrolls must be reachable (scrollable-region-focusable)
    if (pre.parentElement?.classList.contains("code-block")) continue;
    const button = h(
      "button",
      { type: "button", class: "icon-button small code-copy", "aria-label": t("copyCode"), title: t("copyCode") },
      icon("copy"),
    );
    const block = h("div", { class: "code-block" });
    pre.replaceWith(block);
    block.append(button, pre);
  }
}

/** Show that a copy worked: a check mark for a moment. */
export function flashCopied(button, label) {
  button.replaceChildren(icon("check"));
  button.title = t("copied");
  setTimeout(() => {
    button.replaceChildren(icon("copy"));
    button.title = label;
  }, 1500);
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest?.(".code-copy");
  if (!button) return;
  const code = button.parentElement.querySelector("pre");
  if (code && (await copyText(code.textContent))) flashCopied(button, t("copyCode"));
});
