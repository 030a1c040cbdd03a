/*
 * botport's chat widget for other sites (docs/embed.md). One classic script, no dependencies:
 *
 *   <script src="https://bot.example.com/embed.js" data-bot="support" async></script>
 *
 * It asks botport whether this site may show the bot (GET /embed/{slug}/config, readable by allowed
 * sites only) and draws nothing when not; else a launcher button and a panel holding the chat page
 * (/embed/{slug}) in an iframe, in a shadow root, styled by a constructed style sheet (no inline
 * style for the host page's CSP to refuse, nothing leaking either way). The host page and the iframe
 * talk by postMessage, each only to the other's origin. The JS API is window.botport (docs/embed.md).
 */
(() => {
  "use strict";
  const script = document.currentScript;
  const warn = (text) => console.warn(`botport: ${text}`);
  if (!script || !script.src) return;
  if (window.botport && window.botport.widget) {
    warn("the chat widget is already on this page; this second script is ignored");
    return;
  }
  const ORIGIN = new URL(script.src).origin;
  const data = script.dataset;
  const slug = data.bot || "";
  const language = data.language || (navigator.language || "en").toLowerCase().slice(0, 2);
  const lang = language === "zh" ? "zh" : "en";
  const TEXT = {
    en: { open: "Open the chat", close: "Close the chat", chat: "Chat" },
    zh: { open: "打开聊天", close: "关闭聊天", chat: "聊天" },
  }[lang];
  let accent = data.colour || data.color || "";
  if (accent && !CSS.supports("color", accent)) {
    warn(`data-colour is not a CSS colour: ${JSON.stringify(accent)}`);
    accent = "";
  }
  const title = (data.title || "").trim().slice(0, 100);
  const greeting = (data.greeting || "").trim().slice(0, 500);
  const left = data.position === "left";
  let user = data.userId && data.userHash ? { userId: data.userId, userHash: data.userHash } : null;

  const listeners = new Map(); // event name -> Set of functions
  let isOpen = false;
  let wantOpen = data.openOnLoad === "true" || data.openOnLoad === "";
  let ready = false;
  let waiting = []; // messages for the iframe until it is ready
  let config = null;
  let parts = null; // {host, root, launcher, panel, iframe} once drawn

  function emit(name, detail) {
    for (const fn of listeners.get(name) || []) {
      try {
        fn(detail);
      } catch (error) {
        console.error(error);
      }
    }
  }

  function post(message) {
    if (!parts) return;
    if (!ready && message.type !== "init") waiting.push(message);
    else parts.iframe.contentWindow.postMessage({ botport: 1, ...message }, ORIGIN);
  }

  const CSS_TEXT = `
    :host { all: initial; }
    .launcher { position: fixed; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px;
      border: 0; border-radius: 50%; padding: 0; display: grid; place-items: center; cursor: pointer;
      background: var(--bp-accent, #4f46e5); color: var(--bp-on-accent, #fff);
      box-shadow: 0 4px 16px rgb(0 0 0 / 25%); transition: transform 0.15s ease; }
    .launcher:hover { transform: scale(1.06); }
    .launcher:focus-visible { outline: 3px solid var(--bp-accent, #4f46e5); outline-offset: 3px; }
    .launcher svg { width: 26px; height: 26px; fill: none; stroke: currentColor; stroke-width: 2;
      stroke-linecap: round; stroke-linejoin: round; }
    .panel { position: fixed; bottom: 88px; z-index: 2147483000; width: min(400px, calc(100vw - 32px));
      height: min(640px, calc(100vh - 112px)); border-radius: 16px; overflow: hidden; background: #fff;
      box-shadow: 0 12px 48px rgb(0 0 0 / 28%); opacity: 1; transform: none;
      transition: opacity 0.15s ease, transform 0.15s ease; }
    .panel[hidden] { display: none; }
    .panel.opening { opacity: 0; transform: translateY(12px); }
    .right { right: 20px; } .left { left: 20px; }
    iframe { display: block; width: 100%; height: 100%; border: 0; color-scheme: normal; }
    @media (max-width: 480px) {
      .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }
      .launcher[aria-expanded="true"] { display: none; } /* the frame's own close button is there */
    }
    @media (prefers-reduced-motion: reduce) {
      .launcher, .panel { transition: none; }
      .launcher:hover { transform: none; }
    }`;

  function svg(paths) {
    const ns = "http://www.w3.org/2000/svg";
    const icon = document.createElementNS(ns, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    for (const d of paths) {
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      icon.append(path);
    }
    return icon;
  }
  const CHAT_ICON = ["M4 5h16v11H9l-5 4z"];
  const CLOSE_ICON = ["M6 6l12 12M18 6L6 18"];

  /** Black or white text, whichever reads better on the accent colour. */
  function onAccent(root) {
    const probe = document.createElement("span");
    probe.style.color = accent;
    root.append(probe);
    const [r, g, b] = (getComputedStyle(probe).color.match(/[\d.]+/g) || [0, 0, 0]).map(Number);
    probe.remove();
    const linear = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b) > 0.179 ? "#111218" : "#ffffff";
  }

  function frameUrl() {
    const query = new URLSearchParams({ parent: location.origin, lang });
    if (title) query.set("title", title);
    if (greeting) query.set("greeting", greeting);
    if (accent) query.set("accent", accent);
    return `${ORIGIN}/embed/${encodeURIComponent(slug)}?${query}`;
  }

  function draw() {
    const host = document.createElement("div");
    host.setAttribute("data-botport-widget", "");
    const root = host.attachShadow({ mode: "open" });
    if ("adoptedStyleSheets" in root) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS_TEXT);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.append(Object.assign(document.createElement("style"), { textContent: CSS_TEXT }));
    }
    const side = left ? "left" : "right";
    const launcher = document.createElement("button");
    launcher.type = "button";
    launcher.className = `launcher ${side}`;
    launcher.setAttribute("aria-label", TEXT.open);
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "botport-panel");
    launcher.append(svg(CHAT_ICON));
    const panel = document.createElement("div");
    panel.className = `panel ${side}`;
    panel.id = "botport-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", title || config.name || TEXT.chat);
    const iframe = document.createElement("iframe");
    iframe.title = title || config.name || TEXT.chat;
    iframe.src = frameUrl();
    iframe.allow = "clipboard-write";
    panel.append(iframe);
    root.append(panel, launcher);
    (document.body || document.documentElement).append(host);
    if (accent) {
      host.style.setProperty("--bp-accent", accent);
      host.style.setProperty("--bp-on-accent", onAccent(root));
    }
    launcher.addEventListener("click", () => setOpen(!isOpen));
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && isOpen) {
        event.preventDefault();
        setOpen(false);
      }
    });
    parts = { host, root, launcher, panel, iframe };
    if (wantOpen) setOpen(true, { focus: false });
  }

  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  function setOpen(next, { focus = true } = {}) {
    wantOpen = next;
    if (!parts || next === isOpen) return;
    const { host, launcher, panel, iframe } = parts;
    isOpen = next;
    launcher.setAttribute("aria-expanded", String(next));
    launcher.setAttribute("aria-label", next ? TEXT.close : TEXT.open);
    launcher.replaceChildren(svg(next ? CLOSE_ICON : CHAT_ICON));
    if (next) {
      panel.hidden = false;
      if (!reducedMotion.matches) {
        panel.classList.add("opening");
        requestAnimationFrame(() => requestAnimationFrame(() => panel.classList.remove("opening")));
      }
      if (focus) iframe.focus();
      post({ type: "open" });
      emit("open");
    } else {
      const inside = document.activeElement === host;
      panel.hidden = true;
      if (inside) launcher.focus(); // back to where the visitor opened it from
      emit("close");
    }
  }

  function onMessage(event) {
    if (!parts || event.origin !== ORIGIN || event.source !== parts.iframe.contentWindow) return;
    const message = event.data;
    if (!message || message.botport !== 1) return;
    if (message.type === "hello") {
      ready = false; // the frame (re)loaded
      post({ type: "init", user });
    } else if (message.type === "ready") {
      ready = true;
      // Focused while its document still loaded (opened at once), the frame shows the focus but keys do
      // not reach it: focus it again, unless the visitor has moved on in the page.
      if (isOpen && parts.root.activeElement === parts.iframe) {
        parts.iframe.blur();
        parts.iframe.focus();
      }
      const queued = waiting;
      waiting = [];
      for (const item of queued) post(item);
      emit("ready");
    } else if (message.type === "close") {
      setOpen(false);
    } else if (message.type === "message") {
      emit("message", { text: String(message.text ?? "") });
    } else if (message.type === "error") {
      emit("error", { code: String(message.code || "error"), message: String(message.message || "") });
    }
  }

  function start() {
    if (config.signed_users_only && !user) {
      warn(`bot "${slug}" is only for signed-in users here: give data-user-id and data-user-hash`);
      return;
    }
    window.addEventListener("message", onMessage);
    draw();
  }

  window.botport = {
    widget: true,
    open: () => setOpen(true),
    close: () => setOpen(false),
    toggle: () => setOpen(!wantOpen),
    /** Send `text` as the visitor's question (the panel opens). False when there is nothing to send. */
    send(text) {
      if (typeof text !== "string" || !text.trim()) return false;
      setOpen(true);
      post({ type: "send", text });
      return true;
    },
    /** Listen to "ready", "open", "close", "message" ({text}) or "error" ({code, message}); returns an off(). */
    on(name, fn) {
      if (typeof fn !== "function") return () => {};
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name).add(fn);
      if (name === "ready" && ready) setTimeout(() => fn(), 0);
      return () => listeners.get(name).delete(fn);
    },
    /** Sign a user in ({userId, userHash}, computed by your server) or out (null): the chat reloads. */
    identify(next) {
      user = next && next.userId && next.userHash ? { userId: String(next.userId), userHash: String(next.userHash) } : null;
      if (!parts && config) start();
      else if (parts) post({ type: "identify" }); // the frame reloads, and asks for the identity again
    },
  };

  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(slug)) {
    warn(`data-bot must name a bot (its slug), not ${JSON.stringify(slug)}`);
    return;
  }
  fetch(`${ORIGIN}/embed/${encodeURIComponent(slug)}/config`, { credentials: "omit", cache: "no-store" })
    .then(async (response) => {
      const body = await response.json().catch(() => null);
      if (!response.ok) throw new Error((body && body.error && body.error.message) || `HTTP ${response.status}`);
      config = body;
      start();
    })
    .catch((error) => {
      const why = error instanceof TypeError ? `${ORIGIN} is unreachable, or this page's CSP has no connect-src for it` : error.message;
      warn(`the chat widget of bot "${slug}" is not shown on ${location.origin}: ${why}`);
      emit("error", { code: "refused", message: why });
    });
  window.dispatchEvent(new CustomEvent("botport:load"));
})();
