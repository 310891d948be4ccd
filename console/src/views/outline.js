// The draft's outline, as the edge's check gives it: its segments and rules (where each is
// written, who each rule is for, what it shows), each opening its file at its line, and a
// preview button for every experience.

import { el } from "../dom.js";

/// `open(file, line)` shows a place; `preview(experience)` opens a preview. Gives the
/// section and `render(outline)` (null while the draft does not compile).
export function outline({ open, preview }) {
  const out = el("div", { id: "outline", "aria-live": "polite" });
  const place = (file, line, label) =>
    el("button", {
      type: "button",
      class: "quiet place",
      text: label,
      "aria-label": `${label}, ${file} line ${line}`,
      onclick: () => open(file, line),
    });
  const render = (book) => {
    if (!book) {
      out.replaceChildren(el("p", { class: "muted", text: "The outline comes back once the draft compiles." }));
      return;
    }
    const segments = book.segments.map((s) =>
      el(
        "li",
        {},
        place(s.file, s.line, s.name),
        el("span", { class: "muted", text: s.rules.length ? ` used by ${s.rules.join(", ")}` : " used by no rule" }),
      ),
    );
    const rules = book.rules.map((r) => ruleItem(r, place, preview));
    // Segments fold away; the rules, with their previews, stay open.
    out.replaceChildren(
      el(
        "details",
        {},
        el("summary", { text: `Segments (${book.segments.length})` }),
        el("ul", { class: "outline segments", "aria-label": "Segments" }, ...segments),
      ),
      el(
        "details",
        { open: "" },
        el("summary", { text: `Rules (${book.rules.length}), highest priority first` }),
        el("ul", { class: "outline", "aria-label": "Rules" }, ...rules),
      ),
    );
  };
  render(null);
  const element = el(
    "section",
    { "aria-labelledby": "outline-title" },
    el("h3", { id: "outline-title", text: "Browse" }),
    out,
  );
  return { element, render };
}

function ruleItem(r, place, preview) {
  const shows = r.experiences.map((e) => {
    const arm = e.variant ? `arm ${e.variant} (${Math.round(e.weight * 100)}%): ` : "";
    if (!e.id) return el("li", { class: "muted", text: `${arm}shows nothing (control)` });
    const button = el("button", {
      type: "button",
      class: "quiet preview",
      text: "Preview on the shop",
      "aria-label": `Preview on the shop: ${e.id}`,
      onclick: () => preview(e.id),
    });
    return el("li", {}, `${arm}${e.id} (${e.kind}) `, button);
  });
  const audience =
    r.audience === "custom"
      ? "a condition"
      : r.audience === "everyone"
        ? "everyone"
        : r.audience.replaceAll("+", " and ");
  const facts = [
    `priority ${r.priority}`,
    `for ${audience}`,
    r.pages.length ? `on ${r.pages.join(", ")} pages` : "on every page",
  ];
  if (!r.enabled) facts.unshift("paused");
  return el(
    "li",
    {},
    place(r.file, r.line, r.id),
    el("span", { class: "muted", text: ` ${facts.join(" · ")}` }),
    r.description ? el("p", { class: "description", text: r.description }) : null,
    el("ul", { class: "shows" }, ...shows),
  );
}
