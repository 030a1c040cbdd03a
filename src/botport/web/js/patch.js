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
  const focused = focusPath(element);
  for (const node of old.slice(same)) node.remove();
  element.append(...fresh.slice(same));
  if (focused && !element.contains(document.activeElement)) restoreFocus(element, focused);
}

// A keyboard user who focused the block still being written (a code block, to scroll it) keeps focus
// on its new rendering: the path of child indexes from `element` finds the node in the same place.
function focusPath(element) {
  const path = [];
  for (let node = document.activeElement; node && node !== element; node = node.parentNode) {
    if (!node.parentNode) return null;
    path.unshift(Array.prototype.indexOf.call(node.parentNode.childNodes, node));
  }
  return path.length ? path : null;
}

function restoreFocus(element, path) {
  let node = element;
  for (const index of path) node = node?.childNodes[index];
  if (node instanceof HTMLElement) node.focus({ preventScroll: true });
}
