// Drawing: elements from tag, attributes and children (text only through textContent, so
// nothing from data becomes HTML), tables with their CSV, selects, error lines, the status
// line.

import { errorText } from "./api.js";
import { csv, slug } from "./format.js";

/// An element: `text` sets its text, `on…` adds a listener, anything else is an attribute.
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") element.textContent = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) element.setAttribute(name, value);
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

/// The status line under the page, read out by screen readers.
export function say(text) {
  document.getElementById("status").textContent = text;
}

/// An answer's error as an alert paragraph (or `tag`).
export function errorLine(answer, tag = "p") {
  return el(tag, { class: "error", role: "alert", text: typeof answer === "string" ? answer : errorText(answer) });
}

/// A `<select>` of `choices` (values, or `[value, text]` pairs) with `chosen` selected.
export function select(id, choices, chosen) {
  return el("select", { id }, ...options(choices, chosen));
}

/// The `<option>`s of a select, `chosen` selected: to fill a select again. (Options moved
/// out of another select would carry the selection it gives its first option.)
export function options(choices, chosen) {
  return choices.map((o) => {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    return el("option", { value, text, selected: value === chosen ? "" : null });
  });
}

/// A label above its input.
export function field(id, label, input, ...after) {
  return el("div", {}, el("label", { for: id, text: label }), input, ...after);
}

/// A row of header cells.
export function headings(names) {
  return el("tr", {}, ...names.map((h) => el("th", { scope: "col", text: h })));
}

// A row as the CSV has it: an element (a button) by its text.
const plain = (row) => row.map((cell) => (cell instanceof Node ? cell.textContent : cell));

/// A table with a CSV download of the same rows (a cell may be an element, such as a button); numbers are right-aligned. With no rows it
/// says `empty`.
export function table(caption, heads, rows, empty = "Nothing in this period yet.") {
  const body = rows.map((row) =>
    el(
      "tr",
      {},
      ...row.map((cell) =>
        cell instanceof Node
          ? el("td", {}, cell)
          : el("td", typeof cell === "number" ? { class: "num", text: String(cell) } : { text: cell }),
      ),
    ),
  );
  // A new shop, or a quiet period: the table says so rather than standing empty.
  if (rows.length === 0) {
    const cell = el("td", { colspan: String(heads.length), class: "muted", text: empty });
    body.push(el("tr", { class: "empty-row" }, cell));
  }
  const link = el("a", {
    href: URL.createObjectURL(new Blob([csv([heads, ...rows.map(plain)])], { type: "text/csv" })),
    download: `${slug(caption)}.csv`,
    text: `Download ${caption} as CSV`,
  });
  const drawn = el(
    "table",
    {},
    el("caption", { text: caption }),
    el("thead", {}, headings(heads)),
    el("tbody", {}, ...body),
  );
  // A table wider than a tablet's screen scrolls on its own, not the whole page.
  return el("div", {}, el("div", { class: "table-wrap" }, drawn), link);
}
