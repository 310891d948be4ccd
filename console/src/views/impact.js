// The draft against the active rulebook, over the site's sample of recent visitors: how many
// each experience reaches now, and would after publishing.

import { api } from "../api.js";
import { el, errorLine, table } from "../dom.js";
import { timeText } from "../format.js";
import { siteName } from "../site.js";

/// `files()` gives the draft.
export function impact(files) {
  const out = el("div", { id: "impact", "aria-live": "polite" });
  const run = async () => {
    out.replaceChildren(el("p", { text: "Running both rulebooks over recent visitors…" }));
    const answer = await api("/v1/admin/impact", { method: "POST", body: { site: siteName(), files: files() } });
    out.replaceChildren(...(answer.status === 200 ? report(answer.body) : [errorLine(answer)]));
  };
  return el(
    "section",
    { "aria-labelledby": "impact-title" },
    el("h3", { id: "impact-title", text: "Impact" }),
    el("p", {
      class: "muted",
      text: "How many recent visitors each experience reaches now, and would after you publish this draft.",
    }),
    el("button", { type: "button", id: "impact-run", text: "Compare with what is live", onclick: run }),
    out,
  );
}

function report(r) {
  if (r.visitors === 0) {
    const text =
      `No visitors of ${r.site} are in the sample yet. It keeps the ${r.limit} most recently active visitors who ` +
      "agreed to analytics, as they browse the shop.";
    return [el("p", { class: "empty", text })];
  }
  const since = timeText(r.oldest_ms);
  const why = (e) => (e.why ? `${e.why.reason} (for ${e.why.visitors} of ${e.why.of})` : "");
  const rows = r.experiences.map((e) => {
    const change = e.after - e.now;
    return [e.experience, e.rule, e.now, e.after, change > 0 ? `+${change}` : String(change), e.gained, e.lost, why(e)];
  });
  const heads = [
    "Experience",
    "Rule",
    "See it now",
    "After publishing",
    "Change",
    "Start seeing it",
    "Stop seeing it",
    "Main reason, where it reaches no one or loses half",
  ];
  const summary = `Of ${r.visitors} recent visitors (active since ${since}), ${r.changed} would get something different after publishing.`;
  // An experience that would reach no one says why first: that is what a marketer asks.
  const nobody = r.experiences
    .filter((e) => e.after === 0 && e.why)
    .map((e) => el("li", { text: `${e.experience} would reach 0 of ${r.visitors}: ${why(e)}` }));
  return [
    el("p", { id: "impact-summary", class: "headline", text: summary }),
    nobody.length ? el("ul", { id: "impact-zero" }, ...nobody) : "",
    r.experiences.length
      ? table("Impact by experience", heads, rows)
      : el("p", {
          class: "empty",
          text: "Neither rulebook shows anything to these visitors on the pages they were last on.",
        }),
    el("p", {
      class: "muted",
      text: "Each visitor is decided for as they were on the last page they viewed; nothing is recorded.",
    }),
  ];
}
