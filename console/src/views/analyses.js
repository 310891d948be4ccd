// The analyses other than experiments, each drawn from its endpoint's answer: what each
// experience did, satisfaction, lifecycle, weak spots and segments.

import { api, errorText } from "../api.js";
import { lineChart } from "../charts.js";
import { el, field, table } from "../dom.js";
import { dayText, money, nps, percent, share } from "../format.js";
import { shopCurrency, siteName } from "../site.js";

/// Where each analysis is read, and how its answer is drawn (a list of elements).
export const ANALYSES = {
  experiences: { path: "/v1/admin/reports", draw: experiences },
  satisfaction: { path: "/v1/admin/analytics/satisfaction", draw: satisfaction, bySegment: true },
  lifecycle: { path: "/v1/admin/analytics/lifecycle", draw: lifecycle },
  "weak-spots": { path: "/v1/admin/analytics/weak-spots", draw: weakSpots },
  segments: { path: "/v1/admin/analytics/segments", draw: segments, bySegment: true },
};

// The live rulebook's experiences with no impression in the period, each with why, from
// the rulebook's own trace over the site's recent visitors (the impact of the live rulebook
// against itself: nothing changes, and what reaches no one names its main reason).
function notShown(totals) {
  const out = el("section", { id: "not-shown", "aria-labelledby": "not-shown-title", "aria-live": "polite" });
  const seen = new Set(totals.filter((t) => t.impressions > 0).map((t) => t.experience));
  (async () => {
    const versions = await api("/v1/admin/rulebooks");
    const active = versions.body?.active;
    const version = await api(active ? `/v1/admin/rulebooks/${active}` : "/v1/admin/rulebooks/builtin");
    if (version.status !== 200) return out.replaceChildren(el("p", { class: "error", text: errorText(version) }));
    const impact = await api("/v1/admin/impact", {
      method: "POST",
      body: { site: siteName(), files: version.body.files },
    });
    if (impact.status !== 200) return out.replaceChildren(el("p", { class: "error", text: errorText(impact) }));
    const r = impact.body;
    const quiet = r.experiences.filter((e) => !seen.has(e.experience));
    if (quiet.length === 0) return out.replaceChildren();
    const line = (e) => {
      if (r.visitors === 0) return `${e.experience} (rule ${e.rule}): no recent visitors in the sample to say why yet.`;
      if (e.why) {
        return `${e.experience} (rule ${e.rule}): not shown: ${e.why.reason}, for ${e.why.visitors} of ${e.why.of} recent visitors.`;
      }
      return `${e.experience} (rule ${e.rule}): it would reach ${e.now} of ${r.visitors} recent visitors on their last page; it waits for its trigger, or they have not been back since it went live.`;
    };
    out.replaceChildren(
      el("h3", { id: "not-shown-title", text: "Experiences with no impressions in this period" }),
      el("ul", {}, ...quiet.map((e) => el("li", { text: line(e) }))),
    );
  })().catch((err) => out.replaceChildren(el("p", { class: "error", text: err.message })));
  return out;
}

// What each experience did (the daily reports summed over the period).
function experiences(body) {
  const totals = body.totals;
  if (totals.length === 0) {
    const text =
      "No experience has been shown in this period yet. Impressions appear here within seconds of a shopper seeing one.";
    return [el("p", { class: "empty", text }), notShown(totals)];
  }
  const impressions = totals.reduce((sum, t) => sum + t.impressions, 0);
  const count = new Set(totals.map((t) => t.experience)).size;
  const heads = ["Experience", "Rule", "Arm", "Impressions (every showing)", "Clicks", "Click-through", "Dismissals"];
  const rows = totals.map((t) => [
    t.experience,
    t.rule,
    t.variant || "–",
    t.impressions,
    t.clicks,
    percent(t.click_through_rate),
    t.dismissals,
    t.exposures,
    t.conversions,
    money(t.revenue, shopCurrency()),
  ]);
  return [
    el("p", { class: "headline", text: `${impressions} impressions of ${count} experiences` }),
    el("p", {
      class: "method",
      text:
        "Impressions count every showing, so one visitor shown a bar on five pages makes five; Experiments count " +
        "each exposed visitor once. A conversion here is a purchase by a visitor who saw the experience (or was held " +
        "out of it) in the 7 days before, once per purchase and experience; Experiments count each visitor's " +
        "purchases within the attribution window after their first exposure.",
    }),
    table("Experiences", [...heads, "Control exposures", "Conversions (7 days after seeing it)", "Revenue"], rows),
    notShown(totals),
  ];
}

