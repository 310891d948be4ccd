// Pure formatting: numbers, shares and intervals in words, dates, and CSV. No DOM here, so
// `node --test` checks all of it (`console/test`).

/// The day `offset` days from `now` (milliseconds), as YYYY-MM-DD in UTC.
export function day(offset, now = Date.now()) {
  return new Date(now + offset * 864e5).toISOString().slice(0, 10);
}

/// A share as a percentage: whole above 10%, one decimal below; "–" when there is none.
export function percent(x, signed = false) {
  if (x === null || x === undefined) return "–";
  const value = (x * 100).toFixed(Math.abs(x) >= 0.1 ? 0 : 1);
  return `${signed && x >= 0 ? "+" : ""}${value}%`;
}

/// A lift in words with one decimal: "+12.4% (+3.1% to +21.7%)".
export function liftWords(lift) {
  const one = (x) => `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(1)}%`;
  return `${one(lift.estimate)} (${one(lift.ci_low)} to ${one(lift.ci_high)})`;
}

/// An NPS estimate with its interval: "42 (30 to 55)".
export function nps(e) {
  return e ? `${e.value.toFixed(0)} (${e.ci_low.toFixed(0)} to ${e.ci_high.toFixed(0)})` : "–";
}

/// A share estimate with its interval: "18% (16% to 21%)".
export function share(e) {
  return e ? `${percent(e.value)} (${percent(e.ci_low)} to ${percent(e.ci_high)})` : "–";
}

/// A count and a noun, pluralised with an s: "1 error", "2 errors".
export function plural(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/// Rows as CSV (RFC 4180): every cell quoted, quotes doubled, lines joined by CRLF.
export function csv(rows) {
  return rows.map((row) => row.map((c) => `"${String(c ?? "").replaceAll('"', '""')}"`).join(",")).join("\r\n");
}

/// A caption as a file name: "Impact by experience" → "impact-by-experience".
export function slug(caption) {
  return caption
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

/// Each arm's daily counts (`[{day, arm, visitors}]`) as running totals over the sorted days
/// that occur: `{days, lines: [{label, values}]}`, an arm absent on a day adding nothing.
export function cumulative(series, arms) {
  const days = [...new Set(series.map((d) => d.day))].sort();
  const lines = arms.map((arm) => {
    let total = 0;
    const values = days.map((d) => {
      total += series.find((s) => s.day === d && s.arm === arm)?.visitors ?? 0;
      return total;
    });
    return { label: arm, values };
  });
  return { days, lines };
}

/// An amount of money in `currency` (ISO 4217), as the reader's locale writes it; "–" when
/// there is none.
export function money(x, currency, locale = undefined) {
  if (x === null || x === undefined) return "–";
  return new Intl.NumberFormat(locale, { style: "currency", currency: currency || "EUR" }).format(x);
}

/// A UTC day (`YYYY-MM-DD`) as the reader's locale writes dates: the console's one date
/// format.
export function dayText(day, locale = undefined) {
  const at = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(at)) return day;
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone: "UTC" }).format(at);
}

/// A moment (milliseconds since the epoch) in the same date format, with the time.
export function timeText(ms, locale = undefined) {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(ms);
}

/// What changes between two rulebooks (`POST /v1/admin/changes`), one line per rule,
/// segment or file, in words.
export function changeLines(c) {
  const lines = [];
  const where = (n) => `${n.file}:${n.line}`;
  for (const [kind, changed] of [
    ["rule", c.rules],
    ["segment", c.segments],
  ]) {
    const about = (n) => (n.description ? `: “${n.description}”` : "");
    for (const n of changed.added) lines.push(`Added ${kind} ${n.name}${about(n)} (${where(n)})`);
    for (const n of changed.changed) lines.push(`Changed ${kind} ${n.name} (${where(n)})`);
    for (const n of changed.removed) lines.push(`Removed ${kind} ${n.name} (was in ${n.file})`);
  }
  for (const file of c.other_code) lines.push(`Other code changed in ${file} (helpers or settings)`);
  for (const file of c.tests) lines.push(`Test cases changed in ${file}`);
  if (lines.length === 0) lines.push("No rule, segment or test changes: it reads the same as the other version.");
  const same = c.rules.unchanged + c.segments.unchanged;
  if (same > 0)
    lines.push(same === 1 ? "1 other rule or segment unchanged" : `${same} other rules and segments unchanged`);
  return lines;
}

/// The reach of a change over the visitor sample (`POST /v1/admin/impact`), in words.
export function reachLines(r) {
  if (r.visitors === 0)
    return ["No recent visitors of this site are in the sample yet, so the reach cannot be measured."];
  const lines = [`Of ${r.visitors} recent visitors, ${r.changed} would get something different.`];
  for (const e of r.experiences) {
    if (e.gained > 0) lines.push(`+${e.gained} start seeing ${e.experience}`);
    if (e.lost > 0) lines.push(`${e.lost} stop seeing ${e.experience}`);
  }
  return lines;
}

/// A rule skeleton that targets a finding of Results, to start writing from: a page (`path`,
/// with what was found there), a search that found nothing (`query`), or a flagged `segment`.
/// Gives the file to add it to, its rule id and text, and the visitor and page to simulate.
export function ruleFor(finding) {
  const quoted = (s) => JSON.stringify(String(s));
  const slugOf = (s) =>
    String(s)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 32) || "page";
  const show = (kind, body) => `show: #{ kind: "${kind}", content: #{ en: #{ body: ${quoted(body)} } } }`;
  if (finding.query !== undefined) {
    const id = `search-${slugOf(finding.query)}`;
    const text =
      `// From Results: searches for ${quoted(finding.query)} found nothing.\n` +
      `rule("${id}", #{ description: ${quoted(`Searches for "${finding.query}" that find nothing`)}, priority: 20,\n` +
      `    who: |v| v.searches.last_query == ${quoted(finding.query)} && v.searches.last_results == 0,\n` +
      `    ${show("bar", "We have nothing by that name yet: tell us what you were looking for.")} });\n`;
    const visitor = { visits: 1, searches: [{ query: finding.query, results: 0, at_ms: "-1m" }] };
    return { id, text, visitor, page: { kind: "search", path: "/search" } };
  }
  if (finding.segment !== undefined) {
    const id = `for-${slugOf(finding.segment)}`;
    const text =
      `// From Results: the segment ${quoted(finding.segment)} needs attention${finding.why ? `: ${finding.why}` : "."}\n` +
      `rule("${id}", #{ description: ${quoted(`For ${finding.segment}, flagged in Results`)}, priority: 20,\n` +
      `    who: ${quoted(finding.segment)},\n` +
      `    ${show("bar", "Something just for you.")} });\n`;
    return { id, text, visitor: { visits: 2 }, page: { kind: "home", path: "/" } };
  }
  const id = `help-${slugOf(finding.path)}`;
  const text =
    `// From Results: ${finding.what} on ${finding.path}.\n` +
    `rule("${id}", #{ description: ${quoted(`Help shoppers on ${finding.path}`)}, priority: 20,\n` +
    `    path: ${quoted(finding.path)},\n` +
    `    ${show("slide_in", "Can we help? Tell us what you were looking for.")},\n` +
    `    when: #{ after_seconds: 10 } });\n`;
  return { id, text, visitor: { visits: 1 }, page: { kind: finding.kind || null, path: finding.path } };
}
