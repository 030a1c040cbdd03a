// Files attached to the next message: picked with the paperclip, pasted into the message box (an image on
// the clipboard; text still pastes as text) or dropped on the chat. Each file uploads as soon as it is
// attached (POST /api/files), so Send only passes ids. Every conversation (and the new-chat screen) has a
// tray of its own, in memory, like its draft: switching conversation never sends another one's files.
// Also how a sent message shows its attachments in the thread: images, and file chips to download.

import * as api from "./api.js";
import { announce, h, notify } from "./dom.js";
import { draftKey } from "./drafts.js";
import { failureReason, failureSentence } from "./failures.js";
import { lang, t } from "./i18n.js";
import { emit, on, state } from "./store.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const PATHS = {
  file: "M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5M9 13h6M9 17h6",
  close: "M6 6l12 12M18 6L6 18",
};
// A file the browser gives no type (often .md, sometimes .csv): its type from its name.
const BY_EXTENSION = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
  markdown: "text/markdown",
  csv: "text/csv",
  json: "application/json",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
};
const THUMB = 96; // px: the tray's previews are drawn this small (two device pixels per CSS pixel)
const SHOWN = { width: 320, height: 240 }; // the most an image takes in the thread, in CSS px

const trays = new Map(); // draftKey -> [item]; an item: {id, file, name, size, type, status, record, error, preview}
let shownKey = draftKey(state.current);
let counter = 0;
let elements = null; // set by initAttachments

function svg(d) {
  const el = document.createElementNS(SVG_NS, "svg");
  el.setAttribute("viewBox", "0 0 24 24");
  el.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", d);
  el.append(path);
  return el;
}

/** 12.3 KB, 10 MB: one decimal at most, in the page's language. */
export function formatSize(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const number = new Intl.NumberFormat(lang() === "zh" ? "zh-CN" : "en", { maximumFractionDigits: unit ? 1 : 0 });
  return `${number.format(value)} ${units[unit]}`;
}

/** What the server accepts (GET /api/config); nothing when it takes no attachments. */
function limits() {
  const config = state.config || {};
  const inLimits = config.limits || {};
  return {
    maxBytes: config.max_attachment_bytes ?? inLimits.max_attachment_bytes ?? 0,
    maxCount: config.max_attachments ?? inLimits.max_attachments ?? 0,
    types: config.attachment_types ?? inLimits.attachment_types ?? [],
  };
}

export function attachmentsEnabled() {
  const { maxBytes, maxCount, types } = limits();
  return maxBytes > 0 && maxCount > 0 && types.length > 0;
}

function typeOf(file, accepted) {
  const byName = BY_EXTENSION[(file.name.split(".").pop() || "").toLowerCase()] || "";
  return [file.type, byName].find((type) => type && accepted.includes(type)) || file.type || byName;
}

const tray = (key = shownKey) => {
  if (!trays.has(key)) trays.set(key, []);
  return trays.get(key);
};

/** The open conversation's tray: files ready to go, still uploading, failed. */
export function trayState() {
  const items = tray();
  const count = (status) => items.filter((item) => item.status === status).length;
  return { ready: count("done"), uploading: count("uploading"), failed: count("failed") };
}

/** Why Send must wait (a sentence), or null. */
export function blockedReason() {
  const { uploading, failed } = trayState();
  if (uploading) return t("waitForUploads");
  if (failed) return t("removeFailedFirst");
  return null;
}

/** Say why Send waits, where the tray is (and to screen readers). */
export function explainBlocked() {
  const why = blockedReason();
  if (!why || !elements) return;
  elements.status.textContent = why;
  elements.status.hidden = false;
  announce(why);
}

function changed() {
  render();
  emit("attachments");
}

/** Attach `files` to the open conversation's next message: each is checked, then uploads at once. */
export function addFiles(files) {
  if (!attachmentsEnabled() || files.length === 0) return;
  const { maxBytes, maxCount, types } = limits();
  const items = tray();
  let kept = items.filter((item) => item.status !== "failed").length;
  const said = [];
  for (const file of files) {
    const item = { id: ++counter, file, name: file.name || "file", size: file.size, type: typeOf(file, types) };
    Object.assign(item, { status: "uploading", record: null, error: null, preview: null, controller: null });
    if (kept >= maxCount) item.error = { code: "too_many_attachments", max: maxCount };
    else if (!types.includes(item.type)) item.error = { code: "unsupported_attachment_type" };
    else if (item.size > maxBytes) item.error = { code: "attachment_too_large", limit: formatSize(maxBytes) };
    else if (item.size === 0) item.error = { code: "empty_attachment" };
    items.push(item);
    if (item.error) {
      item.status = "failed";
      said.push(t("attachmentFailed", { name: item.name, reason: failureReason(item.error) }));
      continue;
    }
    kept += 1;
    upload(item);
    if (item.type.startsWith("image/")) preview(item);
  }
  if (said.length) announce(said.join(" "));
  changed();
}