function satisfaction(body) {
  const o = body.overall;
  const split = (g) =>
    g.nps_answers ? `${g.promoters} promoters, ${g.passives} passives, ${g.detractors} detractors` : "";
  const rows = (list, key = (g) => g.key) =>
    list.map((g) => [
      key(g),
      g.nps_answers,
      nps(g.nps),
      g.promoters,
      g.passives,
      g.detractors,
      g.csat_answers,
      share(g.csat),
    ]);
  const heads = [
    "Group",
    "NPS answers",
    "NPS (95% interval)",
    "Promoters (9–10)",
    "Passives (7–8)",
    "Detractors (0–6)",
    "CSAT answers",
    "CSAT (95% interval)",
  ];
  const weeks = body.weekly.map((w) => w.key);
  const weekly = [
    { label: "NPS", values: body.weekly.map((w) => w.nps?.value ?? null) },
    { label: "95% interval, low", values: body.weekly.map((w) => w.nps?.ci_low ?? null) },
    { label: "95% interval, high", values: body.weekly.map((w) => w.nps?.ci_high ?? null) },
  ];
  const rate = body.response_rate;
  const answered = body.responses.reduce((n, r) => n + Math.min(r.answers, r.shown), 0);
  const shown = body.responses.reduce((n, r) => n + r.shown, 0);
  // Too few answers for a steady reading: said, with how many more it takes.
  const enough =
    o.nps_answers >= NPS_FIRST_READING
      ? ""
      : el("p", {
          id: "nps-enough",
          class: "empty",
          text: `Not enough data yet for a steady NPS: ${NPS_FIRST_READING} answers make a first reading (as each side of a segment check needs); ${o.nps_answers} so far, ${NPS_FIRST_READING - o.nps_answers} more needed.`,
        });
  return [
    el("p", {
      class: "headline",
      text: `NPS ${nps(o.nps)} from ${o.nps_answers} answers${o.nps_answers ? ` (${split(o)})` : ""}; CSAT ${share(o.csat)} from ${o.csat_answers}`,
    }),
    enough,
    el("p", {
      id: "response-rate",
      class: "headline",
      text: rate
        ? `${share(rate)} of the surveys shown were answered (${answered} of ${shown})`
        : body.segment
          ? "Response rates are for the whole site: impressions are not counted by segment."
          : "No survey has been shown in this period yet.",
    }),
    body.responses.length
      ? table(
          "Survey responses",
          ["Survey", "Kind", "Shown", "Answered", "Response rate (95% interval)"],
          body.responses.map((r) => [r.experience, r.survey.toUpperCase(), r.shown, r.answers, share(r.rate)]),
        )
      : null,
    lineChart("NPS by week, with its 95% interval", weeks, weekly, "NPS", body),
    table(
      "NPS and CSAT by week",
      ["Week of", ...heads.slice(1)],
      rows(body.weekly, (g) => dayText(g.key)),
    ),
    table("By segment", heads, rows(body.by_segment)),
    table("By page kind", heads, rows(body.by_page_kind)),
    table("By experience", heads, rows(body.by_experience)),
    table("By lifecycle stage", heads, rows(body.by_stage)),
    ...comments(body),
  ];
}

