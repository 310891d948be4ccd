// The console's pure helpers, against values worked out by hand.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  csv,
  cumulative,
  day,
  dayText,
  liftWords,
  money,
  nps,
  percent,
  plural,
  share,
  slug,
  timeText,
} from "../src/format.js";

test("CSV quotes every cell and doubles quotes inside one (RFC 4180)", () => {
  const rows = [
    ["Page", "Comment"],
    ["/a,b", 'said "late"'],
    ["line\nbreak", 3],
  ];
  assert.equal(csv(rows), '"Page","Comment"\r\n"/a,b","said ""late"""\r\n"line\nbreak","3"');
  assert.equal(csv([[null, undefined, 0]]), '"","","0"');
});

test("a caption becomes a file name", () => {
  assert.equal(slug("Impact by experience"), "impact-by-experience");
  assert.equal(slug("welcome: arms"), "welcome-arms");
  assert.equal(slug("  NPS (95%) "), "nps-95");
});

test("a share is whole above 10% and has one decimal below", () => {
  assert.equal(percent(0.181), "18%");
  assert.equal(percent(0.0456), "4.6%");
  assert.equal(percent(0.05, true), "+5.0%");
  assert.equal(percent(-0.25, true), "-25%");
  assert.equal(percent(null), "–");
  assert.equal(percent(undefined), "–");
});

test("counts", () => {
  assert.equal(plural(1, "error"), "1 error");
  assert.equal(plural(0, "warning"), "0 warnings");
});

test("a lift reads with its interval and a true minus sign", () => {
  assert.equal(liftWords({ estimate: 0.124, ci_low: 0.031, ci_high: 0.217 }), "+12.4% (+3.1% to +21.7%)");
  assert.equal(liftWords({ estimate: -0.05, ci_low: -0.12, ci_high: 0.02 }), "−5.0% (−12.0% to +2.0%)");
});

test("NPS and shares with their intervals", () => {
  assert.equal(nps({ value: 41.6, ci_low: 29.5, ci_high: 54.49 }), "42 (30 to 54)");
  assert.equal(nps(null), "–");
  assert.equal(share({ value: 0.316, ci_low: 0.288, ci_high: 0.345 }), "32% (29% to 35%)");
});

test("a day is counted in UTC", () => {
  const noon = Date.parse("2026-03-01T12:00:00Z");
  assert.equal(day(0, noon), "2026-03-01");
  assert.equal(day(-1, noon), "2026-02-28");
  assert.equal(day(-6, Date.parse("2026-01-03T23:59:59Z")), "2025-12-28");
});

test("daily counts become running totals per arm, a missing day adding nothing", () => {
  const series = [
    { day: "2026-03-02", arm: "b", visitors: 4 },
    { day: "2026-03-01", arm: "a", visitors: 2 },
    { day: "2026-03-02", arm: "a", visitors: 3 },
  ];
  assert.deepEqual(cumulative(series, ["a", "b"]), {
    days: ["2026-03-01", "2026-03-02"],
    lines: [
      { label: "a", values: [2, 5] },
      { label: "b", values: [0, 4] },
    ],
  });
  assert.deepEqual(cumulative([], ["a"]), { days: [], lines: [{ label: "a", values: [] }] });
});

test("money is in the shop's currency, as the locale writes it", () => {
  assert.equal(money(12.5, "EUR", "en-GB"), "€12.50");
  assert.equal(money(1234.5, "EUR", "de-DE"), "1.234,50\u00a0€");
  assert.equal(money(3, "USD", "en-US"), "$3.00");
  assert.equal(money(null, "EUR", "en-GB"), "–");
});

test("days and moments share one date format, the locale's", () => {
  assert.equal(dayText("2026-12-03", "en-GB"), "3 Dec 2026");
  assert.equal(dayText("2026-12-03", "en-US"), "Dec 3, 2026");
  assert.equal(dayText("not a day", "en-GB"), "not a day");
  assert.ok(timeText(Date.parse("2026-12-03T10:00:00Z"), "en-GB").startsWith("3 Dec 2026"));
});
