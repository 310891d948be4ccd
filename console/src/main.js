// The marketer console: sign in once with the admin token (the edge exchanges it for an
// HttpOnly session cookie; the token is never stored in the browser), then route to a view.
// Each view (`views/*.js`) draws into the root it is given and imports what it uses.
// `cargo xtask build` bundles this and CodeMirror with esbuild. Everything is drawn with DOM
// calls and textContent (no HTML from data), under the edge's strict CSP.

import { errorText, onSignedOut, SignedOut, session } from "./api.js";
import { el, say } from "./dom.js";
import { loadSites } from "./site.js";
import { audit } from "./views/audit.js";
import { results } from "./views/results.js";
import { rulebook } from "./views/rulebook.js";
import { write } from "./views/write.js";

const VIEWS = { results, write, rulebook, audit };
const TITLES = { results: "Results", write: "Write", rulebook: "Rulebook versions", audit: "Audit log" };

const app = document.getElementById("app");
const nav = document.getElementById("nav");

function signIn(message) {
  nav.hidden = true;
  const input = el("input", { id: "token", type: "password", autocomplete: "current-password", required: "" });
  const problem = el("p", { id: "sign-in-error", class: "error", role: "alert", text: message || "" });
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
    const answer = await session.start(input.value);
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

// Which navigation is the latest: an earlier one still waiting draws nothing.
let navigation = 0;

async function show() {
  nav.hidden = false;
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

if (await session.active().catch(() => false)) show();
else signIn();
