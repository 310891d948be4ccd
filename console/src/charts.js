// Pictures of numbers: an interval against zero, and lines over days (uPlot). Each has its
// numbers in words beside it (an aria-label, and a table) for anyone not reading the picture.

import uPlot from "uplot";
import { el } from "./dom.js";
import { percent } from "./format.js";

/// The interval as a bar on an axis centred on zero, with the estimate marked; `scale` is
/// the largest lift drawn beside it.
export function intervalBar(lift, scale) {
  const label = `${percent(lift.estimate, true)}, interval ${percent(lift.ci_low, true)} to ${percent(lift.ci_high, true)}`;
  const bar = el("div", { class: "interval", role: "img", "aria-label": label });
  const at = (x) => 50 + Math.max(-50, Math.min(50, (x / scale) * 50));
  const range = el("span", { class: lift.ci_low > 0 ? "range good" : lift.ci_high < 0 ? "range bad" : "range" });
  range.style.left = `${at(lift.ci_low)}%`;
  range.style.width = `${Math.max(0.5, at(lift.ci_high) - at(lift.ci_low))}%`;
  const mark = el("span", { class: "estimate" });
  mark.style.left = `${at(lift.estimate)}%`;
  bar.append(el("span", { class: "zero" }), range, mark);
  return bar;
}

const COLOURS = ["#0b6e5f", "#c2571a", "#5b6770", "#7b3fa0", "#1d5fa8", "#a3261b", "#1c7c3a", "#8a5a00", "#333"];

/// A line per series (`{label, values}`) over `days` (YYYY-MM-DD), on a time axis that spans
/// the period asked (`{from, to}`, widened to any day outside it), whether one day or sixty.
/// Nothing when there are no days.
export function lineChart(title, days, series, label, period) {
  if (days.length === 0) return null;
  const first = [period.from, ...days].sort()[0];
  const last = [period.to, ...days].sort().at(-1);
  const seconds = (d) => Date.parse(`${d}T00:00:00Z`) / 1000;
  const span = [seconds(first), seconds(last) + 864e2];
  const host = el("div", {
    class: "chart",
    role: "img",
    "aria-label": `${title}, ${first} to ${last}`,
    "data-from": first,
    "data-to": last,
  });
  const options = {
    width: 640,
    height: 220,
    title,
    scales: { x: { time: true, range: () => span } },
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2 }))],
    axes: [{}, { label }],
  };
  new uPlot(options, [days.map(seconds), ...series.map((s) => s.values)], host);
  return host;
}
