// Tiny DOM helpers: build elements without innerHTML (only the server's sanitized html uses innerHTML).

/** h("button", {class: "x", type: "button", onclick: fn}, "text", child, ...) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

// Our own 24x24 stroke icons.
const ICONS = {
  copy: "M9 9h10v10H9zM5 15V5h10",
  check: "M5 12.5l4.5 4.5L19 7.5",
  retry: "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
  pencil: "M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  alert: "M12 8v5M12 16.5v.5M10.3 3.9L2.5 17.5A2 2 0 0 0 4.2 20.5h15.6a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z",
  spark: "M12 3v4M12 17v4M3 12h4M17 12h4M6 6l2.5 2.5M15.5 15.5L18 18M6 18l2.5-2.5M15.5 8.5L18 6",
  stop: "M7 7h10v10H7z",
  prev: "M15 6l-6 6 6 6",
  next: "M9 6l6 6-6 6",
  like: "M3 11h4v9H3zM7 11l4-7c1.5 0 2.5 1 2.5 2.5V10h5a2 2 0 0 1 1.97 2.33l-1.17 6A2 2 0 0 1 17.33 20H7",
  unlike: "M21 13h-4V4h4zM17 13l-4 7c-1.5 0-2.5-1-2.5-2.5V14h-5a2 2 0 0 1-1.97-2.33l1.17-6A2 2 0 0 1 6.67 4H17",
};

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

const live = () => document.getElementById("live");

/** Tell screen readers something (the polite live region). */
export function announce(text) {
  const region = live();
  if (!region) return;
  region.textContent = "";
  // A fresh text node in a new task is announced even when the text repeats.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Copy text to the clipboard; falls back to a hidden textarea on plain-HTTP origins. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through
    }
  }
  const area = h("textarea", { class: "offscreen", readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

let toastTimer = null;

/** Say briefly that something failed, without blocking (role="alert": screen readers announce it). */
export function notify(message) {
  const toast = document.getElementById("toast");
  toast.textContent = message;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.hidden = true;
  }, 6000);
}
