// A small popup menu (the WAI-ARIA menu button pattern): the button opens it, focus goes to the first
// item, arrows, Home and End move, Enter or a click runs an item, Escape and Tab close it (Escape gives
// the focus back to the button), and so does a click elsewhere. One menu is open at a time.

import { h } from "./dom.js";

let openMenu = null; // {button, menu}

export function closeMenu({ focus = false } = {}) {
  if (!openMenu) return;
  const { button, menu } = openMenu;
  openMenu = null;
  menu.remove();
  button.setAttribute("aria-expanded", "false");
  button.closest(".conversation")?.classList.remove("menu-open");
  if (focus) button.focus();
}

/** A menu button: `items()` gives [{label, run, className?}] each time it opens. */
export function menuButton(props, items, ...children) {
  const closed = { type: "button", "aria-haspopup": "menu", "aria-expanded": "false" };
  const button = h("button", { ...closed, ...props }, ...children);
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    if (openMenu && openMenu.button === button) closeMenu({ focus: true });
    else show(button, items());
  });
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      show(button, items(), event.key === "ArrowUp" ? -1 : 0);
    }
  });
  return button;
}

function show(button, items, start = 0) {
  closeMenu();
  const entries = items.map(({ label, run, className }) =>
    h(
      "button",
      {
        type: "button",
        role: "menuitem",
        tabindex: "-1",
        class: `menu-item${className ? ` ${className}` : ""}`,
        onclick: () => {
          closeMenu({ focus: true });
          run();
        },
      },
      label,
    ),
  );
  const label = button.getAttribute("aria-label");
  const menu = h("div", { class: "menu", role: "menu", "aria-label": label }, entries);
  menu.addEventListener("keydown", (event) => move(event, entries));
  // In the row, after the button: it scrolls with the list and stays inside the sidebar.
  button.closest(".conversation")?.classList.add("menu-open");
  (button.closest(".conversation") ?? button.parentElement).append(menu);
  button.setAttribute("aria-expanded", "true");
  openMenu = { button, menu };
  entries.at(start)?.focus();
}

function move(event, entries) {
  const at = entries.indexOf(document.activeElement);
  const go = (index) => entries.at(index % entries.length)?.focus();
  if (event.key === "ArrowDown") go(at + 1);
  else if (event.key === "ArrowUp") go(at - 1);
  else if (event.key === "Home") go(0);
  else if (event.key === "End") go(-1);
  else if (event.key === "Escape") closeMenu({ focus: true });
  else if (event.key === "Tab") {
    closeMenu({ focus: true });
    return; // not prevented: Tab goes on from the button
  } else return;
  event.preventDefault();
  event.stopPropagation(); // Escape here closes the menu, not the drawer or the answer
}

document.addEventListener("click", (event) => {
  if (openMenu && !openMenu.menu.contains(event.target)) closeMenu();
});
