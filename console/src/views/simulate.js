// Simulation: the draft decided for a persona on a kind of page, with the trace of every
// rule, at the edge and recording nothing.

import { api } from "../api.js";
import { el, errorLine, field, headings, select } from "../dom.js";

// Visitors to try a draft on; their fields are editable before each run.
const PERSONAS = {
  "First-time visitor on a phone": { visits: 1, page_views: 1, device: "mobile" },
  "Cart abandoner": {
    visits: 2,
    previous_visit_ms: "-2d",
    session_started_ms: "-10m",
    cart: [{ product: { id: "linen-shirt", name: "Linen Shirt", price: 59, currency: "EUR" }, quantity: 1 }],
  },
  "VIP customer": {
    visits: 14,
    customer_id: "C-vip",
    traits: { tier: "gold" },
    purchases: { count: 9, value: 1240, last_ms: "-20d" },
  },
  "Recent detractor": {
    visits: 5,
    purchases: { count: 2, value: 140, last_ms: "-30d" },
    nps: { score: 3, at_ms: "-1d", comment: "Delivery took too long" },
  },
  "Lapsed customer": {
    visits: 4,
    previous_visit_ms: "-200d",
    session_started_ms: "-1m",
    purchases: { count: 3, value: 210, last_ms: "-200d" },
  },
  "Italian repeat buyer": {
    visits: 6,
    locale: "it",
    country: "IT",
    purchases: { count: 3, value: 260, last_ms: "-15d" },
  },
};
const PAGES = ["home", "product", "category", "search", "cart", "checkout"];

/// `files()` gives the draft.
export function simulator(files) {
  const names = Object.keys(PERSONAS);
  const persona = select("persona", names, names[0]);
  const fields = el("textarea", { id: "persona-fields", rows: "6", spellcheck: "false" });
  const page = select("sim-page", PAGES, PAGES[0]);
  const out = el("div", { id: "simulation", "aria-live": "polite" });
  const fill = () => {
    fields.value = JSON.stringify(PERSONAS[persona.value], null, 2);
  };
  persona.addEventListener("change", fill);
  fill();
  const run = async () => {
    let visitor;
    try {
      visitor = { visitor_id: "simulated-visitor", ...JSON.parse(fields.value) };
    } catch (bad) {
      out.replaceChildren(errorLine(`The visitor's fields are not JSON: ${bad.message}`));
      return;
    }
    const kind = page.value;
    const path = kind === "home" ? "/" : `/${kind}`;
    const body = {
      files: files(),
      visitor,
      page: { url: `https://shop.example${path}`, path, kind, locale: visitor.locale },
    };
    const answer = await api("/v1/admin/simulate", { method: "POST", body });
    out.replaceChildren(...(answer.status === 200 ? report(answer.body) : [errorLine(answer)]));
  };
  return el(
    "section",
    { "aria-labelledby": "sim-title" },
    el("h3", { id: "sim-title", text: "Simulate" }),
    el(
      "div",
      { class: "filters" },
      field("persona", "Persona", persona),
      field("sim-page", "Page", page),
      el("button", { type: "button", id: "simulate", text: "Simulate", onclick: run }),
    ),
    el("label", { for: "persona-fields", text: "The visitor's fields (as in test cases)" }),
    fields,
    out,
  );
}

function report(report) {
  const decision = report.decision || report;
  const shown = decision.experiences.map((e) => `${e.experience} (${e.kind}${e.variant ? `, arm ${e.variant}` : ""})`);
  const rows = report.trace.map((t) =>
    el("tr", {}, el("td", { text: t.rule }), el("td", { text: t.outcome }), el("td", { text: t.reason || "" })),
  );
  return [
    el("p", { id: "sim-shown", text: shown.length ? `Shown: ${shown.join("; ")}` : "Shown: nothing" }),
    el("p", { text: `Segments: ${report.segments.join(", ") || "none"}` }),
    el(
      "table",
      { id: "trace" },
      el("caption", { text: "Trace, highest priority first" }),
      el("thead", {}, headings(["Rule", "Outcome", "Why"])),
      el("tbody", {}, ...rows),
    ),
  ];
}
