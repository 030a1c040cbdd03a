// Other tabs of this browser follow what this one does: a conversation created, renamed or deleted, an
// answer started or ended. Only the tab that did it tells (a tab never re-tells what it heard, and a
// BroadcastChannel does not deliver to its sender), so nothing echoes back and forth.

import { removeConversation, state, upsertConversation } from "./store.js";

const channel = "BroadcastChannel" in window ? new BroadcastChannel("botport") : null;

/** Tell the other tabs: `kind` is created, renamed, deleted, turn-started, turn-ended or branch. */
export function tell(kind, { conversation = null, id = conversation?.id } = {}) {
  channel?.postMessage({ kind, id, conversation });
}

/** Upsert what another tab saw, unless this tab already knows a newer version. */
function learn(conversation) {
  const known = state.conversations.find((c) => c.id === conversation.id);
  if (known && known.updated_at > conversation.updated_at) return;
  upsertConversation(conversation);
}

/**
 * Listen to the other tabs. `reopen()` reloads the open conversation's messages; `leave()` opens a new
 * chat (the open conversation was deleted).
 */
export function initTabs({ reopen, leave }) {
  // api.js says when this tab changed a conversation on the server (also through the sidebar).
  document.addEventListener("botport:changed", ({ detail }) => tell(detail.kind, detail));
  if (!channel) return;
  channel.addEventListener("message", ({ data }) => {
    if (!data || typeof data.id !== "string") return;
    const showing = state.current?.id === data.id;
    if (data.kind === "deleted") {
      removeConversation(data.id);
      if (showing) leave();
      return;
    }
    if (data.conversation) learn(data.conversation);
    // An answer began or ended there, or it reads another branch: show it (unless this tab follows it already).
    const turn = data.kind === "turn-started" || data.kind === "turn-ended" || data.kind === "branch";
    if (turn && showing && !state.turns.has(data.id)) reopen();
  });
}
