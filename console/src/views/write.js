// The rulebook workspace: the files of the draft (or of the active version) in the editor.
// As the marketer types, the draft is checked at the edge by the same compiler, checks and
// tests as a publish (nothing stored), each diagnostic at its line and column, with its
// outline to browse. The draft is saved at the edge, and is not live until published with a
// note. It can be simulated for a persona, previewed on the shop, and compared with the
// active rulebook over recent visitors.

import { api, errorText, may } from "../api.js";
import { el, field, say } from "../dom.js";
import { editor } from "../editor/editor.js";
import { plural, ruleFor } from "../format.js";
import { sitePicker } from "../site.js";
import { ask, summary } from "./confirm.js";
import { impact } from "./impact.js";
import { outline } from "./outline.js";
import { previewer } from "./preview.js";
import { simulator } from "./simulate.js";

const SAVE_AFTER_MS = 700;

export async function write(root) {
  const state = await workspace();
  const finding = fromFinding(state);
  const parts = {
    list: el("ul", { class: "files", "aria-label": "Files" }),
    summary: el("p", { id: "check-summary", role: "status" }),
    problems: el("ul", { id: "problems", "aria-label": "Problems" }),
    tests: el("ul", { id: "test-results", "aria-label": "Test results" }),
    note: el("input", { id: "note", placeholder: "What changes, and why" }),
    publish: el("button", { type: "button", id: "publish", text: "Publish", disabled: "" }),
    host: el("div", { id: "editor", "aria-label": `Editor for ${state.current}` }),
    origin: el("p", { class: "muted", id: "draft-origin", text: originText(state) }),
  };
  const draft = () => ({ ...state.files, [state.current]: state.editor.text() });
  const links = previewer(draft);
  const browse = outline({ open: (file, line) => open(state, parts, file, line), preview: links.make });
  state.editor = editor(parts.host, {
    doc: state.files[state.current],
    fields: state.fields,
    changed: (text) => {
      state.files[state.current] = text;
      // A viewer tries rules out: checked, simulated and measured, but never saved.
      if (may("editor")) save(state);
    },
    check: async (text) => {
      state.files[state.current] = text;
      const answer = await api("/v1/admin/check", { method: "POST", body: { files: state.files } });
      if (answer.status !== 200) {
        parts.summary.textContent = `The check failed: ${errorText(answer)}`;
        return [];
      }
      state.lastCheck = answer.body;
      renderCheck(state, parts);
      browse.render(answer.body.outline);
      return answer.body.diagnostics.filter((d) => d.file === state.current);
    },
  });
  parts.publish.addEventListener("click", () => publish(state, parts));
  const discard = async () => {
    await settle(state);
    await api("/v1/admin/draft", { method: "DELETE" });
    // The old editor stops listening, and the workspace starts again from what is published.
    state.editor.view.destroy();
    say("Draft discarded");
    await write(root);
  };
  renderList(state, parts);
  root.replaceChildren(
    parts.origin,
    // The check's results sit beside the editor: a click on one puts the cursor there.
    el(
      "div",
      { class: "workspace" },
      el("nav", { "aria-label": "Rulebook files" }, parts.list, fileActions(state, parts)),
      parts.host,
      el(
        "section",
        { class: "checks", "aria-labelledby": "check-title" },
        el("h3", { id: "check-title", text: "Check" }),
        parts.summary,
        parts.problems,
        parts.tests,
      ),
    ),
    el("p", {
      class: "muted",
      id: "editor-keys",
      text: "Tab indents in the editor. To leave it with the keyboard, press Esc, then Tab.",
    }),
    publishing(parts, discard),
    el(
      "div",
      { class: "filters" },
      field("write-site", "Site (for previews and impact)", sitePicker("write-site", links.refresh)),
    ),
    browse.element,
    links.element,
    simulator(draft, finding, (testCase) => keepCase(state, parts, testCase)),
    impact(draft),
  );
  state.editor.view.focus();
  if (finding) {
    const line = state.files[state.current].split("\n").findIndex((l) => l.startsWith(`rule("${finding.id}"`));
    if (line >= 0) state.editor.goTo(line + 1, 1);
    if (may("editor")) save(state);
    say(`A rule for the finding is in ${FINDINGS_FILE}, simulated below; change it, then publish.`);
  }
}

