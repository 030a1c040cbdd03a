// The page's shared state and a tiny event bus. Views subscribe to names, the controller emits them.

export const state = {
  config: null, // GET /api/config
  bots: [], // [Bot]
  selectedBot: null, // slug used for a new conversation
  conversations: [], // newest first
  nextCursor: null,
  current: null, // the open Conversation, or null for a new chat
  turns: new Map(), // conversation id -> the turn the page follows there (chat.js), while it runs
};

const listeners = new Map();

export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, new Set());
  listeners.get(name).add(fn);
}

export function emit(name, detail) {
  for (const fn of listeners.get(name) ?? []) fn(detail);
}

export function botBySlug(slug) {
  return state.bots.find((bot) => bot.slug === slug) ?? state.bots[0] ?? null;
}

/** Insert or replace a conversation, keeping the list newest first. */
export function upsertConversation(conversation) {
  const others = state.conversations.filter((c) => c.id !== conversation.id);
  const index = others.findIndex((c) => c.updated_at <= conversation.updated_at);
  others.splice(index === -1 ? others.length : index, 0, conversation);
  state.conversations = others;
  if (state.current && state.current.id === conversation.id) state.current = conversation;
  emit("conversations");
}

export function removeConversation(id) {
  state.conversations = state.conversations.filter((c) => c.id !== id);
  emit("conversations");
}
