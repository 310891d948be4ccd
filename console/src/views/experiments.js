// Experiments: every experiment's arms and lifts, the lift of each treatment drawn as its
// interval against zero, the verdict in words (with sample-ratio-mismatch and
// not-enough-data states), how long it still needs, and its daily exposures.

import { api } from "../api.js";
import { intervalBar, lineChart } from "../charts.js";
import { el, errorLine, table } from "../dom.js";
import { cumulative, liftWords, money, percent } from "../format.js";
import { shopCurrency } from "../site.js";

// What a comparison's state means, in a few words.
const STATES = {
  won: "won",
  lost: "lost",
  draw: "a draw",
  inconclusive: "no clear difference yet",
  not_enough_data: "not enough data yet",
  no_result: "no result",
  sample_ratio_mismatch: "sample ratio mismatch",
};

/// The experiments of a period (`query`: site, from, to, interval) as elements; `stale()`
/// says a newer load has begun, and then nothing is drawn (null).
export async function experiments(query, stale) {
  const answer = await api(`/v1/admin/analytics/experiments?${query}`);
  if (stale()) return null;
  if (answer.status !== 200) return [errorLine(answer)];
  const running = answer.body.experiments.filter((e) => e.arms.some((a) => a.visitors > 0));
  if (running.length === 0) {
    const text =
      "No experiment has visitors in this period yet. An experiment counts a visitor when one of its experiences " +
      "is drawn on their page (for its control group, when it would have been); results follow within seconds.";
    return [el("p", { class: "empty", text })];
  }
  // Every experiment's daily series at once.
  const details = await Promise.all(
    running.map((e) =>
      api(`/v1/admin/analytics/experiments/${e.programme ? "~programme" : encodeURIComponent(e.rule)}?${query}`),
    ),
  );
  if (stale()) return null;
  return running.map((e, i) => section(e, details[i].status === 200 ? details[i].body : null));
}

function section(e, detail) {
  const name = e.programme ? "Rapport as a whole (universal holdout)" : e.rule;
  const banner = e.sample_ratio_mismatch
    ? el("p", { class: "banner bad", role: "alert", text: e.verdict })
    : el("p", { class: "headline", text: e.verdict });
  // How long it still needs, at its traffic in this period.
  const duration = e.duration ? el("p", { class: "duration", text: e.duration.words }) : null;
  const arms = e.arms.map((a) => a.arm);
  const chart = detail ? dailyChart(detail, arms) : null;
  return el(
    "section",
    { class: "experiment", "aria-label": name },
    el("h3", { text: name }),
    banner,
    duration,
    lifts(e),
    chart,
    armTable(name, e),
    liftTable(name, e),
  );
}

// Each lift as a number with its interval, its state and its adjusted p-value, beside its
// bar and the verdict in words.
function lifts(e) {
  const bounds = e.comparisons
    .filter((c) => c.lift)
    .map((c) => Math.max(Math.abs(c.lift.ci_low), Math.abs(c.lift.ci_high)));
  const scale = Math.max(0.1, ...bounds);
  const item = (c) => {
    const state = STATES[c.state] || c.state;
    const numbers = c.lift
      ? `${liftWords(c.lift)}: ${state}, adjusted p = ${c.adjusted_p_value.toFixed(3)}. `
      : `${state}. `;
    return el(
      "li",
      { class: `state-${c.state}` },
      el("span", { class: "what", text: `${c.arm}, ${c.metric}` }),
      c.lift ? intervalBar(c.lift, scale) : el("span", { class: "interval none", text: "no interval" }),
      el("span", { class: "verdict" }, el("span", { class: "numbers", text: numbers }), c.verdict),
    );
  };
  return el("ul", { class: "lifts" }, ...e.comparisons.map(item));
}

function armTable(name, e) {
  const rows = e.arms.map((a) => [
    a.arm + (a.baseline ? " (baseline)" : ""),
    a.visitors,
    a.weight === undefined ? "–" : percent(a.weight),
    a.conversion.sum,
    percent(a.conversion.mean),
    money(a.revenue.mean, shopCurrency()),
  ]);
  const heads = [
    "Arm",
    "Exposed visitors (once each)",
    "Share",
    "Converted (in the window)",
    "Conversion rate",
    "Revenue per visitor",
  ];
  return table(`${name}: arms`, heads, rows);
}

// The p-value each state is judged on: adjusted for every comparison of the experiment.
function liftTable(name, e) {
  const rows = e.comparisons.map((c) => [
    c.arm,
    c.metric + (c.primary ? " (primary)" : ""),
    c.lift ? percent(c.lift.estimate, true) : "–",
    c.lift ? `${percent(c.lift.ci_low, true)} to ${percent(c.lift.ci_high, true)}` : "–",
    c.lift ? c.lift.p_value.toFixed(3) : "–",
    c.adjusted_p_value === undefined ? "–" : c.adjusted_p_value.toFixed(3),
    c.verdict,
  ]);
  const heads = ["Arm", "Metric", "Lift", "95% interval", "p-value", "Adjusted p-value", "Verdict"];
  return table(`${name}: lifts`, heads, rows);
}

// The exposed visitors of each arm, cumulative, by day of first exposure.
function dailyChart(detail, arms) {
  const { days, lines } = cumulative(detail.daily, arms);
  return lineChart("Exposed visitors, cumulative", days, lines, "visitors", detail);
}
