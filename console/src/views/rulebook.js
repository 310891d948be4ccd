// Rulebook versions: every published version with its note, the active one marked, any
// other made active again in one click (a rollback), the files of each, and two versions
// compared line by line (`diff`).

import { diffLines } from "diff";
import { api, errorText, may } from "../api.js";
import { el, errorLine, field, headings, say, select } from "../dom.js";
import { timeText } from "../format.js";

export async function rulebook(root) {
  const answer = await api("/v1/admin/rulebooks");
  if (answer.status !== 200) {
    root.replaceChildren(errorLine(answer));
    return;
  }
  const { active, versions } = answer.body;
  const files = el("div", { id: "files" });
  const rows = versions.map((v) => {
    const actions = el("td", {});
    const view = el("button", {
      type: "button",
      class: "quiet",
      text: "View files",
      "aria-label": `View the files of version ${v.id}`,
      onclick: () => showFiles(v.id, files),
    });
    actions.append(view, " ");
    if (v.id === active) actions.append(el("span", { class: "active-badge", text: "active" }));
    else if (may("publisher")) actions.append(activateButton(v.id, root));
    const published = timeText(v.published_ms);
    return el(
      "tr",
      {},
      el("td", { class: "num", text: String(v.id) }),
      el("td", { text: v.version }),
      el("td", { text: v.note || "" }),
      el("td", { text: published }),
      actions,
    );
  });
  const head = headings(["Version", "Content hash", "Note", "Published", ""]);
  root.replaceChildren(
    el("table", { id: "versions" }, el("thead", {}, head), el("tbody", {}, ...rows)),
    compare(versions),
    files,
  );
}

// Makes version `id` active, then draws the list again.
function activateButton(id, root) {
  const activate = async () => {
    const done = await api(`/v1/admin/rulebooks/${id}/activate`, { method: "POST", body: {} });
    if (done.status !== 200) {
      say(errorText(done));
      return;
    }
    say(`Version ${id} is active; pages get it within seconds.`);
    await rulebook(root);
  };
  return el("button", {
    type: "button",
    text: "Make active",
    "aria-label": `Make version ${id} active`,
    onclick: activate,
  });
}

// Two versions side by side: every file's lines added and removed.
function compare(versions) {
  const options = versions.map((v) => [String(v.id), `${v.id}${v.note ? ` (${v.note})` : ""}`]);
  const idAt = (index) => options[Math.max(0, Math.min(index, options.length - 1))]?.[0];
  const from = select("diff-from", options, idAt(1));
  const to = select("diff-to", options, idAt(0));
  const out = el("div", { id: "diff" });
  const form = el(
    "form",
    { class: "filters", "aria-label": "Compare versions" },
    field("diff-from", "Compare version", from),
    field("diff-to", "with version", to),
    el("button", { type: "submit", text: "Compare" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [a, b] = await Promise.all([from.value, to.value].map((id) => api(`/v1/admin/rulebooks/${id}`)));
    out.replaceChildren(...fileDiffs(a.body?.files || {}, b.body?.files || {}));
  });
  return el("div", {}, el("h3", { text: "Compare" }), form, out);
}

function fileDiffs(before, after) {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changed = names.filter((n) => before[n] !== after[n]);
  if (changed.length === 0) return [el("p", { class: "empty", text: "The two versions have the same files." })];
  return changed.map((name) => {
    const parts = diffLines(before[name] || "", after[name] || "");
    const lines = parts.map((part) => {
      const mark = part.added ? "+ " : part.removed ? "- " : "  ";
      const text = part.value.replace(/^/gm, mark).replace(/(\n| {2})$/, "\n");
      return el("span", { class: part.added ? "added" : part.removed ? "removed" : "same", text });
    });
    const what = !(name in before) ? "added" : !(name in after) ? "removed" : "changed";
    return el("section", {}, el("h3", { text: `${name} (${what})` }), el("pre", { class: "diff" }, ...lines));
  });
}

async function showFiles(id, into) {
  const answer = await api(`/v1/admin/rulebooks/${id}`);
  if (answer.status !== 200) {
    into.replaceChildren(errorLine(answer));
    return;
  }
  const files = answer.body.files;
  const names = Object.keys(files).sort();
  into.replaceChildren(
    el("h3", { text: `Version ${id}` }),
    ...names.map((name) => el("details", {}, el("summary", { text: name }), el("pre", { text: files[name] }))),
  );
}
