// The rulebook workspace: the files of the draft (or of the active version) in a CodeMirror
// editor with Rhai highlighting and completion of the visitor's fields; as the marketer
// types, the draft is checked at the edge by the same compiler, checks and tests as a
// publish (nothing stored), with each diagnostic at its line and column, and its outline
// to browse (`browse.js`); the draft is saved at the edge, never live until published with
// a note; it can be simulated for a persona, previewed on the shop, and compared with the
// active rulebook over recent visitors.

import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching, indentOnInput } from "@codemirror/language";
import { linter, lintGutter } from "@codemirror/lint";
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { rhai, visitorCompletion } from "./rhai.js";
import { outline, previewer, impact } from "./browse.js";

// Rhai counts a column in characters from 1; CodeMirror counts UTF-16 units from the start
// of the document. Gives the span of the word (or character) at that place.
export function span(doc, line, col) {
  if (!line || line < 1 || line > doc.lines) return { from: 0, to: Math.min(1, doc.length) };
  const l = doc.line(line);
  let offset = 0;
  let chars = 0;
  for (const ch of l.text) {
    if (chars >= (col || 1) - 1) break;
    offset += ch.length;
    chars += 1;
  }
  const from = l.from + offset;
  const rest = l.text.slice(offset);
  const word = rest.match(/^[\p{L}\p{N}_]+/u);
  const length = word ? word[0].length : Math.min(1, rest.length);
  return { from, to: from + Math.max(length, 0) };
}

// Visitors to try a draft on; their fields are editable before each run.
const PERSONAS = {
  "First-time visitor on a phone": { visits: 1, page_views: 1, device: "mobile" },
  "Cart abandoner": { visits: 2, previous_visit_ms: "-2d", session_started_ms: "-10m",
    cart: [{ product: { id: "linen-shirt", name: "Linen Shirt", price: 59, currency: "EUR" }, quantity: 1 }] },
  "VIP customer": { visits: 14, customer_id: "C-vip", traits: { tier: "gold" },
    purchases: { count: 9, value: 1240, last_ms: "-20d" } },
  "Recent detractor": { visits: 5, purchases: { count: 2, value: 140, last_ms: "-30d" },
    nps: { score: 3, at_ms: "-1d", comment: "Delivery took too long" } },
  "Lapsed customer": { visits: 4, previous_visit_ms: "-200d", session_started_ms: "-1m",
    purchases: { count: 3, value: 210, last_ms: "-200d" } },
  "Italian repeat buyer": { visits: 6, locale: "it", country: "IT",
    purchases: { count: 3, value: 260, last_ms: "-15d" } },
};
const PAGES = ["home", "product", "category", "search", "cart", "checkout"];

function simulator({ api, el, files }) {
  const persona = el("select", { id: "persona" }, ...Object.keys(PERSONAS).map((p) => el("option", { value: p, text: p })));
  const fields = el("textarea", { id: "persona-fields", rows: "6", spellcheck: "false" });
  const page = el("select", { id: "sim-page" }, ...PAGES.map((k) => el("option", { value: k, text: k })));
  const run = el("button", { type: "button", id: "simulate", text: "Simulate" });
  const out = el("div", { id: "simulation", "aria-live": "polite" });
  const fill = () => { fields.value = JSON.stringify(PERSONAS[persona.value], null, 2); };
  persona.addEventListener("change", fill);
  fill();
  run.addEventListener("click", async () => {
    let visitor;
    try {
      visitor = { visitor_id: "simulated-visitor", ...JSON.parse(fields.value) };
    } catch (bad) {
      out.replaceChildren(el("p", { class: "error", role: "alert", text: `The visitor's fields are not JSON: ${bad.message}` }));
      return;
    }
    const kind = page.value;
    const path = kind === "home" ? "/" : `/${kind}`;
    const answer = await api("/v1/admin/simulate", { method: "POST", body: {
      files: files(), visitor, page: { url: `https://shop.example${path}`, path, kind, locale: visitor.locale } } });
    if (answer.status !== 200) {
      const error = answer.body && answer.body.error;
      out.replaceChildren(el("p", { class: "error", role: "alert", text: error ? error.message : `The edge answered ${answer.status}` }));
      return;
    }
    const report = answer.body;
    const decision = report.decision || report;
    const shown = decision.experiences.map((e) => `${e.experience} (${e.kind}${e.variant ? `, arm ${e.variant}` : ""})`);
    const head = el("tr", {}, ...["Rule", "Outcome", "Why"].map((h) => el("th", { scope: "col", text: h })));
    const rows = report.trace.map((t) => el("tr", {}, el("td", { text: t.rule }), el("td", { text: t.outcome }), el("td", { text: t.reason || "" })));
    out.replaceChildren(
      el("p", { id: "sim-shown", text: shown.length ? `Shown: ${shown.join("; ")}` : "Shown: nothing" }),
      el("p", { text: `Segments: ${report.segments.join(", ") || "none"}` }),
      el("table", { id: "trace" }, el("caption", { text: "Trace, highest priority first" }), el("thead", {}, head), el("tbody", {}, ...rows)),
    );
  });
  return el("section", { "aria-labelledby": "sim-title" },
    el("h3", { id: "sim-title", text: "Simulate" }),
    el("div", { class: "filters" },
      el("div", {}, el("label", { for: "persona", text: "Persona" }), persona),
      el("div", {}, el("label", { for: "sim-page", text: "Page" }), page), run),
    el("label", { for: "persona-fields", text: "The visitor's fields (as in test cases)" }), fields, out);
}

