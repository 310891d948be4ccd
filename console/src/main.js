// The marketer console: sign in once with a name and secret (or the admin token), or join by
// an invitation link (the edge exchanges either for an HttpOnly session cookie; no secret is
// stored in the browser), then route to a view.
// Each view (`views/*.js`) draws into the root it is given and imports what it uses.
// `cargo xtask build` bundles this and CodeMirror with esbuild. Everything is drawn with DOM
// calls and textContent (no HTML from data), under the edge's strict CSP.

import { errorText, me, onSignedOut, SignedOut, session } from "./api.js";
import { el, field, say } from "./dom.js";
import { timeText } from "./format.js";
import { loadSites } from "./site.js";
import { audit } from "./views/audit.js";
import { results } from "./views/results.js";
import { rulebook } from "./views/rulebook.js";
import { team } from "./views/team.js";
import { write } from "./views/write.js";

const VIEWS = { results, write, rulebook, audit, team };
const TITLES = {
  results: "Results",
  write: "Write",
  rulebook: "Rulebook versions",
  audit: "Audit log",
  team: "Team",
};

const app = document.getElementById("app");
const nav = document.getElementById("nav");

function signIn(message) {
  // Calls still on their way when the session ended find the form already there: it stays,
  // with what the marketer has typed.
  const shown = document.getElementById("sign-in-error");
  if (nav.hidden && shown) {
    if (message) shown.textContent = message;
    return;
  }
  nav.hidden = true;
  const name = el("input", { id: "name", autocomplete: "username" });
  const input = el("input", { id: "token", type: "password", autocomplete: "current-password", required: "" });
  const problem = el("p", { id: "sign-in-error", class: "error", role: "alert", text: message || "" });
  const form = el(
    "form",
    { class: "sign-in", "aria-labelledby": "sign-in-title" },
    el("h2", { id: "sign-in-title", text: "Sign in" }),
    field("name", "Your name", name),
    field("token", "Your secret", input),
    el("p", {
      class: "muted",
      id: "sign-in-help",
      text: "The owner signs in with the admin token alone, leaving the name empty. Everyone else joins by the owner's invitation link.",
    }),
    el("button", { type: "submit", text: "Sign in" }),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const body = name.value.trim() ? { name: name.value.trim(), secret: input.value } : { token: input.value };
    const answer = await session.start(body);
    if (answer.status === 201) {
      input.value = "";
      await show();
    } else if (answer.status === 429) {
      problem.textContent = "Too many attempts from here; wait a minute and try again.";
    } else if (answer.status === 401) {
      problem.textContent = body.token ? "That is not the admin token." : "That name and secret do not match.";
      input.select();
    } else {
      problem.textContent = errorText(answer);
    }
  });
  app.replaceChildren(form);
  input.focus();
}

// An invitation link (`#invite=TOKEN`): who it is for, then a secret of their own.
async function join(token) {
  nav.hidden = true;
  // The token leaves the address bar (and the history) at once.
  history.replaceState(null, "", location.pathname);
  const invited = await session.invitation(token);
  if (invited.status !== 200) {
    signIn(errorText(invited));
    return;
  }
  const { name, role, invited_by: by, expires_ms: expires } = invited.body;
  const secret = el("input", { id: "new-secret", type: "password", autocomplete: "new-password", required: "" });
  const again = el("input", { id: "new-secret-again", type: "password", autocomplete: "new-password", required: "" });
  const problem = el("p", { id: "join-error", class: "error", role: "alert" });
  const form = el(
    "form",
    { class: "sign-in", "aria-labelledby": "join-title" },
    el("h2", { id: "join-title", text: `Welcome, ${name}` }),
    el("p", {
      id: "invited-as",
      text: `${by} invited you as ${role}. The link works once, until ${timeText(expires)}.`,
    }),
    field("new-secret", "Choose a secret (12 characters or more; a few words make a good one)", secret),
    field("new-secret-again", "The same secret again", again),
    el("button", { type: "submit", text: "Join" }),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (secret.value !== again.value) {
      problem.textContent = "The two secrets differ.";
      again.select();
      return;
    }
    const answer = await session.join(token, secret.value);
    if (answer.status === 201) await show();
    else problem.textContent = errorText(answer);
  });
  app.replaceChildren(form);
  secret.focus();
}

// Which navigation is the latest: an earlier one still waiting draws nothing.
let navigation = 0;

async function show() {
  nav.hidden = false;
  document.getElementById("who").textContent = `${me.name} (${me.role})`;
  const ticket = ++navigation;
  // A session that ended meanwhile has already brought the sign-in back.
  if (!(await loadSites()) || ticket !== navigation) return;
  const name = location.hash.slice(1) in VIEWS ? location.hash.slice(1) : "results";
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // The page's heading takes the focus, so a screen reader says where the marketer is.
  const heading = el("h2", { id: "view-title", tabindex: "-1", text: TITLES[name] });
  const root = el("div", { class: `view view-${name}` });
  app.replaceChildren(heading, root);
  heading.focus();
  VIEWS[name](root).catch((err) => {
    if (!(err instanceof SignedOut)) say(`Something went wrong: ${err.message}`);
  });
}

onSignedOut(signIn);
// The skip link jumps over the navigation to the view (the hash is the router's).
document.getElementById("skip").addEventListener("click", (event) => {
  event.preventDefault();
  (document.getElementById("view-title") || app).focus();
});
document.getElementById("sign-out").addEventListener("click", async () => {
  await session.end();
  location.hash = "";
  signIn("You are signed out.");
});
addEventListener("hashchange", () => {
  if (!nav.hidden) show();
});

if (location.hash.startsWith("#invite=")) join(location.hash.slice("#invite=".length));
else if (await session.active().catch(() => false)) show();
else signIn();
