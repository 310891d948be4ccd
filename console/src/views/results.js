// Results: every analysis for a period and site (satisfaction and segments also for one
// segment), picked in one form. Only the latest load draws: an earlier one still waiting
// (a slow period, the experiments' daily series) never replaces what was asked for since.

import { api } from "../api.js";
import { el, errorLine, field, options, select } from "../dom.js";
import { day } from "../format.js";
import { sitePicker } from "../site.js";
import { ANALYSES } from "./analyses.js";
import { experiments } from "./experiments.js";

const KINDS = ["experiments", ...Object.keys(ANALYSES)];

export async function results(root) {
  const state = { latest: 0 };
  const inputs = {
    what: select(
      "analysis",
      KINDS.map((a) => [a, a.replace("-", " ")]),
      "experiments",
    ),
    site: sitePicker("site"),
    from: el("input", { id: "from", type: "date", value: day(-6) }),
    to: el("input", { id: "to", type: "date", value: day(0) }),
    interval: select(
      "interval",
      [
        ["fixed", "Fixed (read once)"],
        ["sequential", "Always valid (look any day)"],
      ],
      "fixed",
    ),
    segment: select("segment", [["", "All visitors"]], ""),
  };
  const out = el("div", { id: "results-out" });
  // Satisfaction and segments can be read for one segment; the other analyses are not
  // broken down by segment, and the filter says so rather than being ignored.
  const segmentHint = el("span", { class: "muted", id: "segment-hint" });
  const segmentState = () => {
    const applies = !!ANALYSES[inputs.what.value]?.bySegment;
    inputs.segment.disabled = !applies;
    segmentHint.textContent = applies ? "" : "Satisfaction and segments only";
  };
  inputs.what.addEventListener("change", segmentState);
  segmentState();
  const form = el(
    "form",
    { class: "filters" },
    field("analysis", "Show", inputs.what),
    field("site", "Site", inputs.site),
    field("from", "From", inputs.from),
    field("to", "To", inputs.to),
    field("segment", "Segment", inputs.segment, segmentHint),
    field("interval", "Interval", inputs.interval),
    el("button", { type: "submit", text: "Show" }),
  );
  const load = async () => {
    const mine = ++state.latest;
    const stale = () => mine !== state.latest;
    out.replaceChildren(el("p", { text: "Loading…" }));
    const drawn = await analysis(inputs, stale);
    if (drawn && !stale()) out.replaceChildren(...drawn.filter(Boolean));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  root.replaceChildren(form, glossary(), out);
  await load();
}

// The chosen analysis as elements, or null when a newer load has begun. The segment filter
// is filled at the same time, from the segments of the period.
async function analysis(inputs, stale) {
  const kind = inputs.what.value;
  const period = { site: inputs.site.value, from: inputs.from.value, to: inputs.to.value };
  if (kind !== "segments") fillSegments(inputs.segment, null, period);
  if (kind === "experiments") {
    return experiments(new URLSearchParams({ ...period, interval: inputs.interval.value }).toString(), stale);
  }
  const { path, draw, bySegment } = ANALYSES[kind];
  const params = bySegment && inputs.segment.value ? { ...period, segment: inputs.segment.value } : period;
  const answer = await api(`${path}?${new URLSearchParams(params)}`);
  if (stale()) return null;
  // Read for the whole period, the segments analysis lists every segment for the filter;
  // read for one segment, it lists only that one, and the filter asks for the whole list.
  if (kind === "segments") {
    const whole = answer.status === 200 && !params.segment;
    fillSegments(inputs.segment, whole ? answer.body : null, period);
  }
  return answer.status === 200 ? draw(answer.body) : [errorLine(answer)];
}

// The segment filter's options: `shown` when it is the whole segments analysis of the period,
// else asked for; the chosen segment stays chosen.
async function fillSegments(picker, shown, period) {
  let body = shown;
  if (!body) {
    const answer = await api(`/v1/admin/analytics/segments?${new URLSearchParams(period)}`);
    body = answer.status === 200 ? answer.body : null;
  }
  const names = body ? body.segments.map((s) => s.segment) : [];
  picker.replaceChildren(...options([["", "All visitors"], ...names], picker.value));
}

// What the words the numbers are counted in mean.
const TERMS = [
  ["Visitor", "One browser, by the random id the widget keeps (a shopper on two devices is two visitors)."],
  ["Visitor-day", "A visitor on one day: a visitor seen on three days counts three visitor-days."],
  [
    "Impression",
    "An experience drawn on a page, every time it is drawn: one visitor shown a bar on five pages makes five.",
  ],
  [
    "Exposure",
    "A visitor entering an experiment, once, when its experience is drawn, or for the control group would have been.",
  ],
  [
    "Conversion",
    "A purchase the shop's server reports within the attribution window (7 days unless the rulebook says) after the visitor's first exposure.",
  ],
  ["NPS", "Promoters (9–10) minus detractors (0–6), as a share of the answers, from −100 to 100."],
  [
    "95% interval",
    "The range the true value lies in, 19 times in 20; a lift whose interval does not cross zero is a real difference.",
  ],
  [
    "Fixed (read once)",
    "The interval is valid when read once, at the end of the test you planned; looking every day and stopping at the first good day overstates it.",
  ],
  ["Always valid", "The interval stays valid however often you look: wider, but you may stop whenever it is clear."],
];

function glossary() {
  const list = el(
    "dl",
    {},
    ...TERMS.flatMap(([term, meaning]) => [el("dt", { text: term }), el("dd", { text: meaning })]),
  );
  return el("details", { id: "glossary", class: "glossary" }, el("summary", { text: "What the numbers mean" }), list);
}
