// Date groups of the conversation list: Pinned, Today, Yesterday, Previous 7 days, Previous 30 days,
// then one group a month ("March 2026"), by each conversation's last activity in the reader's time zone.

import { h } from "./dom.js";
import { lang, t } from "./i18n.js";

const DAY = 24 * 60 * 60 * 1000;

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate());
}

/** The group of a conversation active at `when` (a Date), seen on `now`: {key, label}. */
export function dateGroup(when, now = new Date()) {
  const today = startOfDay(now);
  // Whole calendar days between the two dates (rounded: a daylight-saving day is 23 or 25 hours).
  const days = Math.round((today - startOfDay(when)) / DAY);
  if (days <= 0) return { key: "today", label: t("groupToday") };
  if (days === 1) return { key: "yesterday", label: t("groupYesterday") };
  if (days <= 7) return { key: "week", label: t("groupWeek") };
  if (days <= 30) return { key: "month", label: t("groupMonth") };
  const locale = lang() === "zh" ? "zh-CN" : "en";
  const label = new Intl.DateTimeFormat(locale, { year: "numeric", month: "long" }).format(when);
  return { key: `${when.getFullYear()}-${when.getMonth() + 1}`, label };
}

/**
 * The list's groups, in order: the pinned conversations first, then the others by date (the list is
 * newest first, so each date group comes once). [{key, label, items}]
 */
export function groupConversations(conversations, now = new Date()) {
  const pinned = conversations.filter((c) => c.pinned);
  const groups = pinned.length ? [{ key: "pinned", label: t("groupPinned"), items: pinned }] : [];
  for (const conversation of conversations) {
    if (conversation.pinned) continue;
    const { key, label } = dateGroup(new Date(conversation.updated_at), now);
    const last = groups[groups.length - 1];
    if (last && last.key === key) last.items.push(conversation);
    else groups.push({ key, label, items: [conversation] });
  }
  return groups;
}

/** The list's items: per group a heading and its own list (`row` makes a conversation's <li>). */
export function groupedItems(conversations, row) {
  return groupConversations(conversations).map((group) => {
    const id = `group-${group.key}`;
    return h(
      "li",
      { class: "conversation-group", dataset: { group: group.key } },
      h("h3", { class: "conversation-group-title", id }, group.label),
      h("ul", { class: "conversation-group-list", "aria-labelledby": id }, group.items.map(row)),
    );
  });
}
