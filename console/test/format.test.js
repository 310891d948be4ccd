// The console's pure helpers, against values worked out by hand.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  changeLines,
  csv,
  cumulative,
  day,
  dayText,
  liftWords,
  money,
  nps,
  percent,
  plural,
  reachLines,
  ruleFor,
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

test("changes read rule by rule, and say when nothing changes", () => {
  const none = { added: [], removed: [], changed: [], unchanged: 0 };
  const changes = {
    rules: {
      added: [{ name: "gift-wrap-it", description: "Gift wrap in Italy", file: "gifts.rhai", line: 4 }],
      removed: [{ name: "old-bar", description: "", file: "bars.rhai", line: 1 }],
      changed: [{ name: "welcome", description: "Hello", file: "welcome.rhai", line: 2 }],
      unchanged: 11,
    },
    segments: { ...none, unchanged: 3 },
    other_code: ["cart.rhai"],
    tests: ["tests/gifts.json"],
  };
  assert.deepEqual(changeLines(changes), [
    "Added rule gift-wrap-it: “Gift wrap in Italy” (gifts.rhai:4)",
    "Changed rule welcome (welcome.rhai:2)",
    "Removed rule old-bar (was in bars.rhai)",
    "Other code changed in cart.rhai (helpers or settings)",
    "Test cases changed in tests/gifts.json",
    "14 other rules and segments unchanged",
  ]);
  const same = { rules: { ...none, unchanged: 2 }, segments: none, other_code: [], tests: [] };
  assert.equal(changeLines(same)[0], "No rule, segment or test changes: it reads the same as the other version.");
});

test("the reach says who starts and stops seeing what", () => {
  const impact = {
    visitors: 1500,
    changed: 64,
    experiences: [
      { experience: "gift-wrap-it", gained: 61, lost: 0 },
      { experience: "welcome-offer", gained: 0, lost: 3 },
      { experience: "cart-reminder", gained: 0, lost: 0 },
    ],
  };
  assert.deepEqual(reachLines(impact), [
    "Of 1500 recent visitors, 64 would get something different.",
    "+61 start seeing gift-wrap-it",
    "3 stop seeing welcome-offer",
  ]);
  assert.match(reachLines({ visitors: 0, changed: 0, experiences: [] })[0], /cannot be measured/);
});

test("a finding becomes a rule skeleton that targets it, quoted for Rhai", () => {
  const page = ruleFor({ path: "/products/merino-wool-throw", kind: "product", what: "rage clicks" });
  assert.equal(page.id, "help-products-merino-wool-throw");
  assert.match(page.text, /path: "\/products\/merino-wool-throw",/);
  assert.deepEqual(page.page, { kind: "product", path: "/products/merino-wool-throw" });
  const query = ruleFor({ query: 'wet "suit"' });
  assert.equal(query.id, "search-wet-suit");
  assert.match(query.text, /v\.searches\.last_query == "wet \\"suit\\"" && v\.searches\.last_results == 0/);
  assert.equal(query.visitor.searches[0].query, 'wet "suit"');
  const segment = ruleFor({ segment: "stuck_searching", why: "conversion 2% below the rest" });
  assert.equal(segment.id, "for-stuck-searching");
  assert.match(segment.text, /who: "stuck_searching",/);
});
