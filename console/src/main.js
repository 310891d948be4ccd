// The marketer console: sign in once with the admin token (the edge exchanges it for an
// HttpOnly session cookie; the token is never stored in the browser), then read results
// (`results.js`), write and check rules, simulate, preview and see their impact
// (`write.js`, `browse.js`), publish them, browse and roll back rulebook versions, and read
// the audit log. `cargo xtask build` bundles this and CodeMirror with esbuild. Everything
// is drawn with DOM calls and textContent (no HTML from data), under the edge's strict CSP.

import { diffLines } from "diff";
import { write } from "./write.js";
import { results } from "./results.js";

const app = document.getElementById("app");
const nav = document.getElementById("nav");
const status = document.getElementById("status");

// Every call carries the console's header: the edge refuses state changes without it, which
// a page on another site cannot add.
async function api(path, options = {}) {
  const response = await fetch(path, {
    method: options.method || "GET",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-rapport-console": "1" },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  let body = null;
  try {
    body = await response.json();
  } catch (notJson) {
    body = null;
  }
  if (response.status === 401 && path !== "/v1/console/session") {
    signIn("Your session has ended. Sign in again.");
    throw new Error("signed out");
  }
  return { status: response.status, body };
}

function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") element.textContent = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value);
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

function say(text) {
  status.textContent = text;
}

function errorText(answer) {
  const error = answer.body && answer.body.error;
  if (!error) return `The edge answered ${answer.status}.`;
  return error.field ? `${error.message} (${error.field})` : error.message;
}

// --- Signing in and out ------------------------------------------------------------------

function signIn(message) {
  nav.hidden = true;
  const input = el("input", { id: "token", type: "password", autocomplete: "current-password", required: "" });
  const problem = el("p", { id: "sign-in-error", class: "error", role: "alert" });
  if (message) problem.textContent = message;
  const form = el(
    "form",
    { class: "sign-in", "aria-labelledby": "sign-in-title" },
    el("h2", { id: "sign-in-title", text: "Sign in" }),
    el("label", { for: "token", text: "Admin token" }),
    input,
    el("button", { type: "submit", text: "Sign in" }),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const answer = await api("/v1/console/session", { method: "POST", body: { token: input.value } });
    if (answer.status === 201) {
      input.value = "";
      await show();
    } else if (answer.status === 429) {
      problem.textContent = "Too many attempts from here; wait a minute and try again.";
    } else if (answer.status === 401) {
      problem.textContent = "That is not the admin token.";
      input.select();
    } else {
      problem.textContent = errorText(answer);
    }
  });
  app.replaceChildren(form);
  input.focus();
}

async function signOut() {
  await api("/v1/console/session", { method: "DELETE" });
  location.hash = "";
  signIn("You are signed out.");
}

// A table with a CSV download of the same rows.
function table(caption, headings, rows) {
  const head = el("tr", {}, ...headings.map((h) => el("th", { scope: "col", text: h })));
  const body = rows.map((row) =>
    el("tr", {}, ...row.map((cell) => el("td", typeof cell === "number" ? { class: "num", text: String(cell) } : { text: cell }))),
  );
  // A new shop, or a quiet period: the table says so rather than standing empty.
  if (rows.length === 0) {
    body.push(el("tr", { class: "empty-row" }, el("td", { colspan: String(headings.length), class: "muted", text: "Nothing in this period yet." })));
  }
  const csv = [headings, ...rows]
    .map((row) => row.map((c) => `"${String(c).replaceAll('"', '""')}"`).join(","))
    .join("\n");
  const link = el("a", {
    href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })),
    download: caption.toLowerCase().replace(/[^a-z0-9]+/g, "-") + ".csv",
    text: `Download ${caption} as CSV`,
  });
  // A table wider than a tablet's screen scrolls on its own, not the whole page.
  return el("div", {}, el("div", { class: "table-wrap" },
    el("table", {}, el("caption", { text: caption }), el("thead", {}, head), el("tbody", {}, ...body))), link);
}

// --- Rulebook versions ------------------------------------------------------------------

async function rulebook() {
  const answer = await api("/v1/admin/rulebooks");
  if (answer.status !== 200) {
    app.replaceChildren(el("p", { class: "error", role: "alert", text: errorText(answer) }));
    return;
  }
  const { active, versions } = answer.body;
  const files = el("div", { id: "files" });
  const rows = versions.map((v) => {
    const actions = el("td", {});
    const view = el("button", { type: "button", class: "quiet", text: "View files",
      "aria-label": `View the files of version ${v.id}` });
    view.addEventListener("click", () => showFiles(v.id, files));
    actions.append(view, " ");
    if (v.id === active) {
      actions.append(el("span", { class: "active-badge", text: "active" }));
    } else {
      const activate = el("button", { type: "button", text: "Make active",
        "aria-label": `Make version ${v.id} active` });
      activate.addEventListener("click", async () => {
        const done = await api(`/v1/admin/rulebooks/${v.id}/activate`, { method: "POST", body: {} });
        if (done.status === 200) {
          say(`Version ${v.id} is active; pages get it within seconds.`);
          rulebook();
        } else {
          say(errorText(done));
        }
      });
      actions.append(activate);
    }
    return el("tr", {}, el("td", { class: "num", text: String(v.id) }), el("td", { text: v.version }),
      el("td", { text: v.note || "" }), el("td", { text: new Date(v.published_ms).toLocaleString() }), actions);
  });
  const head = el("tr", {}, ...["Version", "Content hash", "Note", "Published", ""].map((h) => el("th", { scope: "col", text: h })));
  app.replaceChildren(el("h2", { text: "Rulebook versions" }),
    el("table", { id: "versions" }, el("thead", {}, head), el("tbody", {}, ...rows)),
    compare(versions), files);
}

