// The audit log: who published, activated or changed what, newest first.

import { api } from "../api.js";
import { el, errorLine, table } from "../dom.js";
import { timeText } from "../format.js";

export async function audit(root) {
  const answer = await api("/v1/admin/audit");
  if (answer.status !== 200) {
    root.replaceChildren(errorLine(answer));
    return;
  }
  const entries = answer.body.entries;
  root.replaceChildren(
    entries.length === 0
      ? el("p", { class: "empty", text: "Nothing has been published or changed yet." })
      : table(
          "Audit log",
          ["When", "Who", "Action", "Detail"],
          entries.map((e) => [timeText(e.at_ms), e.who ?? "a shopper", e.action, JSON.stringify(e.detail)]),
        ),
  );
}
