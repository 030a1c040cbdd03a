// Is this page the chat widget's iframe on another site (/embed/{slug}, docs/embed.md)? main.js imports
// this module first, so that what it sets up is there before any other module runs:
// - where the browser denies storage to a third-party frame (Chromium does when third-party cookies are
//   blocked), a memory store stands in for localStorage, so that the page's preferences code runs as is;
// - the language the host page asked for, the compact layout (embed.css) and the accent colour.

const SLUG = /^\/embed\/([a-z0-9][a-z0-9_-]{0,63})\/?$/;
const ORIGIN = /^https?:\/\/[^/?#\s]+$/;

function optionsOf(slug) {
  const query = new URLSearchParams(location.search);
  const text = (name, max) => (query.get(name) || "").trim().slice(0, max);
  const accent = text("accent", 100);
  const lang = query.get("lang");
  return {
    slug,
    parent: ORIGIN.test(query.get("parent") || "") ? query.get("parent") : "",
    title: text("title", 100),
    greeting: text("greeting", 500),
    accent: accent && CSS.supports("color", accent) ? accent : "",
    lang: lang === "zh" || lang === "en" ? lang : null,
  };
}

const match = SLUG.exec(location.pathname);

/** The widget's options (slug, parent origin, title, greeting, accent, lang), or null on botport's own page. */
export const embedded = match ? optionsOf(match[1]) : null;

function memoryStorage() {
  const items = new Map();
  return {
    get length() {
      return items.size;
    },
    key: (index) => [...items.keys()][index] ?? null,
    getItem: (name) => (items.has(String(name)) ? items.get(String(name)) : null),
    setItem: (name, value) => void items.set(String(name), String(value)),
    removeItem: (name) => void items.delete(String(name)),
    clear: () => items.clear(),
  };
}

/** Whether this frame may keep anything for the next visit (else a memory store stands in). */
export let lasting = true;

/** Black or white, whichever reads better on `colour` (any CSS colour). */
function textOn(colour) {
  const probe = document.createElement("span");
  probe.style.color = colour;
  document.documentElement.append(probe);
  const [r, g, b] = (getComputedStyle(probe).color.match(/[\d.]+/g) || [0, 0, 0]).map(Number);
  probe.remove();
  const linear = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  return luminance > 0.179 ? "#111218" : "#ffffff";
}

if (embedded) {
  try {
    window.localStorage.getItem("botport.lang");
  } catch {
    lasting = false;
    Object.defineProperty(window, "localStorage", { value: memoryStorage(), configurable: true });
  }
  if (embedded.lang) localStorage.setItem("botport.lang", embedded.lang); // i18n.js reads it
  const root = document.documentElement;
  root.classList.add("embedded");
  document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href: "/static/embed.css" }));
  if (embedded.accent) {
    root.style.setProperty("--accent", embedded.accent);
    root.style.setProperty("--accent-hover", embedded.accent);
    root.style.setProperty("--on-accent", textOn(embedded.accent));
  }
}
