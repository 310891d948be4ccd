// Results: every analysis for a period and site (satisfaction and segments also for one
// segment): every experiment's arms and lifts, the lift of each treatment drawn
// as its interval against zero, the verdict in words (with SRM and not-enough-data states),
// and the daily exposures of the experiment drawn with uPlot; each table has a CSV download.

import uPlot from "uplot";

function day(offset) {
  return new Date(Date.now() + offset * 864e5).toISOString().slice(0, 10);
}

function percent(x, signed) {
  if (x === null || x === undefined) return "–";
  const value = (x * 100).toFixed(Math.abs(x) >= 0.1 ? 0 : 1);
  return (signed && x >= 0 ? "+" : "") + value + "%";
}

// A lift in words with one decimal: "+12.4% (+3.1% to +21.7%)".
function liftWords(lift) {
  const one = (x) => `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(1)}%`;
  return `${one(lift.estimate)} (${one(lift.ci_low)} to ${one(lift.ci_high)})`;
}

// What a comparison's state means, in a few words.
const STATES = {
  won: "won", lost: "lost", draw: "a draw", inconclusive: "no clear difference yet",
  not_enough_data: "not enough data yet", no_result: "no result", sample_ratio_mismatch: "sample ratio mismatch",
};

function number(x, digits = 0) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
}

// The interval as a bar on an axis centred on zero, with the estimate marked; its words are
// in the table beside it for anyone not reading the picture.
function intervalBar(el, lift, scale) {
  const bar = el("div", { class: "interval", role: "img",
    "aria-label": `${percent(lift.estimate, true)}, interval ${percent(lift.ci_low, true)} to ${percent(lift.ci_high, true)}` });
  const at = (x) => 50 + Math.max(-50, Math.min(50, (x / scale) * 50));
  const span = el("span", { class: lift.ci_low > 0 ? "range good" : lift.ci_high < 0 ? "range bad" : "range" });
  span.style.left = `${at(lift.ci_low)}%`;
  span.style.width = `${Math.max(0.5, at(lift.ci_high) - at(lift.ci_low))}%`;
  const mark = el("span", { class: "estimate" });
  mark.style.left = `${at(lift.estimate)}%`;
  bar.append(el("span", { class: "zero" }), span, mark);
  return bar;
}

// The exposed visitors of each arm, cumulative, by day of first exposure.
function dailyChart(el, series, arms, period) {
  const days = [...new Set(series.map((d) => d.day))].sort();
  const lines = arms.map((arm) => {
    let total = 0;
    return { label: arm, values: days.map((d) => {
      const row = series.find((s) => s.day === d && s.arm === arm);
      total += row ? row.visitors : 0;
      return total;
    }) };
  });
  return lineChart(el, "Exposed visitors, cumulative", days, lines, "visitors", period);
}

function nps(e) {
  return e ? `${e.value.toFixed(0)} (${e.ci_low.toFixed(0)} to ${e.ci_high.toFixed(0)})` : "–";
}

function share(e) {
  return e ? `${percent(e.value)} (${percent(e.ci_low)} to ${percent(e.ci_high)})` : "–";
}

// A line per series over `days` (YYYY-MM-DD), on a time axis that spans the period asked
// (`{from, to}`, widened to any day outside it), whether one day or sixty.
function lineChart(el, title, days, series, label, period) {
  if (days.length === 0) return null;
  const first = [period.from, ...days].sort()[0];
  const last = [period.to, ...days].sort().at(-1);
  const seconds = (d) => Date.parse(`${d}T00:00:00Z`) / 1000;
  const span = [seconds(first), seconds(last) + 864e2];
  const host = el("div", { class: "chart", role: "img", "aria-label": `${title}, ${first} to ${last}`,
    "data-from": first, "data-to": last });
  const colours = ["#0b6e5f", "#c2571a", "#5b6770", "#7b3fa0", "#1d5fa8", "#a3261b", "#1c7c3a", "#8a5a00", "#333"];
  new uPlot({
    width: 640, height: 220, title,
    scales: { x: { time: true, range: () => span } },
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colours[i % colours.length], width: 2 }))],
    axes: [{}, { label }],
  }, [days.map(seconds), ...series.map((s) => s.values)], host);
  return host;
}

