// Client-side tools: a bot that asks its caller to run a tool (Coze's requires_action, e.g. the weather
// demo's get_weather) cannot go on in the page, which runs none. The answer says so plainly.

import { t } from "./i18n.js";

/** What the answer of a turn that ended in requires_action says, naming the tools asked for. */
export function toolNotice(calls) {
  const names = [...new Set((calls || []).map((call) => call.name).filter(Boolean))];
  return t("toolCall", { names: names.join(", ") || "?" });
}