export async function write({ api, el, say, app, table, site }) {
  const [draftAnswer, versions, fieldsAnswer] = await Promise.all([
    api("/v1/admin/draft"),
    api("/v1/admin/rulebooks"),
    api("/v1/admin/fields"),
  ]);
  let files = {};
  let base = versions.body ? versions.body.active : null;
  let fromDraft = false;
  if (draftAnswer.body && draftAnswer.body.draft) {
    files = draftAnswer.body.draft.files;
    base = draftAnswer.body.draft.base;
    fromDraft = true;
  } else {
    // Until something is published, the shop runs the rulebook built into the edge: the
    // workspace starts from it rather than from nothing.
    const version = await api(base ? `/v1/admin/rulebooks/${base}` : "/v1/admin/rulebooks/builtin");
    files = (version.body && version.body.files) || {};
  }
  const model = (fieldsAnswer.body && fieldsAnswer.body.fields) || [];
  const names = () => Object.keys(files).sort();
  let current = names().find((n) => n.endsWith(".rhai")) || names()[0] || "rules.rhai";
  if (!(current in files)) files[current] = "";
  let lastCheck = null;

  const list = el("ul", { class: "files", "aria-label": "Files" });
  const summary = el("p", { id: "check-summary", role: "status" });
  const problems = el("ul", { id: "problems", "aria-label": "Problems" });
  const tests = el("ul", { id: "test-results", "aria-label": "Test results" });
  const note = el("input", { id: "note", placeholder: "What changes, and why" });
  const publish = el("button", { type: "button", id: "publish", text: "Publish", disabled: "" });
  const discard = el("button", { type: "button", class: "quiet", id: "discard", text: "Discard draft" });
  const host = el("div", { id: "editor", "aria-label": `Editor for ${current}` });
  const origin = el("p", { class: "muted", id: "draft-origin" });

  const renderList = () => {
    list.replaceChildren(...names().map((name) => {
      const count = lastCheck ? lastCheck.diagnostics.filter((d) => d.file === name && d.severity === "error").length : 0;
      const button = el("button", { type: "button", class: name === current ? "file current" : "file quiet",
        "aria-current": name === current ? "true" : "false", text: count ? `${name} (${count} error${count > 1 ? "s" : ""})` : name });
      button.addEventListener("click", () => open(name, null));
      return el("li", {}, button);
    }));
  };

  const renderCheck = () => {
    if (!lastCheck) return;
    const errors = lastCheck.diagnostics.filter((d) => d.severity === "error").length;
    const warnings = lastCheck.diagnostics.length - errors;
    const t = lastCheck.tests;
    summary.textContent = `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}` +
      (t ? `; tests: ${t.passed} passed, ${t.failed} failed` : "; tests run once it compiles");
    problems.replaceChildren(...lastCheck.diagnostics.map((d) => {
      const item = el("button", { type: "button", class: `quiet problem ${d.severity}`, text: d.text });
      item.addEventListener("click", () => {
        open(d.file, null);
        const at = span(view.state.doc, d.line, d.col);
        view.dispatch({ selection: { anchor: at.from }, scrollIntoView: true });
        view.focus();
      });
      return el("li", {}, item);
    }));
    tests.replaceChildren(...(t ? t.failures : []).map((f) =>
      el("li", { class: "error", text: `${f.file}${f.case ? ` “${f.case}”` : ""}: ${f.failures.join("; ")}` })));
    if (lastCheck.publishable) publish.removeAttribute("disabled");
    else publish.setAttribute("disabled", "");
    renderList();
  };

  // Saving: a pause in typing keeps the draft at the edge.
  let saveTimer;
  let saving = Promise.resolve();
  const save = () => {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => {
      saving = api("/v1/admin/draft", { method: "PUT", body: { files, base } }).then((saved) => {
        say(saved.status === 200 ? "Draft saved" : `Draft not saved: ${saved.body && saved.body.error ? saved.body.error.message : saved.status}`);
      });
    }, 700);
  };

  // Checking: the linter asks the edge about every file, and shows this file's part.
  const check = linter(async (v) => {
    files[current] = v.state.doc.toString();
    const answer = await api("/v1/admin/check", { method: "POST", body: { files } });
    if (answer.status !== 200) {
      summary.textContent = answer.body && answer.body.error ? answer.body.error.message : `The check failed (${answer.status}).`;
      return [];
    }
    lastCheck = answer.body;
    renderCheck();
    browse.render(lastCheck.outline);
    return lastCheck.diagnostics
      .filter((d) => d.file === current)
      .map((d) => ({ ...span(v.state.doc, d.line, d.col), severity: d.severity === "error" ? "error" : "warning", message: d.message }));
  }, { delay: 400 });

  const extensions = [
    lineNumbers(), history(), drawSelection(), highlightActiveLine(), indentOnInput(), bracketMatching(),
    closeBrackets(), syntaxHighlighting(defaultHighlightStyle), rhai, lintGutter(), check,
    autocompletion({ override: [visitorCompletion(model)] }),
    keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, indentWithTab]),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) {
        files[current] = update.state.doc.toString();
        save();
      }
    }),
    EditorView.contentAttributes.of({ "aria-label": "Rule file" }),
    EditorView.theme({ "&": { minHeight: "20rem", fontSize: "14px" }, ".cm-scroller": { fontFamily: "ui-monospace, monospace" } }),
  ];
  // In a shadow root, CodeMirror's styles go in a constructable stylesheet, which the strict
  // CSP allows (in the document it would add a <style> element, which it blocks).
  const shadow = host.attachShadow({ mode: "open" });
  const mount = document.createElement("div");
  shadow.append(mount);
  const view = new EditorView({ root: shadow, parent: mount, state: EditorState.create({ doc: files[current], extensions }) });

  // Shows file `name`, at `line` when given.
  const open = (name, line) => {
    if (name !== current) {
      files[current] = view.state.doc.toString();
      current = name;
      host.setAttribute("aria-label", `Editor for ${name}`);
      view.setState(EditorState.create({ doc: files[name] || "", extensions }));
      renderList();
    }
    if (line) {
      const at = view.state.doc.line(Math.min(Math.max(1, line), view.state.doc.lines)).from;
      view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
      view.focus();
    }
  };

  publish.addEventListener("click", async () => {
    // A save still waiting or on its way would bring the draft back after the publish.
    clearTimeout(saveTimer);
    await saving;
    files[current] = view.state.doc.toString();
    // The edge discards the draft in the same call, once the version is stored.
    const answer = await api("/v1/admin/rulebooks", { method: "POST", body: { files, note: note.value, discard_draft: true } });
    if (answer.status === 201) {
      base = answer.body.id;
      say(`Published version ${answer.body.id}; pages get it within seconds.`);
      origin.textContent = `Version ${answer.body.id}, as published.`;
      note.value = "";
    } else {
      say(answer.body && answer.body.error ? `Not published: ${answer.body.error.message}` : `Not published (${answer.status}).`);
    }
  });
  discard.addEventListener("click", async () => {
    // A save still waiting or on its way would bring the draft back after the discard; the
    // old editor stops listening, and the workspace starts again from what is published.
    clearTimeout(saveTimer);
    await saving;
    await api("/v1/admin/draft", { method: "DELETE" });
    view.destroy();
    say("Draft discarded");
    write({ api, el, say, app, table, site });
  });

  const draftFiles = () => ({ ...files, [current]: view.state.doc.toString() });
  const links = previewer({ el, api, say, site, files: draftFiles });
  const browse = outline({ el, open, preview: links.make });
  const pickSite = el("div", { class: "filters" },
    el("div", {}, el("label", { for: "write-site", text: "Site (for previews and impact)" }), site.picker("write-site", links.refresh)));

  const from = base ? `version ${base}` : "the built-in rulebook";
  origin.textContent = fromDraft
    ? `Your draft, started from ${from}; it is not live until you publish it.`
    : base
      ? `Version ${base}, the active one. Changes are kept as a draft until you publish.`
      : "Nothing has been published here yet: the shop runs the rulebook built into the edge, shown here. Changes are kept as a draft until you publish.";
  renderList();
  app.replaceChildren(
    el("h2", { text: "Write" }), origin,
    el("div", { class: "workspace" }, el("nav", { "aria-label": "Rulebook files" }, list), host),
    el("h3", { text: "Check" }), summary, problems, tests,
    el("div", { class: "publish" }, el("label", { for: "note", text: "Note" }), note, publish, discard),
    pickSite,
    browse.element, links.element,
    simulator({ api, el, files: draftFiles }),
    impact({ el, api, site, files: draftFiles, table }),
  );
  // For the browser tests: the editor, and a way to switch files.
  window.rapportConsole = { editor: view, open };
  view.focus();
}
