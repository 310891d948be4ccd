// The preview panel: on a page opened from a preview link (`?rapport_preview=TOKEN`), a
// small panel says what the marketer is looking at: the experiences shown, the visitor's
// segments, and the trace of every rule; or, for a link the edge refused, why. The loader
// imports this module only when the edge answers a decision with its full report or a
// refusal, which it does for preview links alone, so shoppers never download it. Nothing here is reported: the widget records nothing while
// it previews.
//
// Like the view, it draws in a shadow root with a constructable stylesheet (allowed under
// a strict `style-src`) and writes data only through `textContent`. It sits on the left,
// clear of the window's top and bottom edges, where bars, toasts and slide-ins show.

const STYLES = `
:host { all: initial; }
.panel { position: fixed; left: 1rem; top: 4.5rem; z-index: 2147483647; width: min(26rem, calc(100vw - 2rem));
  max-height: min(calc(100vh - 10rem), 32rem); overflow: auto; box-sizing: border-box; background: #fff; color: #1d2327;
  border: 2px solid #0b6e5f; border-radius: 8px; box-shadow: 0 6px 24px rgba(0,0,0,.18);
  font: 13px/1.4 system-ui, sans-serif; padding: .7rem .8rem; }
.panel.folded { max-height: none; width: auto; }
.panel.folded .body { display: none; }
header { display: flex; gap: .5rem; align-items: center; }
h2 { font-size: 14px; margin: 0; flex: 1; }
button { font: inherit; border: 1px solid #0b6e5f; background: #fff; color: #0b6e5f; border-radius: 4px; padding: .1rem .5rem; cursor: pointer; }
button:focus-visible { outline: 3px solid #f0b429; outline-offset: 1px; }
p { margin: .4rem 0; }
.muted { color: #5b6770; }
ul.segments { list-style: none; padding: 0; margin: .3rem 0; display: flex; flex-wrap: wrap; gap: .3rem; }
ul.segments li { background: #e6f1ef; border-radius: 3px; padding: 0 .4rem; }
table { border-collapse: collapse; width: 100%; margin-top: .3rem; }
th, td { text-align: left; padding: .2rem .3rem; border-bottom: 1px solid #d6dbdf; vertical-align: top; }
th { color: #5b6770; font-weight: 600; }
td.shown, td.forced { color: #1c7c3a; font-weight: 600; }
td.errored { color: #a3261b; font-weight: 600; }
`;

let host;
let shadow;
let folded = false;

function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text != null) element.textContent = String(text);
  return element;
}

function mount() {
  if (host && host.isConnected) return;
  host = el("div");
  host.id = "rapport-preview";
  shadow = host.attachShadow({ mode: "open" });
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
    shadow.adoptedStyleSheets = [sheet];
  } catch (old) {
    // Without constructable stylesheets the panel is unstyled but readable.
  }
  document.body.append(host);
}

// A link the edge refused (expired, forged, for another site): the page shows what shoppers
// see, and says so.
function refused(why) {
  console.warn(`rapport: ${why}; showing the usual experiences`);
  const close = button("Close");
  close.addEventListener("click", () => host.remove());
  const panel = framed("panel", "status", close);
  panel.append(el("p", "", `This preview link was refused: ${why}. The page shows what shoppers see; make a new link in the console.`));
}

function button(label) {
  const b = el("button", "", label);
  b.type = "button";
  return b;
}

// The panel on the page, titled, with `control` beside the title; what follows goes in it.
function framed(className, role, control) {
  mount();
  const panel = el("section", className);
  panel.setAttribute("role", role);
  panel.setAttribute("aria-label", "Rapport preview");
  const header = el("header");
  header.append(el("h2", "", "Rapport preview"), control);
  panel.append(header);
  shadow.replaceChildren(panel);
  return panel;
}

function experienceText(e) {
  return `${e.experience} (${e.kind}${e.variant ? `, arm ${e.variant}` : ""})`;
}

// What an experience's trigger waits for, in words; nothing for one shown at once.
function waitingFor(t) {
  switch (t && t.type) {
    case "scroll":
      return `${t.percent}% scroll (or the end of the page in view)`;
    case "after_seconds":
      return `${t.seconds} s on the page`;
    case "exit_intent":
      return "the shopper to head for the exit";
    case "idle":
      return `${t.seconds} s without input`;
    case "after_event":
      return `the page to track “${t.event}”`;
    case "element_visible":
      return `${t.selector} to come into view`;
    default:
      return "its turn on the page";
  }
}

// Each experience of the decision with its state: armed (and what its trigger waits for)
// until the widget draws it, which its performance mark (`rapport:shown:ID`) says, then shown.
function states(experiences) {
  const list = el("ul", "experiences");
  list.setAttribute("aria-label", "Experiences");
  const items = new Map();
  const drawn = (id) => {
    const item = items.get(id);
    if (item) item.lastChild.textContent = "shown";
  };
  for (const e of experiences) {
    const item = el("li", "", `${experienceText(e)}: `);
    item.id = `preview-${e.experience}`;
    item.append(el("span", "state", `armed, waiting for ${waitingFor(e.trigger)}`));
    items.set(e.experience, item);
    list.append(item);
  }
  const seen = (entries) => {
    for (const entry of entries) if (entry.name.startsWith("rapport:shown:")) drawn(entry.name.slice(14));
  };
  seen(performance.getEntriesByType("mark"));
  if (typeof PerformanceObserver == "function") new PerformanceObserver((l) => seen(l.getEntries())).observe({ type: "mark" });
  return list;
}

// Shows the report of one decision (the edge's JSON as text); a later page of a single-page
// shop replaces it.
export default function show(text) {
  let report;
  try {
    report = JSON.parse(text);
  } catch (notJson) {
    return;
  }
  if (!report || !document.body) return;
  if (typeof report.preview_error == "string") return refused(report.preview_error);
  if (!Array.isArray(report.trace)) return;
  const fold = button(folded ? "Show" : "Hide");
  fold.setAttribute("aria-expanded", String(!folded));
  const panel = framed(folded ? "panel folded" : "panel", "region", fold);
  fold.addEventListener("click", () => {
    folded = !folded;
    panel.classList.toggle("folded", folded);
    fold.textContent = folded ? "Show" : "Hide";
    fold.setAttribute("aria-expanded", String(!folded));
  });
  const body = el("div", "body");
  const experiences = report.experiences || [];
  body.append(
    el("p", "", experiences.length ? "Experiences:" : "Experiences: none"),
    experiences.length ? states(experiences) : "",
    el("p", "muted", `Rulebook ${String(report.rulebook || "").slice(0, 12)} · nothing you do here is recorded`),
  );
  const segments = report.segments || [];
  body.append(el("p", "", report.holdout ? "Segments (in the universal holdout):" : "Segments:"));
  if (segments.length) {
    const list = el("ul", "segments");
    list.setAttribute("aria-label", "Segments");
    for (const name of segments) list.append(el("li", "", name));
    body.append(list);
  } else {
    body.append(el("p", "muted", "none"));
  }
  const table = el("table");
  table.append(el("caption", "muted", "Trace, highest priority first"));
  const head = el("tr");
  for (const h of ["Rule", "Outcome", "Why"]) {
    const th = el("th", "", h);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  table.append(thead);
  const rows = el("tbody");
  for (const line of report.trace) {
    const row = el("tr");
    row.append(el("td", "", line.rule), el("td", String(line.outcome), line.outcome),
      el("td", "", [line.reason, line.variant ? `arm ${line.variant}` : ""].filter(Boolean).join("; ")));
    rows.append(row);
  }
  table.append(rows);
  body.append(table);
  panel.append(body);
}