/** The server's refusal in the page's words: its 413 and 415 read like the page's own checks. */
function uploadError(error) {
  const { maxBytes, maxCount } = limits();
  let code = error?.code || "error";
  if (error?.status === 413) code = "attachment_too_large";
  if (error?.status === 415) code = "unsupported_attachment_type";
  if (code === "network_error") return { code };
  const message = error?.message || "";
  return { code, message, limit: formatSize(maxBytes), max: maxCount, retryAfter: error?.retryAfter ?? null };
}

async function upload(item) {
  item.controller = new AbortController();
  // A type guessed from the name goes with the file (the browser would send application/octet-stream).
  const typed = item.type && item.type !== item.file.type;
  const file = typed ? new File([item.file], item.name, { type: item.type }) : item.file;
  try {
    item.record = await api.uploadFile(file, item.controller.signal);
    item.status = "done";
    announce(t("attachmentAdded", { name: item.name }));
  } catch (error) {
    if (error?.name === "AbortError") return; // removed while it uploaded
    item.status = "failed";
    item.error = uploadError(error);
    announce(t("attachmentFailed", { name: item.name, reason: failureReason(item.error) }));
  } finally {
    item.controller = null;
  }
  changed();
}

/** A small preview drawn from the file itself (a data: URL: the page's CSP allows no blob:). */
async function preview(item) {
  try {
    const bitmap = await createImageBitmap(item.file);
    const scale = Math.min(1, THUMB / Math.min(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    item.preview = canvas.toDataURL("image/png");
    render();
  } catch {
    // not an image the browser can draw: the file icon stays (the server decides whether it is one)
  }
}

function remove(item) {
  item.controller?.abort();
  // Uploaded already: deleted on the server too (left there, it would count against this reader's
  // uploads until it is swept a day later).
  if (item.record) api.deleteFile(item.record.id).catch(() => {});
  for (const items of trays.values()) {
    const index = items.indexOf(item);
    if (index >= 0) items.splice(index, 1);
  }
  announce(t("attachmentRemoved", { name: item.name }));
  const next = tray().find((other) => other.id > item.id) ?? tray().at(-1);
  changed();
  const button = next && elements.list.querySelector(`[data-key="${next.id}"] .attachment-remove`);
  (button || elements.input).focus();
}

/** Take the ready files for a message being sent (the tray empties); the records, in order. */
export function takeAttachments() {
  const items = tray();
  const records = items.filter((item) => item.status === "done").map((item) => item.record);
  trays.set(shownKey, items.filter((item) => item.status === "uploading"));
  changed();
  return records;
}

/** A message that was not sent gives its files back to its conversation's tray. */
export function restoreAttachments(records, conversationId) {
  if (records.length === 0) return;
  const items = tray(draftKey({ id: conversationId }));
  for (const record of records) {
    if (items.some((item) => item.record?.id === record.id)) continue;
    const preview = isImage(record) ? record.url : null;
    const { name, size, content_type: type } = record;
    items.push({ id: ++counter, name, size, type, status: "done", record, error: null, preview });
  }
  changed();
}

function itemElement(item) {
  const thumb = item.preview
    ? h("img", { class: "attachment-thumb", src: item.preview, alt: "", width: 40, height: 40 })
    : h("span", { class: "attachment-icon" }, svg(PATHS.file));
  let detail = formatSize(item.size);
  if (item.status === "uploading") detail = t("uploading");
  if (item.status === "failed") detail = failureSentence(item.error);
  const label = t("removeAttachment", { name: item.name });
  const close = h(
    "button",
    { type: "button", class: "icon-button small attachment-remove", "aria-label": label, title: label },
    svg(PATHS.close),
  );
  close.addEventListener("click", () => remove(item));
  const text = h(
    "span",
    { class: "attachment-text" },
    h("span", { class: "attachment-name", title: item.name }, item.name),
    h("span", { class: "attachment-detail" }, detail),
  );
  const busy = item.status === "uploading" ? "true" : null;
  const dataset = { key: String(item.id), status: item.status };
  return h("li", { class: "attachment", dataset, "aria-busy": busy }, thumb, text, close);
}

function render() {
  if (!elements) return;
  const { list, status } = elements;
  const focused = document.activeElement?.closest?.(".attachment")?.dataset.key;
  const items = tray();
  list.replaceChildren(...items.map(itemElement));
  list.setAttribute("aria-label", t("attachments"));
  list.hidden = items.length === 0;
  if (!blockedReason()) status.hidden = true;
  if (focused) list.querySelector(`[data-key="${focused}"] .attachment-remove`)?.focus();
}

function isImage(record) {
  return (record.content_type || "").startsWith("image/");
}

function imageLink(record) {
  const inFrame = api.privateAttachments();
  // The widget's frame: the bytes come as a blob: URL, already here (so not lazy: a frame opened from
  // a closed panel would not load it); the image saves (a new tab could not open it).
  const source = inFrame ? {} : { src: record.url, loading: "lazy" };
  const img = h("img", { ...source, alt: record.name, decoding: "async" });
  if (record.width && record.height) {
    img.width = record.width; // the box is known before the image loads: nothing below it jumps
    img.height = record.height;
    const scale = Math.min(1, SHOWN.width / record.width, SHOWN.height / record.height);
    img.style.width = `${Math.max(1, Math.round(record.width * scale))}px`;
  }
  if (inFrame) {
    const link = h("a", { class: "attachment-image", download: record.name, title: record.name }, img);
    api.attachmentUrl(record.url).then(
      (url) => {
        img.src = url;
        link.href = url;
      },
      () => link.classList.add("unavailable"),
    );
    return savedThroughTheFrame(link, record);
  }
  const title = t("openImage", { name: record.name });
  return h("a", { class: "attachment-image", href: record.url, target: "_blank", rel: "noopener", title }, img);
}

function fileChip(record) {
  const chip = h(
    "a",
    { class: "file-chip", href: record.url, download: record.name, title: record.name },
    svg(PATHS.file),
    h("span", { class: "visually-hidden" }, `${t("download")} `),
    h("span", { class: "file-chip-name" }, record.name),
    " ",
    h("span", { class: "file-chip-size" }, formatSize(record.size)),
  );
  return api.privateAttachments() ? savedThroughTheFrame(chip, record) : chip;
}

/**
 * The widget's frame: a click on `link` saves the bytes from a live blob: URL, the one attachmentUrl
 * holds (fetched with the frame's identity on the first click, or again if it was let go since).
 */
function savedThroughTheFrame(link, record) {
  let saving = false;
  link.addEventListener("click", (event) => {
    if (saving) return; // the click below, with the live URL: let it save
    event.preventDefault();
    api.attachmentUrl(record.url).then(
      (url) => {
        link.href = url;
        saving = true;
        link.click();
        saving = false;
      },
      (error) => notify(failureSentence(error)),
    );
  });
  return link;
}

/** A sent message's attachments, as the thread shows them; null when it has none. */
export function attachmentList(records) {
  if (!records || records.length === 0) return null;
  return h("div", { class: "message-attachments" }, records.map((r) => (isImage(r) ? imageLink(r) : fileChip(r))));
}

function hasFiles(event) {
  return Array.from(event.dataTransfer?.types ?? []).includes("Files");
}

/** Drag and drop onto the chat area: a visible (and announced) drop zone while files are over it. */
function setupDrop(area, zone) {
  let depth = 0; // dragenter/dragleave pairs of the area's children
  const show = (on) => {
    if (zone.hidden === !on) return;
    zone.hidden = !on;
    area.classList.toggle("dropping", on);
    if (on) announce(t("dropFiles"));
  };
  area.addEventListener("dragenter", (event) => {
    if (!hasFiles(event) || !attachmentsEnabled()) return;
    event.preventDefault();
    depth += 1;
    show(true);
  });
  area.addEventListener("dragover", (event) => {
    if (!hasFiles(event) || !attachmentsEnabled()) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  area.addEventListener("dragleave", (event) => {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) show(false);
  });
  area.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    show(false);
    addFiles(Array.from(event.dataTransfer.files));
  });
  // A file dropped beside the chat must not replace the page (and its unsent message) with the file.
  for (const name of ["dragover", "drop"]) {
    window.addEventListener(name, (event) => {
      if (hasFiles(event)) event.preventDefault();
    });
  }
}

/** The paperclip, the hidden file input, paste in the message box, drop on the chat, and the tray. */
export function initAttachments() {
  const button = document.getElementById("attach-button");
  const picker = document.getElementById("attach-input");
  const input = document.getElementById("composer-input");
  const list = document.getElementById("attachment-tray");
  elements = { list, status: document.getElementById("attachment-status"), input };
  button.addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    addFiles(Array.from(picker.files ?? []));
    picker.value = ""; // the same file may be picked again
  });
  input.addEventListener("paste", (event) => {
    const data = event.clipboardData;
    const files = Array.from(data?.files ?? []);
    // Text on the clipboard (a spreadsheet's cells come with a picture of them) pastes as text.
    if (files.length === 0 || !attachmentsEnabled() || data.types.includes("text/plain")) return;
    event.preventDefault();
    addFiles(files);
  });
  setupDrop(document.getElementById("main"), document.getElementById("drop-zone"));
  const swap = () => {
    shownKey = draftKey(state.current);
    changed();
  };
  on("opening", swap);
  on("opened", swap);
  on("config", () => {
    const { types } = limits();
    const extensions = Object.keys(BY_EXTENSION).filter((ext) => types.includes(BY_EXTENSION[ext]));
    picker.accept = [...types, ...extensions.map((ext) => `.${ext}`)].join(",");
    button.hidden = !attachmentsEnabled();
  });
  document.addEventListener("botport:language", render);
  render();
}
