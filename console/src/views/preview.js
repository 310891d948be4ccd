// A preview link for one experience of the draft, opened in a new tab on the chosen shop
// (this edge, or one of the site's origins) at the chosen page.

import { api } from "../api.js";
import { el, errorLine, field, options, say } from "../dom.js";
import { currentSite, siteName } from "../site.js";

const KEPT = "rapport:preview-origin";

/// `files()` gives the draft. Gives the controls, `make(experience)`, and `refresh()` for
/// when another site is picked.
export function previewer(files) {
  const shop = el("select", { id: "preview-origin" });
  const path = el("input", { id: "preview-path", value: "/", size: "24" });
  const refresh = () => {
    const origins = [...new Set([location.origin, ...(currentSite()?.origins || [])])];
    const labelled = origins.map((o) => [o, o === location.origin ? `${o} (this edge)` : o]);
    shop.replaceChildren(...options(labelled, localStorage.getItem(KEPT)));
  };
  refresh();
  shop.addEventListener("change", () => localStorage.setItem(KEPT, shop.value));
  const out = el("p", { id: "preview-link", "aria-live": "polite" });
  const make = async (experience) => {
    const body = { site: siteName(), experience, files: files(), path: path.value || "/", minutes: 60 };
    const answer = await api("/v1/admin/previews", { method: "POST", body });
    if (answer.status !== 200) {
      out.replaceChildren(errorLine(answer, "span"));
      return;
    }
    const url = shop.value + answer.body.link;
    out.replaceChildren(
      el("a", { href: url, target: "_blank", rel: "noopener", id: "preview-url", text: `Preview of ${experience}` }),
      el("span", { class: "muted", text: " (from this draft, for an hour; it records nothing)" }),
    );
    window.open(url, "_blank", "noopener");
    say(`Opened the preview of ${experience}`);
  };
  const element = el(
    "div",
    { class: "filters" },
    field("preview-origin", "Preview on", shop),
    field("preview-path", "Page", path),
    out,
  );
  return { element, make, refresh };
}
