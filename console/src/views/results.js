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
  root.replaceChildren(el("h2", { text: "Results" }), form, out);
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
