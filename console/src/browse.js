// Browsing the draft: its segments and rules as the edge's check outlines them (where each
// is written, who each rule is for, what it shows), each opening its file at its line; a
// preview link for any experience, opened on the shop; and the draft's impact on the
// sample of recent visitors, beside what the active rulebook does for them.

// The outline of the last check that compiled; `open(file, line)` shows a place.
export function outline({ el, open, preview }) {
  const out = el("div", { id: "outline", "aria-live": "polite" });
  const place = (file, line, label) => {
    const b = el("button", { type: "button", class: "quiet place", text: label, "aria-label": `${label}, ${file} line ${line}` });
    b.addEventListener("click", () => open(file, line));
    return b;
  };
  const render = (book) => {
    if (!book) {
      out.replaceChildren(el("p", { class: "muted", text: "The outline comes back once the draft compiles." }));
      return;
    }
    const segments = el("ul", { class: "outline segments", "aria-label": "Segments" }, ...book.segments.map((s) => el("li", {},
      place(s.file, s.line, s.name),
      el("span", { class: "muted", text: s.rules.length ? ` used by ${s.rules.join(", ")}` : " used by no rule" }))));
    const rules = el("ul", { class: "outline", "aria-label": "Rules" }, ...book.rules.map((r) => {
      const shows = el("ul", { class: "shows" }, ...r.experiences.map((e) => {
        const arm = e.variant ? `arm ${e.variant} (${Math.round(e.weight * 100)}%): ` : "";
        if (!e.id) return el("li", { class: "muted", text: `${arm}shows nothing (control)` });
        const button = el("button", { type: "button", class: "quiet preview", text: "Preview on the shop",
          "aria-label": `Preview ${e.id} on the shop` });
        button.addEventListener("click", () => preview(e.id));
        return el("li", {}, `${arm}${e.id} (${e.kind}) `, button);
      }));
      const audience = r.audience === "custom" ? "a condition" : r.audience === "everyone" ? "everyone" : r.audience.replaceAll("+", " and ");
      const facts = [`priority ${r.priority}`, `for ${audience}`, r.pages.length ? `on ${r.pages.join(", ")} pages` : "on every page"];
      if (!r.enabled) facts.unshift("paused");
      return el("li", {}, place(r.file, r.line, r.id), el("span", { class: "muted", text: ` ${facts.join(" · ")}` }),
        r.description ? el("p", { class: "description", text: r.description }) : null, shows);
    }));
    // Segments fold away; the rules, with their previews, stay open.
    out.replaceChildren(
      el("details", {}, el("summary", { text: `Segments (${book.segments.length})` }), segments),
      el("details", { open: "" }, el("summary", { text: `Rules (${book.rules.length}), highest priority first` }), rules));
  };
  render(null);
  return { element: el("section", { "aria-labelledby": "outline-title" }, el("h3", { id: "outline-title", text: "Browse" }), out), render };
}

// A preview link for one experience of the draft, opened in a new tab on the chosen shop.
export function previewer({ el, api, say, site, files }) {
  const origins = () => [location.origin, ...((site.current() || {}).origins || [])].filter((o, i, all) => all.indexOf(o) === i);
  const shop = el("select", { id: "preview-origin" });
  const path = el("input", { id: "preview-path", value: "/", size: "24" });
  const fill = () => {
    const kept = localStorage.getItem("rapport:preview-origin");
    shop.replaceChildren(...origins().map((o) => {
      const option = el("option", { value: o, text: o === location.origin ? `${o} (this edge)` : o });
      if (o === kept) option.setAttribute("selected", "");
      return option;
    }));
  };
  fill();
  shop.addEventListener("change", () => localStorage.setItem("rapport:preview-origin", shop.value));
  const out = el("p", { id: "preview-link", "aria-live": "polite" });
  const make = async (experience) => {
    const answer = await api("/v1/admin/previews", { method: "POST", body: {
      site: site.name(), experience, files: files(), path: path.value || "/", minutes: 60 } });
    if (answer.status !== 200) {
      const error = answer.body && answer.body.error;
      out.replaceChildren(el("span", { class: "error", role: "alert", text: error ? error.message : `The edge answered ${answer.status}` }));
      return;
    }
    const url = shop.value + answer.body.link;
    const link = el("a", { href: url, target: "_blank", rel: "noopener", id: "preview-url", text: `Preview of ${experience}` });
    out.replaceChildren(link, el("span", { class: "muted", text: ` (from this draft, for an hour; it records nothing)` }));
    window.open(url, "_blank", "noopener");
    say(`Opened the preview of ${experience}`);
  };
  const element = el("div", { class: "filters" },
    el("div", {}, el("label", { for: "preview-origin", text: "Preview on" }), shop),
    el("div", {}, el("label", { for: "preview-path", text: "Page" }), path), out);
  return { element, make, refresh: fill };
}

// The draft against the active rulebook, over the site's sample of recent visitors.
export function impact({ el, api, site, files, table }) {
  const run = el("button", { type: "button", id: "impact-run", text: "Compare with what is live" });
  const out = el("div", { id: "impact", "aria-live": "polite" });
  run.addEventListener("click", async () => {
    out.replaceChildren(el("p", { text: "Running both rulebooks over recent visitors…" }));
    const answer = await api("/v1/admin/impact", { method: "POST", body: { site: site.name(), files: files() } });
    if (answer.status !== 200) {
      const error = answer.body && answer.body.error;
      out.replaceChildren(el("p", { class: "error", role: "alert", text: error ? error.message : `The edge answered ${answer.status}` }));
      return;
    }
    const r = answer.body;
    if (r.visitors === 0) {
      out.replaceChildren(el("p", { class: "empty", text:
        `No visitors of ${r.site} are in the sample yet. It keeps the ${r.limit} most recently active visitors who consented to analytics, as they browse; on the demo, \`cargo xtask seed\` replays some.` }));
      return;
    }
    const since = new Date(r.oldest_ms).toLocaleString();
    const rows = r.experiences.map((e) => {
      const change = e.after - e.now;
      return [e.experience, e.rule, e.now, e.after, change > 0 ? `+${change}` : String(change), e.gained, e.lost];
    });
    out.replaceChildren(
      el("p", { id: "impact-summary", class: "headline", text:
        `Of ${r.visitors} recent visitors (active since ${since}), ${r.changed} would get something different after publishing.` }),
      r.experiences.length
        ? table("Impact by experience", ["Experience", "Rule", "See it now", "After publishing", "Change", "Start seeing it", "Stop seeing it"], rows)
        : el("p", { class: "empty", text: "Neither rulebook shows anything to these visitors on the pages they were last on." }),
      el("p", { class: "muted", text: "Each visitor is decided for as they were on the last page they viewed; nothing is recorded." }));
  });
  return el("section", { "aria-labelledby": "impact-title" },
    el("h3", { id: "impact-title", text: "Impact" }),
    el("p", { class: "muted", text: "How many recent visitors each experience reaches now, and would after you publish this draft." }),
    run, out);
}
