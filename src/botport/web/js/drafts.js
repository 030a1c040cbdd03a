// Unsent text, one draft per conversation and one for the new-chat screen, kept in localStorage so that
// it stays with its conversation when the page switches and survives a reload. One storage key per
// draft, so two tabs writing different drafts never overwrite each other's.

const PREFIX = "botport.draft:";
const KEEP = 50; // the newest drafts kept; older ones are dropped

/** Where a draft belongs: the open conversation, or the new-chat screen. */
export function draftKey(conversation) {
  return conversation ? `c:${conversation.id}` : "new";
}

export function loadDraft(key) {
  try {
    const saved = JSON.parse(localStorage.getItem(PREFIX + key) ?? "null");
    return typeof saved?.text === "string" ? saved.text : "";
  } catch {
    return ""; // not ours, or storage is off
  }
}

/** Keep `text` as the draft of `key`; blank text removes it. */
export function saveDraft(key, text) {
  try {
    if (!text.trim()) {
      localStorage.removeItem(PREFIX + key);
      return;
    }
    const fresh = localStorage.getItem(PREFIX + key) === null;
    localStorage.setItem(PREFIX + key, JSON.stringify({ text, at: Date.now() }));
    if (fresh) prune();
  } catch {
    // storage full or off (private mode): the draft lives in the box only
  }
}

function prune() {
  const drafts = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const name = localStorage.key(i);
    if (!name?.startsWith(PREFIX)) continue;
    let at = 0;
    try {
      at = Number(JSON.parse(localStorage.getItem(name)).at) || 0;
    } catch {
      // unreadable: oldest, dropped first
    }
    drafts.push({ name, at });
  }
  drafts.sort((a, b) => b.at - a.at);
  for (const { name } of drafts.slice(KEEP)) localStorage.removeItem(name);
}
