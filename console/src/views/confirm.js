// Publishing and rolling back ask first: a dialog says what changes rule by rule, the
// warnings still open, and the reach over recent visitors, then asks for confirmation.

import { api, errorText } from "../api.js";
import { el } from "../dom.js";
import { changeLines, reachLines } from "../format.js";
import { siteName } from "../site.js";

/// The summary of going from the active rulebook to `files`: `{changes, reach}` as lists of
/// lines (an error line when a part cannot be worked out).
export async function summary(files) {
  const [changes, impact] = await Promise.all([
    api("/v1/admin/changes", { method: "POST", body: { from: "active", to: { files } } }),
    api("/v1/admin/impact", { method: "POST", body: { site: siteName(), files } }),
  ]);
  return {
    changes:
      changes.status === 200 ? changeLines(changes.body) : [`The changes could not be listed: ${errorText(changes)}`],
    reach: impact.status === 200 ? reachLines(impact.body) : [`The reach could not be measured: ${errorText(impact)}`],
  };
}

/// The rule-level changes as a list.
export function changeList(lines, id) {
  return el("ul", { id, class: "changes" }, ...lines.map((text) => el("li", { text })));
}

/// Asks, in a modal dialog titled `title`, with `sections` (`[heading, lines]`); resolves to
/// whether `yes` was chosen. Esc or Cancel says no.
export function ask(title, sections, yes) {
  return new Promise((resolve) => {
    const dialog = el(
      "dialog",
      { id: "confirm", "aria-labelledby": "confirm-title" },
      el("h3", { id: "confirm-title", text: title }),
      ...sections.flatMap(([heading, lines, id]) => [el("h4", { text: heading }), changeList(lines, id)]),
    );
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      el(
        "div",
        { class: "dialog-buttons" },
        el("button", { type: "button", id: "confirm-yes", text: yes, onclick: () => close(true) }),
        el("button", { type: "button", class: "quiet", id: "confirm-no", text: "Cancel", onclick: () => close(false) }),
      ),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector("#confirm-no").focus();
  });
}