// The other analyses, each from its own endpoint with the same filters.
const OTHERS = {
  // What each experience did (the daily reports summed over the period).
  experiences(el, table, body) {
    const totals = body.totals;
    if (totals.length === 0) {
      return [el("p", { class: "empty", text: "No experience has been shown in this period yet. Impressions appear here within seconds of a shopper seeing one." })];
    }
    const impressions = totals.reduce((sum, t) => sum + t.impressions, 0);
    return [
      el("p", { class: "headline", text: `${impressions} impressions of ${new Set(totals.map((t) => t.experience)).size} experiences` }),
      table("Experiences", ["Experience", "Rule", "Arm", "Impressions", "Clicks", "Click-through", "Dismissals", "Control exposures", "Conversions", "Revenue"],
        totals.map((t) => [t.experience, t.rule, t.variant || "–", t.impressions, t.clicks, percent(t.click_through_rate),
          t.dismissals, t.exposures, t.conversions, number(t.revenue, 2)])),
    ];
  },
  satisfaction(el, table, body) {
    const rows = (list) => list.map((g) => [g.key, g.nps_answers, nps(g.nps), g.csat_answers, share(g.csat)]);
    const heads = ["Group", "NPS answers", "NPS (95% interval)", "CSAT answers", "CSAT (95% interval)"];
    const o = body.overall;
    return [
      el("p", { class: "headline", text: `NPS ${nps(o.nps)} from ${o.nps_answers} answers; CSAT ${share(o.csat)} from ${o.csat_answers}` }),
      lineChart(el, "NPS by week", body.weekly.map((w) => w.key), [{ label: "NPS", values: body.weekly.map((w) => (w.nps ? w.nps.value : null)) }], "NPS", body),
      table("NPS and CSAT by week", heads, rows(body.weekly)),
      table("By segment", heads, rows(body.by_segment)),
      table("By page kind", heads, rows(body.by_page_kind)),
      table("By experience", heads, rows(body.by_experience)),
      table("By lifecycle stage", heads, rows(body.by_stage)),
      table("Comments with low scores", ["Day", "Survey", "Score", "Page", "Comment"],
        body.low_score_comments.map((c) => [c.day, c.survey, c.score, c.page, c.comment])),
    ];
  },
  lifecycle(el, table, body) {
    const days = body.daily.map((d) => d.day);
    const stages = body.funnel.map((f) => f.stage);
    return [
      table("Funnel (visitor-days)", ["Stage", "Visitor-days"], body.funnel.map((f) => [f.stage, f.visitors])),
      lineChart(el, "Visitors per stage, by day", days,
        stages.map((stage, i) => ({ label: stage, values: body.daily.map((d) => d.stages[i].visitors) })), "visitors", body),
      table("Moves between stages", ["From", "To", "Visitors"], body.movements.map((m) => [m.from, m.to, m.visitors])),
    ];
  },
  "weak-spots"(el, table, body) {
    const pages = (list) => list.map((p) => [p.path, p.kind, p.views, p.landings, p.quick_exits,
      p.quick_exit_rate ? share(p.quick_exit_rate) : "–", p.rage_clicks, p.detractors]);
    const heads = ["Page", "Kind", "Views", "Landings", "Quick exits", "Quick-exit rate", "Rage clicks", "Detractors"];
    const pct = (x) => (x == null ? "–" : `${(x * 100).toFixed(1)}%`);
    // Ranked by how many more than the site's own rate predicts for the traffic.
    const excess = (caption, key, count, base, siteRate, list) =>
      table(caption, [key, count, base, "Rate (95% interval)", `Expected at the site's ${pct(siteRate)}`, "Excess"],
        list.map((x) => [x.key, x.count, x.base, share(x.rate), x.expected.toFixed(1), `+${x.excess.toFixed(1)}`]));
    const site = body.site_rates;
    return [
      el("p", { class: "method", text: `Ranked by excess: how many more than the site's own rate predicts, where the page's or query's 95% interval lies above that rate, with at least ${body.minimum_base} landings, views or searches and ${body.minimum_count} occurrences.` }),
      excess("Pages by quick exits", "Page", "Quick exits", "Landings", site.quick_exits_per_landing, body.by_quick_exits),
      excess("Pages by rage clicks", "Page", "Rage clicks", "Views", site.rage_clicks_per_view, body.by_rage_clicks),
      excess("Pages by detractors", "Page", "Detractors", "Views", site.detractors_per_view, body.by_detractors),
      excess("Searches that found nothing", "Query", "Found nothing", "Searches", site.empty_results_per_search, body.zero_result_searches),
      table("Sold-out products viewed", ["Product", "Name", "Views"], body.sold_out_products.map((p) => [p.key, p.name, p.count])),
      table("Every page", heads, pages(body.pages)),
    ];
  },
  segments(el, table, body) {
    const flagged = body.segments.filter((s) => s.needs_attention);
    const unjudged = body.matured_to
      ? "Not enough data to judge any segment yet: each side of a check needs 200 visitor-days (conversion) or 30 answers (NPS)."
      : `Not enough data to judge any segment yet: conversion is judged over days whose ${body.attribution_days}-day attribution window has closed, and this period has none. Pick a period that ends at least ${body.attribution_days} days ago.`;
    return [
      flagged.length
        ? el("ul", { class: "flags", "aria-label": "Segments that need attention" },
          ...flagged.flatMap((s) => s.flags.map((f) => el("li", { class: "banner bad", text: f }))))
        : el("p", { class: "empty", text: body.checks_judged ? "No segment needs attention in this period." : unjudged }),
      el("p", { class: "method", text: `How: ${body.method}.` }),
      table("Segments", ["Segment", "Visitor-days", "Conversion (95% interval)", "Rest of site", "NPS (95% interval)", "Needs attention", "Rules that target it"],
        body.segments.map((s) => [s.segment, s.visitor_days, share(s.conversion_rate), share(s.rest.conversion_rate), nps(s.nps),
          s.needs_attention ? "yes" : "no",
          s.rules.map((r) => `${r.rule} (${r.impressions} impressions${r.verdict ? `; ${r.verdict}` : ""})`).join("; ")])),
    ];
  },
};