// The comments that came with low scores: grouped by page and by experience, each group
// with its newest, and all of them searchable.
function comments(body) {
  const groups = (caption, key, list) =>
    table(
      caption,
      [key, "Comments", "Newest"],
      list.map((g) => [g.key, g.comments, g.latest.map((c) => `“${c.comment}” (${c.score})`).join(" · ")]),
    );
  const all = table(
    "Comments with low scores",
    ["Day", "Survey", "Score", "Page", "Experience", "Comment"],
    body.low_score_comments.map((c) => [
      dayText(c.day),
      c.survey.toUpperCase(),
      c.score,
      c.page,
      c.experience,
      c.comment,
    ]),
  );
  const search = el("input", { id: "comment-search", type: "search", placeholder: "Words, a page or an experience" });
  const found = el("p", { class: "muted", id: "comment-count", "aria-live": "polite" });
  const filter = () => {
    const words = search.value.trim().toLowerCase();
    let shownRows = 0;
    for (const row of all.querySelectorAll("tbody tr:not(.empty-row)")) {
      row.hidden = words !== "" && !row.textContent.toLowerCase().includes(words);
      if (!row.hidden) shownRows += 1;
    }
    found.textContent = words ? `${shownRows} comments match “${search.value.trim()}”.` : "";
  };
  search.addEventListener("input", filter);
  return [
    el("h3", { text: "What low scorers said" }),
    groups("Low-score comments by page", "Page", body.comments_by_page),
    groups("Low-score comments by experience", "Experience", body.comments_by_experience),
    el("div", { class: "filters" }, field("comment-search", "Search the comments", search), found),
    all,
  ];
}

function lifecycle(body) {
  const days = body.daily.map((d) => d.day);
  const stages = body.funnel.map((f) => f.stage);
  const lines = stages.map((stage, i) => ({ label: stage, values: body.daily.map((d) => d.stages[i].visitors) }));
  const total = body.funnel.reduce((n, f) => n + f.visitors, 0);
  return [
    el("p", {
      class: "method",
      text:
        "Each visitor counts once a day, in the stage they were in that day. Stages are where visitors stand, " +
        "not steps they pass: a visitor with a cart need not have been engaged first.",
    }),
    table(
      "Visitor-days by stage",
      ["Stage", "Visitor-days", "Share"],
      body.funnel.map((f) => [f.stage.replace("_", " "), f.visitors, total ? percent(f.visitors / total) : "–"]),
    ),
    lineChart("Visitors per stage, by day", days, lines, "visitors", body),
    table(
      "Moves between stages",
      ["From", "To", "Visitors"],
      body.movements.map((m) => [m.from, m.to, m.visitors]),
    ),
  ];
}

// A finding's next step: Write opens with a rule that targets it, simulated at once.
function writeButton(finding, label) {
  return el("button", {
    type: "button",
    class: "quiet write-rule",
    text: "Write a rule for this",
    "aria-label": `Write a rule for this: ${label}`,
    onclick: () => {
      sessionStorage.setItem("rapport:finding", JSON.stringify(finding));
      location.hash = "#write";
    },
  });
}

/// The answers an NPS needs before it is read (the segments' check asks as many per side).
const NPS_FIRST_READING = 30;

