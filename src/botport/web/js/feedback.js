// Thumbs up / down under a completed answer. botport stores the rating (and sends it on to Coze);
// pressing the pressed one again removes it. The state comes from the API, so it survives a reload.

import * as api from "./api.js";
import { h, icon, notify } from "./dom.js";
import { t } from "./i18n.js";

const RATINGS = ["like", "unlike"];

/** The rating buttons of one answer: shown once the answer is known (`know`) and completed (`setStatus`). */
export function feedbackControls() {
  let rating = null; // "like" | "unlike" | null
  let target = null; // {conversationId, messageId}
  let status = "streaming";
  let busy = false; // a rating is being saved
  const buttons = Object.fromEntries(
    RATINGS.map((value) => [
      value,
      h(
        "button",
        {
          type: "button",
          class: `icon-button small feedback-button ${value}`,
          dataset: { rating: value, i18nAria: value },
          "aria-label": t(value),
          title: t(value),
          onclick: () => choose(value),
        },
        icon(value),
      ),
    ]),
  );
  const group = h(
    "div",
    { class: "feedback", role: "group", dataset: { i18nAria: "rateAnswer" }, "aria-label": t("rateAnswer") },
    buttons.like,
    buttons.unlike,
  );

  function render() {
    group.hidden = !target || status !== "completed";
    group.setAttribute("aria-busy", String(busy));
    for (const value of RATINGS) {
      buttons[value].setAttribute("aria-pressed", String(rating === value));
      // aria-disabled rather than disabled: a keyboard user's focus stays on the button meanwhile.
      buttons[value].setAttribute("aria-disabled", String(busy));
    }
  }

  async function choose(value) {
    if (busy || !target) return;
    const next = rating === value ? null : value;
    busy = true;
    render();
    try {
      const result = await api.rateMessage(target.conversationId, target.messageId, next);
      rating = result.feedback ? result.feedback.rating : null;
    } catch (error) {
      const message = error.code === "network_error" ? t("networkError") : error.message || error.code;
      notify(t("feedbackFailed", { message }));
    } finally {
      busy = false;
      render();
    }
  }

  render();
  return {
    element: group,
    /** A stored answer (history, a `message.completed` frame): its ids and its rating. */
    know(stored) {
      if (!stored || !stored.id || !stored.conversation_id) return;
      target = { conversationId: stored.conversation_id, messageId: stored.id };
      rating = stored.feedback ? stored.feedback.rating : null;
      render();
    },
    /** Only a completed answer can be rated. */
    setStatus(next) {
      status = next;
      render();
    },
  };
}