const FINDINGS_FILE = "findings.rhai";

// A simulation kept as a test case, in the test file named after the rule file shown
// (`tests/NAME.json`), which the next check and every publish run.
function keepCase(state, parts, testCase) {
  state.files[state.current] = state.editor.text();
  const stem = state.current.endsWith(".rhai") ? state.current.slice(0, -5) : "cases";
  const file = `tests/${stem}.json`;
  let cases = [];
  try {
    cases = state.files[file] ? JSON.parse(state.files[file]) : [];
  } catch (bad) {
    say(`${file} is not JSON (${bad.message}); fix it before adding a case.`);
    return;
  }
  cases.push(testCase);
  state.files[file] = `[\n${cases.map((c) => `  ${JSON.stringify(c)}`).join(",\n")}\n]\n`;
  renderList(state, parts);
  if (may("editor")) save(state);
  say(`Kept as a test case in ${file}: ${cases.length} there now.`);
}

// A finding of Results to write a rule for (`rapport:finding`, set by its "Write a rule for
// this"): its skeleton goes into `findings.rhai` (once), which opens; gives the skeleton.
function fromFinding(state) {
  const saved = sessionStorage.getItem("rapport:finding");
  if (!saved) return null;
  sessionStorage.removeItem("rapport:finding");
  const skeleton = ruleFor(JSON.parse(saved));
  const text = state.files[FINDINGS_FILE] || "";
  if (!text.includes(`rule("${skeleton.id}"`)) {
    state.files[FINDINGS_FILE] = text ? `${text.trimEnd()}\n\n${skeleton.text}` : skeleton.text;
  }
  state.current = FINDINGS_FILE;
  return skeleton;
}

// What the member's role lets them do with the draft: publish (a publisher), save and
// discard (an editor), or only try it out (a viewer).
function publishing(parts, discard) {
  const discarding = el("button", {
    type: "button",
    class: "quiet",
    id: "discard",
    text: "Discard draft",
    onclick: discard,
  });
  if (may("publisher")) {
    return el(
      "div",
      { class: "publish" },
      el("label", { for: "note", text: "Note" }),
      parts.note,
      parts.publish,
      discarding,
    );
  }
  const role = may("editor")
    ? "Your draft is saved as you type; a publisher makes it live."
    : "You are a viewer: you can check, simulate and measure rules here, but nothing you type is saved.";
  return el(
    "div",
    { class: "publish" },
    el("p", { class: "muted", id: "role-note", text: role }),
    may("editor") ? discarding : null,
  );
}

// The draft if there is one, else the active version, else the rulebook built into the edge,
// with the visitor's fields for completion.
async function workspace() {
  const [draft, versions, fields] = await Promise.all([
    api("/v1/admin/draft"),
    api("/v1/admin/rulebooks"),
    api("/v1/admin/fields"),
  ]);
  const state = {
    files: {},
    base: versions.body ? versions.body.active : null,
    fromDraft: false,
    fields: fields.body?.fields || [],
    current: null,
    lastCheck: null,
    saveTimer: null,
    saving: Promise.resolve(),
    editor: null,
  };
  if (draft.body?.draft) {
    state.files = draft.body.draft.files;
    state.base = draft.body.draft.base;
    state.fromDraft = true;
  } else {
    // Until something is published, the shop runs the rulebook built into the edge: the
    // workspace starts from it rather than from nothing.
    const version = await api(state.base ? `/v1/admin/rulebooks/${state.base}` : "/v1/admin/rulebooks/builtin");
    state.files = version.body?.files || {};
  }
  const names = fileNames(state);
  state.current = names.find((n) => n.endsWith(".rhai")) || names[0] || "rules.rhai";
  state.files[state.current] ??= "";
  return state;
}

