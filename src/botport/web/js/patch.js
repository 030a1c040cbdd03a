// Apply a new rendering of an answer without rebuilding what did not change: the blocks that are
// equal stay the same nodes (a selection in them survives, nothing re-lays out); from the first block
// that differs on, the new blocks replace the old. The html is the server's, already sanitised.

/** Make `element` show `html`; `prepare(fragment)` adjusts the new nodes first (as the old ones were). */
export function patchHtml(element, html, prepare = null) {
  const template = document.createElement("template");
  template.innerHTML = html;
  prepare?.(template.content);
  const fresh = Array.from(template.content.childNodes);
  const old = Array.from(element.childNodes);
  let same = 0;
  while (same < old.length && same < fresh.length && old[same].isEqualNode(fresh[same])) same++;
  if (same === old.length && same === fresh.length) return;
  for (const node of old.slice(same)) node.remove();
  element.append(...fresh.slice(same));
}
