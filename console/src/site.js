// The sites this edge serves (`GET /v1/admin/sites`), and the one the marketer picked, kept
// for the tab.

import { api } from "./api.js";
import { select } from "./dom.js";

const KEY = "rapport:site";
let list = [];
let currency = "EUR";
let loading = null;

/// Asks for the sites once per sign-in; every view waits for the same answer. Gives false
/// when the session ended meanwhile.
export async function loadSites() {
  loading ||= api("/v1/admin/sites").then((answer) => {
    list = answer.status === 200 ? answer.body.sites : [];
    currency = answer.body?.currency || currency;
  });
  try {
    await loading;
    return true;
  } catch {
    loading = null;
    return false;
  }
}

/// The shop's currency (ISO 4217), in which money is shown.
export function shopCurrency() {
  return currency;
}

/// The site picked, or the first one.
export function siteName() {
  return sessionStorage.getItem(KEY) || list[0]?.site || "demo";
}

/// The picked site's settings (its origins), when the edge listed it.
export function currentSite() {
  return list.find((s) => s.site === siteName());
}

/// A picker of the sites; `changed(name)` hears a new choice.
export function sitePicker(id, changed) {
  const names = list.length ? list.map((s) => s.site) : [siteName()];
  const picker = select(id, names, siteName());
  picker.addEventListener("change", () => {
    sessionStorage.setItem(KEY, picker.value);
    changed?.(picker.value);
  });
  return picker;
}
