// Simulation: the draft decided for a persona on a kind of page, with the trace of every
// rule, at the edge and recording nothing.

import { api, errorText } from "../api.js";
import { el, errorLine, field, headings, select } from "../dom.js";
import { timeText } from "../format.js";
import { siteName } from "../site.js";

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

/// `files()` gives the draft. With `start` (`{visitor, page: {kind, path}}`, from a finding),
/// the simulation starts with that visitor on that page, and runs at once. `keep(case)`, when
/// given, keeps a simulation as a test case (`{name, visitor, page, expect}`).
export function simulator(files, start = null, keep = null) {
  const names = Object.keys(PERSONAS);
  const persona = select("persona", names, names[0]);
  const fields = el("textarea", { id: "persona-fields", rows: "6", spellcheck: "false" });
  const kinds = start?.page.kind && !PAGES.includes(start.page.kind) ? [...PAGES, start.page.kind] : PAGES;
  const page = select("sim-page", kinds, start?.page.kind || PAGES[0]);
  // A finding's page is its own path; a page picked here is the kind's usual one.
  let path = start?.page.path || null;
  page.addEventListener("change", () => {
    path = null;
  });
  const out = el("div", { id: "simulation", "aria-live": "polite" });
  const fill = () => {
    fields.value = JSON.stringify(PERSONAS[persona.value], null, 2);
  };
  const form = personaForm(fields);
  persona.addEventListener("change", () => {
    fill();
    form.read();
  });
  fill();
  if (start) fields.value = JSON.stringify(start.visitor, null, 2);
  form.read();
  const recent = recentVisitors(fields, form);
  const run = async () => {
    let visitor;
    try {
      visitor = { visitor_id: "simulated-visitor", ...JSON.parse(fields.value) };
    } catch (bad) {
      out.replaceChildren(errorLine(`The visitor's fields are not JSON: ${bad.message}`));
      return;
    }
    const kind = page.value;
    const at = path || (kind === "home" ? "/" : `/${kind}`);
    const body = {
      site: siteName(),
      files: files(),
      visitor,
      page: { url: `https://shop.example${at}`, path: at, kind, locale: visitor.locale },
    };
    const answer = await api("/v1/admin/simulate", { method: "POST", body });
    if (answer.status !== 200) {
      out.replaceChildren(errorLine(answer));
      return;
    }
    const shown = (answer.body.decision || answer.body).experiences.map((e) => e.experience);
    const name = `${start ? "the finding's visitor" : persona.value} on ${at}: ${shown.length ? shown.join(", ") : "nothing"}`;
    const keeping = keep
      ? el("button", {
          type: "button",
          class: "quiet",
          id: "keep-case",
          text: "Keep as a test case",
          onclick: () => keep({ name, visitor, page: body.page, expect: shown }),
        })
      : "";
    out.replaceChildren(...report(answer.body), keeping);
  };
  if (start) queueMicrotask(run);
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
    recent,
    form.element,
    el(
      "details",
      {},
      el("summary", { text: "Every field, as in test cases" }),
      el("label", { for: "persona-fields", text: "The visitor's fields (JSON)" }),
      fields,
    ),
    out,
  );
}