function fileNames(state) {
  return Object.keys(state.files).sort();
}

function originText(state) {
  const from = state.base ? `version ${state.base}` : "the built-in rulebook";
  if (state.fromDraft) return `Your draft, started from ${from}; it is not live until you publish it.`;
  if (state.base) return `Version ${state.base}, the active one. Changes are kept as a draft until you publish.`;
  return "Nothing has been published here yet: the shop runs the rulebook built into the edge, shown here. Changes are kept as a draft until you publish.";
}

// A pause in typing keeps the draft at the edge.
function save(state) {
  clearTimeout(state.saveTimer);
  state.saveTimer = setTimeout(() => {
    const body = { files: state.files, base: state.base };
    state.saving = api("/v1/admin/draft", { method: "PUT", body }).then((saved) => {
      say(saved.status === 200 ? "Draft saved" : `Draft not saved: ${errorText(saved)}`);
    });
  }, SAVE_AFTER_MS);
}

// A save still waiting or on its way would bring the draft back after a publish or a
// discard: it is cancelled, or waited for.
async function settle(state) {
  clearTimeout(state.saveTimer);
  await state.saving;
}

async function publish(state, parts) {
  await settle(state);
  state.files[state.current] = state.editor.text();
  say("Working out what changes…");
  const { changes, reach } = await summary(state.files);
  const warnings = (state.lastCheck?.diagnostics || []).filter((d) => d.severity === "warning").map((d) => d.text);
  const sure = await ask(
    "Publish this draft?",
    [
      ["What changes", changes, "confirm-changes"],
      ["Warnings still open", warnings.length ? warnings : ["None."], "confirm-warnings"],
      ["Reach", reach, "confirm-reach"],
    ],
    "Publish",
  );
  say("");
  if (!sure) return;
  // The edge discards the draft in the same call, once the version is stored.
  const body = { files: state.files, note: parts.note.value, discard_draft: true };
  const answer = await api("/v1/admin/rulebooks", { method: "POST", body });
  if (answer.status === 202) {
    say(`Sent for approval (request ${answer.body.requested}): another publisher approves it under Rulebook.`);
    parts.note.value = "";
    return;
  }
  if (answer.status !== 201) {
    say(`Not published: ${errorText(answer)}`);
    return;
  }
  state.base = answer.body.id;
  say(`Published version ${answer.body.id}; pages get it within seconds.`);
  parts.origin.textContent = `Version ${answer.body.id}, as published.`;
  parts.note.value = "";
}

// Shows file `name`, at `line` (and `col`) when given.
function open(state, parts, name, line, col) {
  if (name !== state.current) {
    state.files[state.current] = state.editor.text();
    state.current = name;
    parts.host.setAttribute("aria-label", `Editor for ${name}`);
    state.editor.show(state.files[name] || "");
    renderList(state, parts);
  }
  if (line) state.editor.goTo(line, col);
}

// A file's name: `NAME.rhai` for rules, `tests/NAME.json` for test cases, as a publish takes
// them; gives what is wrong with `name`, or nothing.
export function badFileName(name, taken) {
  if (!/^([A-Za-z0-9_.-]+\.rhai|tests\/[A-Za-z0-9_.-]+\.json)$/.test(name)) {
    return "A file is NAME.rhai (rules) or tests/NAME.json (test cases), with letters, digits, - _ and . only.";
  }
  if (taken.includes(name)) return `There is already a file ${name}.`;
  return "";
}