function weakSpots(body) {
  const pct = (x) => (x == null ? "–" : `${(x * 100).toFixed(1)}%`);
  const kindOf = (path) => body.pages.find((p) => p.path === path)?.kind;
  // Ranked by how many more than the site's own rate predicts for the traffic; each with
  // its next step.
  const thin =
    `Nothing ranks above the site's rate yet: a page or query is ranked once it has ${body.minimum_base} ` +
    `landings, views or searches and ${body.minimum_count} occurrences, and its 95% interval lies above the site's rate.`;
  const excess = (caption, key, count, base, siteRate, list, finding) =>
    table(
      caption,
      [key, count, base, "Rate (95% interval)", `Expected at the site's ${pct(siteRate)}`, "Excess", "Next step"],
      list.map((x) => [
        x.key,
        x.count,
        x.base,
        share(x.rate),
        x.expected.toFixed(1),
        `+${x.excess.toFixed(1)}`,
        writeButton(finding(x.key), x.key),
      ]),
      thin,
    );
  const onPage = (what) => (path) => ({ path, kind: kindOf(path), what });
  const site = body.site_rates;
  const pages = body.pages.map((p) => [
    p.path,
    p.kind,
    p.views,
    p.landings,
    p.quick_exits,
    p.quick_exit_rate ? share(p.quick_exit_rate) : "–",
    p.rage_clicks,
    p.detractors,
  ]);
  const heads = ["Page", "Kind", "Views", "Landings", "Quick exits", "Quick-exit rate", "Rage clicks", "Detractors"];
  const method =
    "Ranked by excess: how many more than the site's own rate predicts, where the page's or query's 95% interval " +
    `lies above that rate, with at least ${body.minimum_base} landings, views or searches and ${body.minimum_count} occurrences.`;
  const soldOut = body.sold_out_products.map((p) => [p.key, p.name, p.count]);
  return [
    el("p", { class: "method", text: method }),
    excess(
      "Pages by quick exits",
      "Page",
      "Quick exits",
      "Landings",
      site.quick_exits_per_landing,
      body.by_quick_exits,
      onPage("more quick exits than the site's rate predicts"),
    ),
    excess(
      "Pages by rage clicks",
      "Page",
      "Rage clicks",
      "Views",
      site.rage_clicks_per_view,
      body.by_rage_clicks,
      onPage("more rage clicks than the site's rate predicts"),
    ),
    excess(
      "Pages by detractors",
      "Page",
      "Detractors",
      "Views",
      site.detractors_per_view,
      body.by_detractors,
      onPage("more detractors than the site's rate predicts"),
    ),
    excess(
      "Searches that found nothing",
      "Query",
      "Found nothing",
      "Searches",
      site.empty_results_per_search,
      body.zero_result_searches,
      (query) => ({ query }),
    ),
    table("Sold-out products viewed", ["Product", "Name", "Views"], soldOut),
    table("Every page", heads, pages),
  ];
}

function segments(body) {
  const flagged = body.segments.filter((s) => s.needs_attention);
  const unjudged = body.matured_to
    ? "Not enough data to judge any segment yet: each side of a check needs 200 visitor-days (conversion) or 30 answers (NPS)."
    : `Not enough data to judge any segment yet: conversion is judged over days whose ${body.attribution_days}-day ` +
      `attribution window has closed, and this period has none. Pick a period that ends at least ${body.attribution_days} days ago.`;
  const flags = flagged.flatMap((s) =>
    s.flags.map((f) =>
      el(
        "li",
        { class: "banner bad" },
        el("span", { text: f }),
        " ",
        writeButton({ segment: s.segment, why: f }, `the segment ${s.segment}`),
      ),
    ),
  );
  const targeting = (s) =>
    s.rules.map((r) => `${r.rule} (${r.impressions} impressions${r.verdict ? `; ${r.verdict}` : ""})`).join("; ");
  const rows = body.segments.map((s) => [
    s.segment,
    s.visitor_days,
    share(s.conversion_rate),
    share(s.rest.conversion_rate),
    nps(s.nps),
    s.needs_attention ? "yes" : "no",
    targeting(s),
  ]);
  const heads = ["Segment", "Visitor-days", "Conversion (95% interval)", "Rest of site", "NPS (95% interval)"];
  return [
    flagged.length
      ? el("ul", { class: "flags", "aria-label": "Segments that need attention" }, ...flags)
      : el("p", { class: "empty", text: body.checks_judged ? "No segment needs attention in this period." : unjudged }),
    el("p", { class: "method", text: `How: ${body.method}.` }),
    table("Segments", [...heads, "Needs attention", "Rules that target it"], rows),
  ];
}