// The persona's usual fields as a form, kept in step with the JSON of every field: the form
// writes into it, and `read()` fills the form from it.
function personaForm(fields) {
  const json = () => {
    try {
      return JSON.parse(fields.value) || {};
    } catch {
      return {};
    }
  };
  const write = (change) => {
    const visitor = json();
    change(visitor);
    fields.value = JSON.stringify(visitor, null, 2);
  };
  const number = (id, label, get, set) => {
    const input = el("input", { id, type: "number", min: "0", step: "any", inputmode: "decimal" });
    input.addEventListener("input", () => write((v) => set(v, input.value === "" ? null : Number(input.value))));
    return { element: field(id, label, input), read: (v) => (input.value = get(v) ?? "") };
  };
  const text = (id, label, key) => {
    const input = el("input", { id, size: "6" });
    input.addEventListener("input", () =>
      write((v) => {
        if (input.value) v[key] = input.value;
        else delete v[key];
      }),
    );
    return { element: field(id, label, input), read: (v) => (input.value = v[key] ?? "") };
  };
  const parts = [
    number(
      "p-visits",
      "Visits",
      (v) => v.visits,
      (v, n) => (v.visits = n ?? 1),
    ),
    text("p-locale", "Language", "locale"),
    text("p-country", "Country", "country"),
    text("p-device", "Device (mobile, desktop)", "device"),
    number(
      "p-purchases",
      "Purchases",
      (v) => v.purchases?.count,
      (v, n) => (v.purchases = { ...v.purchases, count: n ?? 0 }),
    ),
    number(
      "p-spent",
      "Spent",
      (v) => v.purchases?.value,
      (v, n) => (v.purchases = { ...v.purchases, value: n ?? 0 }),
    ),
    number(
      "p-nps",
      "NPS answer (0–10, empty for none)",
      (v) => v.nps?.score,
      (v, n) => {
        if (n === null) delete v.nps;
        else v.nps = { ...v.nps, score: Math.min(10, Math.round(n)), at_ms: v.nps?.at_ms ?? "-1d" };
      },
    ),
  ];
  const cart = el("div", { id: "p-cart" });
  const drawCart = (v) => {
    const lines = Array.isArray(v.cart) ? v.cart : [];
    const row = (line, i) => {
      const input = (name, value, type = "text") => {
        const box = el("input", { type, value: value ?? "", "aria-label": `Cart line ${i + 1}: ${name}`, size: "10" });
        box.addEventListener("input", () =>
          write((w) => {
            const l = w.cart[i];
            if (name === "quantity") l.quantity = Math.max(1, Number(box.value) || 1);
            else if (name === "price") l.product.price = Number(box.value) || 0;
            else l.product[name] = box.value;
          }),
        );
        return box;
      };
      const remove = el("button", {
        type: "button",
        class: "quiet",
        text: "Remove",
        "aria-label": `Remove cart line ${i + 1}`,
        onclick: () => {
          write((w) => w.cart.splice(i, 1));
          drawCart(json());
        },
      });
      return el(
        "li",
        {},
        input("id", line.product?.id),
        input("name", line.product?.name),
        input("price", line.product?.price, "number"),
        input("quantity", line.quantity, "number"),
        remove,
      );
    };
    const add = el("button", {
      type: "button",
      id: "p-add-line",
      text: "Add a cart line",
      onclick: () => {
        write((w) => {
          w.cart = [...(w.cart || []), { product: { id: "product", name: "Product", price: 20 }, quantity: 1 }];
        });
        drawCart(json());
      },
    });
    cart.replaceChildren(
      el("p", { text: lines.length ? "Cart (id, name, price, quantity):" : "Cart: empty" }),
      el("ul", { class: "cart-lines" }, ...lines.map(row)),
      add,
    );
  };
  fields.addEventListener("change", () => read());
  const read = () => {
    const v = json();
    for (const part of parts) part.read(v);
    drawCart(v);
  };
  return {
    element: el(
      "fieldset",
      { class: "persona" },
      el("legend", { text: "The persona" }),
      ...parts.map((p) => p.element),
      cart,
    ),
    read,
  };
}

// "Use a real recent visitor": one of the site's most recently active visitors of the sample,
// without who they are, as the starting point.
function recentVisitors(fields, form) {
  const out = el("p", { id: "recent-visitor", role: "status" });
  const use = async () => {
    const answer = await api(`/v1/admin/sample?site=${encodeURIComponent(siteName())}`);
    if (answer.status !== 200) {
      out.textContent = errorText(answer);
      return;
    }
    const visitors = answer.body.visitors;
    if (visitors.length === 0) {
      out.textContent = "No recent visitor is in the sample yet: it fills as consenting shoppers browse.";
      return;
    }
    const picked = visitors[Math.floor(Math.random() * visitors.length)];
    fields.value = JSON.stringify(picked.visitor, null, 2);
    form.read();
    out.textContent = `A recent visitor, active ${timeText(picked.at_ms)}: ${picked.visitor.visits} visit(s), ${(picked.visitor.cart || []).length} cart line(s).`;
  };
  return el(
    "div",
    { class: "filters" },
    el("button", { type: "button", id: "use-recent", class: "quiet", text: "Use a real recent visitor", onclick: use }),
    out,
  );
}

function report(report) {
  const decision = report.decision || report;
  const shown = decision.experiences.map((e) => `${e.experience} (${e.kind}${e.variant ? `, arm ${e.variant}` : ""})`);
  const rows = report.trace.map((t) =>
    el("tr", {}, el("td", { text: t.rule }), el("td", { text: t.outcome }), el("td", { text: t.reason || "" })),
  );
  // Learnt recommendations: each product with why it is there.
  const learnt = decision.experiences
    .filter((e) => e.strategy)
    .map((e) =>
      el(
        "ul",
        { class: "sim-products", "aria-label": `${e.experience}: ${e.strategy}` },
        ...(e.content.products || []).map((p) => el("li", { text: `${p.name}: ${p.reason || ""}` })),
      ),
    );
  return [
    el("p", { id: "sim-shown", text: shown.length ? `Shown: ${shown.join("; ")}` : "Shown: nothing" }),
    ...learnt,
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