// New, rename and delete for the files: each asks its name (or confirmation) in a small form
// under the list; the draft keeps the change, and the check runs again.
function fileActions(state, parts) {
  const box = el("div", { class: "file-actions" });
  const afterChange = () => {
    renderList(state, parts);
    if (may("editor")) save(state);
    state.editor.show(state.files[state.current]);
    parts.host.setAttribute("aria-label", `Editor for ${state.current}`);
  };
  const askName = (label, value, done) => {
    const input = el("input", { id: "file-name", value, "aria-describedby": "file-problem", spellcheck: "false" });
    const problem = el("p", { id: "file-problem", class: "error", role: "alert" });
    const form = el(
      "form",
      { class: "file-form" },
      el("label", { for: "file-name", text: label }),
      input,
      el("button", { type: "submit", text: "OK" }),
      el("button", { type: "button", class: "quiet", text: "Cancel", onclick: () => form.remove() }),
      problem,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = input.value.trim();
      const wrong = badFileName(name, fileNames(state));
      if (wrong) {
        problem.textContent = wrong;
        return;
      }
      form.remove();
      done(name);
    });
    box.querySelector(".file-form")?.remove();
    box.append(form);
    input.focus();
  };
  const create = () =>
    askName("New file (NAME.rhai, or tests/NAME.json for test cases)", "", (name) => {
      state.files[state.current] = state.editor.text();
      state.files[name] = name.endsWith(".json") ? "[]\n" : "// What these rules are for.\n";
      state.current = name;
      afterChange();
      say(`${name} created`);
    });
  const rename = () =>
    askName(`Rename ${state.current} to`, state.current, (name) => {
      state.files[name] = state.editor.text();
      delete state.files[state.current];
      say(`${state.current} is now ${name}`);
      state.current = name;
      afterChange();
    });
  const remove = async () => {
    const rules = fileNames(state).filter((n) => n.endsWith(".rhai"));
    if (rules.length === 1 && state.current.endsWith(".rhai")) {
      say("A rulebook keeps at least one rule file.");
      return;
    }
    const sure = await ask(
      `Delete ${state.current}?`,
      [
        [
          "It goes from the draft",
          [`${state.current} and everything in it; publishing makes it final.`],
          "confirm-changes",
        ],
      ],
      "Delete",
    );
    if (!sure) return;
    const gone = state.current;
    delete state.files[gone];
    state.current = fileNames(state).find((n) => n.endsWith(".rhai"));
    afterChange();
    say(`${gone} deleted from the draft`);
  };
  box.append(
    el("button", { type: "button", class: "quiet", id: "new-file", text: "New file", onclick: create }),
    el("button", { type: "button", class: "quiet", id: "rename-file", text: "Rename", onclick: rename }),
    el("button", { type: "button", class: "quiet", id: "delete-file", text: "Delete", onclick: remove }),
  );
  return box;
}

function renderList(state, parts) {
  const errors = (name) =>
    state.lastCheck ? state.lastCheck.diagnostics.filter((d) => d.file === name && d.severity === "error").length : 0;
  const item = (name) => {
    const count = errors(name);
    const current = name === state.current;
    return el(
      "li",
      {},
      el("button", {
        type: "button",
        class: current ? "file current" : "file quiet",
        "aria-current": current ? "true" : "false",
        text: count ? `${name} (${plural(count, "error")})` : name,
        onclick: () => open(state, parts, name, null),
      }),
    );
  };
  parts.list.replaceChildren(...fileNames(state).map(item));
}

function renderCheck(state, parts) {
  const { diagnostics, tests, publishable } = state.lastCheck;
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const run = tests ? `; tests: ${tests.passed} passed, ${tests.failed} failed` : "; tests run once it compiles";
  parts.summary.textContent = `${plural(errors, "error")}, ${plural(diagnostics.length - errors, "warning")}${run}`;
  parts.problems.replaceChildren(
    ...diagnostics.map((d) =>
      el(
        "li",
        {},
        el("button", {
          type: "button",
          class: `quiet problem ${d.severity}`,
          text: d.text,
          onclick: () => open(state, parts, d.file, d.line || 1, d.col),
        }),
      ),
    ),
  );
  const failures = (tests ? tests.failures : []).map((f) =>
    el("li", { class: "error", text: `${f.file}${f.case ? ` “${f.case}”` : ""}: ${f.failures.join("; ")}` }),
  );
  parts.tests.replaceChildren(...failures);
  parts.publish.disabled = !publishable;
  renderList(state, parts);
}
