// Rulebook versions: every published version with its note, the active one marked, any
// other made active again (a rollback, once its summary is confirmed), the files of each,
// two versions compared rule by rule and then line by line (`diff`), and the publishes
// waiting for a second person's approval.

import { diffLines } from "diff";
import { api, errorText, may, me } from "../api.js";
import { el, errorLine, field, headings, say, select } from "../dom.js";
import { changeLines, timeText } from "../format.js";
import { ask, changeList, summary } from "./confirm.js";

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
      "aria-label": `View files of version ${v.id}`,
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
    await waiting(root),
    el("table", { id: "versions" }, el("thead", {}, head), el("tbody", {}, ...rows)),
    compare(versions),
    files,
  );
}

// Makes version `id` active once its summary is confirmed, then draws the list again.
function activateButton(id, root) {
  const activate = async () => {
    const version = await api(`/v1/admin/rulebooks/${id}`);
    if (version.status !== 200) {
      say(errorText(version));
      return;
    }
    const { changes, reach } = await summary(version.body.files);
    const sure = await ask(
      `Make version ${id} active?`,
      [
        ["What changes from the active version", changes, "confirm-changes"],
        ["Reach", reach, "confirm-reach"],
      ],
      `Make version ${id} active`,
    );
    if (!sure) return;
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
    "aria-label": `Make active: version ${id}`,
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
    const body = { from: Number(from.value), to: Number(to.value) };
    const changes = await api("/v1/admin/changes", { method: "POST", body });
    out.replaceChildren(
      el("h4", { text: `Rule by rule, from version ${from.value} to ${to.value}` }),
      changes.status === 200 ? changeList(changeLines(changes.body), "diff-summary") : errorLine(changes),
      el("h4", { text: "Line by line" }),
      ...fileDiffs(a.body?.files || {}, b.body?.files || {}),
    );
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

// The publishes waiting for a second person: each with what it changes, approved by a
// publisher other than whoever asked, or withdrawn.
async function waiting(root) {
  const answer = await api("/v1/admin/rulebooks/requests");
  if (answer.status !== 200 || answer.body.requests.length === 0) return "";
  const items = await Promise.all(
    answer.body.requests.map(async (r) => {
      const changes = await api("/v1/admin/changes", {
        method: "POST",
        body: { from: "active", to: { files: r.files } },
      });
      const act = async (path, method, done) => {
        const result = await api(path, { method, body: {} });
        say(result.status < 300 ? done : errorText(result));
        await rulebook(root);
      };
      const own = r.by.toLowerCase() === (me.name || "").toLowerCase();
      const buttons = may("publisher")
        ? [
            own
              ? el("p", { class: "muted", text: "Someone else approves this: you asked for it." })
              : el("button", {
                  type: "button",
                  class: "approve",
                  text: "Approve and publish",
                  onclick: () =>
                    act(
                      `/v1/admin/rulebooks/requests/${r.id}/approve`,
                      "POST",
                      "Approved; pages get it within seconds.",
                    ),
                }),
            el("button", {
              type: "button",
              class: "quiet",
              text: own ? "Withdraw" : "Turn down",
              onclick: () => act(`/v1/admin/rulebooks/requests/${r.id}`, "DELETE", "Withdrawn"),
            }),
          ]
        : [];
      return el(
        "li",
        { class: "request" },
        el("p", { text: `${r.by} asked ${timeText(r.requested_ms)}: “${r.note || "no note"}”` }),
        changes.status === 200 ? changeList(changeLines(changes.body)) : errorLine(changes),
        ...buttons,
      );
    }),
  );
  return el(
    "section",
    { id: "requests", "aria-labelledby": "requests-title" },
    el("h3", { id: "requests-title", text: "Waiting for approval" }),
    el("ul", {}, ...items),
  );
}
