// Why something failed, as a person reads it: the API's error codes (docs/api.md, errors.py) become a
// reason in the page's language. Unknown codes fall back to the server's own message.

import { t } from "./i18n.js";

// Error code -> i18n key of its reason.
const REASONS = {
  upstream_timeout: "whyTimeout",
  upstream_unreachable: "whyUnreachable",
  upstream_busy: "whyUpstreamBusy",
  upstream_error: "whyUpstream",
  upstream_http_error: "whyUpstream",
  upstream_protocol_error: "whyUpstream",
  coze_error: "whyUpstream",
  chat_failed: "whyChatFailed",
  coze_auth_failed: "whyAuth",
  bot_not_published: "whyNotPublished",
  conversation_busy: "whyConversationBusy",
  upstream_conversation_lost: "whyConversationLost",
  rate_limited: "whyRateLimited",
  quota_exceeded: "whyQuota",
  turn_lost: "whyTurnLost",
  shutdown: "whyShutdown",
  client_disconnected: "whyDisconnected",
  network_error: "whyNetwork",
  turn_in_progress: "whyTurnInProgress",
  message_too_long: "whyTooLong",
  internal_error: "whyInternal",
  not_found: "whyNotFound",
  conversation_not_found: "whyNotFound",
  passcode_required: "whyPasscode",
  attachment_too_large: "whyAttachmentTooLarge",
  payload_too_large: "whyAttachmentTooLarge",
  unsupported_attachment_type: "whyAttachmentType",
  too_many_attachments: "whyTooManyAttachments",
  empty_attachment: "whyEmptyAttachment",
  too_many_unsent_attachments: "whyTooManyUnsent",
  attachment_not_found: "whyAttachmentGone",
};

// Reasons that name a limit: filled from the error's own field ({limit: "10 MB"}, {max: 10}); an error
// without it (another edge's) says the server's message instead of a sentence with a hole.
const NEEDS = { whyAttachmentTooLarge: "limit", whyTooManyAttachments: "max" };

// Coze's own words say more than our category: they follow the reason, quoted.
const QUOTE_UPSTREAM = new Set(["chat_failed", "coze_error", "upstream_error"]);

/** The reason of `error` ({code, message}) as a sentence fragment in the page's language. */
export function failureReason(error = {}) {
  const code = error.code || "";
  const message = (error.message || "").trim();
  let key = REASONS[code];
  // A proxy's answer while the server restarts: no JSON body, only the status.
  if (!key && /^http_5\d\d$/.test(code)) key = "whyServerDown";
  if (!key) return message || code || t("whyUnknown");
  const field = NEEDS[key];
  if (field) return error[field] != null ? t(key, { [field]: error[field] }) : message || t("whyUnknown");
  if (key === "whyRateLimited" && error.retryAfter) return t("whyRateLimitedFor", { seconds: error.retryAfter });
  const reason = t(key);
  return QUOTE_UPSTREAM.has(code) && message ? t("cozeSaid", { reason, message }) : reason;
}

/** The same reason standing alone (a notice): its first letter capitalised. */
export function failureSentence(error) {
  const reason = failureReason(error);
  return reason.charAt(0).toUpperCase() + reason.slice(1);
}