export async function results({ api, el, app, table, errorText, site: sites }) {
  const out = el("div", { id: "results-out" });
  const field = (id, label, input) => el("div", {}, el("label", { for: id, text: label }), input);
  const site = sites.picker("site");
  const from = el("input", { id: "from", type: "date", value: day(-6) });
  const to = el("input", { id: "to", type: "date", value: day(0) });
  const interval = el("select", { id: "interval" },
    el("option", { value: "fixed", text: "Fixed (read once)" }),
    el("option", { value: "sequential", text: "Always valid (look any day)" }));
  const what = el("select", { id: "analysis" },
    ...["experiments", "experiences", "satisfaction", "lifecycle", "weak-spots", "segments"].map((a) => el("option", { value: a, text: a.replace("-", " ") })));
  // Satisfaction and segments can be read for one segment; the other analyses are not
  // broken down by segment, and the filter says so rather than being ignored.
  const segment = el("select", { id: "segment" }, el("option", { value: "", text: "All visitors" }));
  const segmentHint = el("span", { class: "muted", id: "segment-hint" });
  const BY_SEGMENT = ["satisfaction", "segments"];
  const segmentState = () => {
    const applies = BY_SEGMENT.includes(what.value);
    if (applies) segment.removeAttribute("disabled");
    else segment.setAttribute("disabled", "");
    segmentHint.textContent = applies ? "" : "Satisfaction and segments only";
  };
  what.addEventListener("change", segmentState);
  segmentState();
  // The segments of the period, from the segments analysis (the one just shown, when it is).
  const fillSegments = async (shown) => {
    let body = shown;
    if (!body) {
      const q = new URLSearchParams({ site: site.value, from: from.value, to: to.value }).toString();
      const answer = await api(`/v1/admin/analytics/segments?${q}`);
      body = answer.status === 200 ? answer.body : null;
    }
    const names = body ? body.segments.map((s) => s.segment) : [];
    const chosen = segment.value;
    segment.replaceChildren(el("option", { value: "", text: "All visitors" }), ...names.map((n) => {
      const option = el("option", { value: n, text: n });
      if (n === chosen) option.setAttribute("selected", "");
      return option;
    }));
  };
  const form = el("form", { class: "filters" }, field("analysis", "Show", what), field("site", "Site", site),
    field("from", "From", from), field("to", "To", to),
    el("div", {}, el("label", { for: "segment", text: "Segment" }), segment, segmentHint),
    field("interval", "Interval", interval),
    el("button", { type: "submit", text: "Show" }));
  // Only the latest load may draw: an earlier one still waiting (a slow period, the
  // experiments' daily series) must not replace what the marketer asked for since.
  let latest = 0;
  const load = async () => {
    const mine = ++latest;
    const stale = () => mine !== latest;
    if (what.value !== "segments") fillSegments(null);
    if (what.value !== "experiments") {
      out.replaceChildren(el("p", { text: "Loading…" }));
      const params = { site: site.value, from: from.value, to: to.value };
      if (BY_SEGMENT.includes(what.value) && segment.value) params.segment = segment.value;
      const q = new URLSearchParams(params).toString();
      const path = what.value === "experiences" ? "/v1/admin/reports" : `/v1/admin/analytics/${what.value}`;
      const answer = await api(`${path}?${q}`);
      if (stale()) return;
      // Read for the whole period, the segments analysis lists every segment for the filter;
      // read for one segment, it lists only that one.
      if (what.value === "segments") fillSegments(answer.status === 200 && !params.segment ? answer.body : null);
      if (answer.status !== 200) {
        out.replaceChildren(el("p", { class: "error", role: "alert", text: errorText(answer) }));
        return;
      }
      out.replaceChildren(...OTHERS[what.value](el, table, answer.body).filter(Boolean));
      return;
    }
    out.replaceChildren(el("p", { text: "Loading…" }));
    const query = new URLSearchParams({ site: site.value, from: from.value, to: to.value, interval: interval.value }).toString();
    const answer = await api(`/v1/admin/analytics/experiments?${query}`);
    if (stale()) return;
    if (answer.status !== 200) {
      out.replaceChildren(el("p", { class: "error", role: "alert", text: errorText(answer) }));
      return;
    }
    const experiments = answer.body.experiments.filter((e) => e.arms.some((a) => a.visitors > 0));
    if (experiments.length === 0) {
      out.replaceChildren(el("p", { class: "empty", text:
        "No experiment has visitors in this period yet. Experiments count a visitor when the experience's trigger fires; on the demo, `cargo xtask seed` replays a few thousand shoppers." }));
      return;
    }
    const sections = [];
    for (const e of experiments) {
      const name = e.programme ? "Rapport as a whole (universal holdout)" : e.rule;
      const arms = table(`${name}: arms`, ["Arm", "Visitors", "Share", "Converted", "Conversion rate", "Revenue per visitor"],
        e.arms.map((a) => [a.arm + (a.baseline ? " (baseline)" : ""), a.visitors, a.weight === undefined ? "–" : percent(a.weight),
          a.conversion.sum, percent(a.conversion.mean), number(a.revenue.mean, 2)]));
      const scale = Math.max(0.1, ...e.comparisons.filter((c) => c.lift).map((c) => Math.max(Math.abs(c.lift.ci_low), Math.abs(c.lift.ci_high))));
      // Each lift as a number with its interval, its state and its adjusted p-value, beside
      // its bar and the verdict in words.
      const lifts = el("ul", { class: "lifts" }, ...e.comparisons.map((c) => el("li", { class: `state-${c.state}` },
        el("span", { class: "what", text: `${c.arm}, ${c.metric}` }),
        c.lift ? intervalBar(el, c.lift, scale) : el("span", { class: "interval none", text: "no interval" }),
        el("span", { class: "verdict" },
          el("span", { class: "numbers", text: c.lift
            ? `${liftWords(c.lift)}: ${STATES[c.state] || c.state}, adjusted p = ${c.adjusted_p_value.toFixed(3)}. `
            : `${STATES[c.state] || c.state}. ` }),
          c.verdict))));
      // The p-value each state is judged on: adjusted for every comparison of the experiment.
      const liftTable = table(`${name}: lifts`, ["Arm", "Metric", "Lift", "95% interval", "p-value", "Adjusted p-value", "Verdict"],
        e.comparisons.map((c) => [c.arm, c.metric + (c.primary ? " (primary)" : ""), c.lift ? percent(c.lift.estimate, true) : "–",
          c.lift ? `${percent(c.lift.ci_low, true)} to ${percent(c.lift.ci_high, true)}` : "–",
          c.lift ? c.lift.p_value.toFixed(3) : "–",
          c.adjusted_p_value === undefined ? "–" : c.adjusted_p_value.toFixed(3), c.verdict]));
      const banner = e.sample_ratio_mismatch
        ? el("p", { class: "banner bad", role: "alert", text: e.verdict })
        : el("p", { class: "headline", text: e.verdict });
      // How long it still needs, at its traffic in this period.
      const duration = e.duration ? el("p", { class: "duration", text: e.duration.words }) : null;
      const path = e.programme ? "~programme" : encodeURIComponent(e.rule);
      const detail = await api(`/v1/admin/analytics/experiments/${path}?${query}`);
      const chart = detail.status === 200 ? dailyChart(el, detail.body.daily, e.arms.map((a) => a.arm), detail.body) : null;
      sections.push(el("section", { class: "experiment", "aria-label": name }, el("h3", { text: name }), banner, duration, lifts, chart, arms, liftTable));
    }
    if (!stale()) out.replaceChildren(...sections);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  app.replaceChildren(el("h2", { text: "Results" }), form, out);
  load();
}