// Two versions side by side: every file's lines added and removed.
function compare(versions) {
  const pick = (id, label, index) => el("div", {}, el("label", { for: id, text: label }),
    el("select", { id }, ...versions.map((v, i) => {
      const option = el("option", { value: String(v.id), text: `${v.id}${v.note ? ` (${v.note})` : ""}` });
      if (i === index) option.setAttribute("selected", "");
      return option;
    })));
  const out = el("div", { id: "diff" });
  const form = el("form", { class: "filters", "aria-label": "Compare versions" },
    pick("diff-from", "Compare version", Math.min(1, versions.length - 1)), pick("diff-to", "with version", 0),
    el("button", { type: "submit", text: "Compare" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [a, b] = await Promise.all(["diff-from", "diff-to"].map((id) =>
      api(`/v1/admin/rulebooks/${document.getElementById(id).value}`)));
    const before = (a.body && a.body.files) || {};
    const after = (b.body && b.body.files) || {};
    const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    const changed = names.filter((n) => before[n] !== after[n]);
    out.replaceChildren(changed.length === 0 ? el("p", { class: "empty", text: "The two versions have the same files." }) : "",
      ...changed.map((name) => {
        const parts = diffLines(before[name] || "", after[name] || "");
        const pre = el("pre", { class: "diff" }, ...parts.map((part) => el("span", {
          class: part.added ? "added" : part.removed ? "removed" : "same",
          text: part.value.replace(/^/gm, part.added ? "+ " : part.removed ? "- " : "  ").replace(/(\n|  )$/, "\n"),
        })));
        const what = !(name in before) ? "added" : !(name in after) ? "removed" : "changed";
        return el("section", {}, el("h3", { text: `${name} (${what})` }), pre);
      }));
  });
  return el("div", {}, el("h3", { text: "Compare" }), form, out);
}

async function showFiles(id, into) {
  const answer = await api(`/v1/admin/rulebooks/${id}`);
  if (answer.status !== 200) {
    into.replaceChildren(el("p", { class: "error", text: errorText(answer) }));
    return;
  }
  const names = Object.keys(answer.body.files).sort();
  into.replaceChildren(el("h3", { text: `Version ${id}` }),
    ...names.map((name) => el("details", {}, el("summary", { text: name }), el("pre", { text: answer.body.files[name] }))));
}

// --- Audit log ----------------------------------------------------------------------------

async function audit() {
  const answer = await api("/v1/admin/audit");
  if (answer.status !== 200) {
    app.replaceChildren(el("p", { class: "error", role: "alert", text: errorText(answer) }));
    return;
  }
  const entries = answer.body.entries;
  app.replaceChildren(el("h2", { text: "Audit log" }), entries.length === 0
    ? el("p", { class: "empty", text: "Nothing has been published or changed yet." })
    : table("Audit log", ["When", "Action", "Detail"],
      entries.map((e) => [new Date(e.at_ms).toLocaleString(), e.action, JSON.stringify(e.detail)])));
}

// --- The site being worked on ------------------------------------------------------------

// The sites this edge serves (`GET /v1/admin/sites`), and the one picked, kept for the tab.
const site = {
  list: [],
  name: () => sessionStorage.getItem("rapport:site") || (site.list[0] && site.list[0].site) || "demo",
  current: () => site.list.find((s) => s.site === site.name()),
  // Asked once per page; every view waits for the same answer.
  loading: null,
  load() {
    site.loading = site.loading || api("/v1/admin/sites").then((answer) => {
      site.list = answer.status === 200 ? answer.body.sites : [];
    });
    return site.loading;
  },
  // A picker of the sites; `changed` hears a new choice.
  picker(id, changed) {
    const names = site.list.length ? site.list.map((s) => s.site) : [site.name()];
    const select = el("select", { id }, ...names.map((n) => {
      const option = el("option", { value: n, text: n });
      if (n === site.name()) option.setAttribute("selected", "");
      return option;
    }));
    select.addEventListener("change", () => {
      sessionStorage.setItem("rapport:site", select.value);
      if (changed) changed(select.value);
    });
    return select;
  },
};

// --- Navigation -------------------------------------------------------------------------------

const views = {
  results: () => results({ api, el, app, table, errorText, site }),
  write: () => write({ api, el, say, app, table, site }),
  rulebook,
  audit,
};

// Which navigation is the latest: an earlier one still waiting draws nothing.
let navigation = 0;

async function show() {
  nav.hidden = false;
  const ticket = ++navigation;
  // A session that ended meanwhile has already brought the sign-in back.
  if (!(await site.load().then(() => true, () => false))) {
    site.loading = null;
    return;
  }
  if (ticket !== navigation) return;
  const name = location.hash.slice(1) in views ? location.hash.slice(1) : "results";
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  views[name]().catch((err) => {
    if (err.message !== "signed out") say(`Something went wrong: ${err.message}`);
  });
  app.focus();
}

document.getElementById("sign-out").addEventListener("click", signOut);
addEventListener("hashchange", () => {
  if (!nav.hidden) show();
});

const session = await api("/v1/console/session");
if (session.status === 200) show();
else signIn();
