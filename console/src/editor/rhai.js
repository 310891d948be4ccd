// Rhai for CodeMirror: a stream tokenizer (no Rhai grammar exists for CodeMirror 6, and the
// Rust one flags valid Rhai), and completion of the visitor's fields after `v.`, from the
// edge's own model of them (`GET /v1/admin/fields`).

import { StreamLanguage } from "@codemirror/language";

const KEYWORDS = new Set([
  "let",
  "const",
  "if",
  "else",
  "switch",
  "do",
  "while",
  "loop",
  "until",
  "for",
  "in",
  "break",
  "continue",
  "return",
  "throw",
  "try",
  "catch",
  "fn",
  "private",
  "this",
  "true",
  "false",
]);
const BUILTINS = new Set(["rule", "segment", "settings", "v"]);

export const rhai = StreamLanguage.define({
  name: "rhai",
  startState: () => ({ inComment: false }),
  token(stream, state) {
    if (state.inComment) {
      if (stream.skipTo("*/")) {
        stream.next();
        stream.next();
        state.inComment = false;
      } else {
        stream.skipToEnd();
      }
      return "comment";
    }
    if (stream.eatSpace()) return null;
    if (stream.match("//")) {
      stream.skipToEnd();
      return "comment";
    }
    if (stream.match("/*")) {
      state.inComment = true;
      return "comment";
    }
    if (stream.match(/^"(?:[^"\\]|\\.)*"?/) || stream.match(/^`[^`]*`?/)) return "string";
    if (stream.match(/^'(?:[^'\\]|\\.)'/)) return "string";
    if (stream.match(/^0x[0-9a-fA-F_]+/) || stream.match(/^\d[\d_]*(\.\d+)?(e[+-]?\d+)?/)) return "number";
    if (stream.match("#{")) return "bracket";
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/);
    if (word) {
      const w = word[0];
      if (KEYWORDS.has(w)) return "keyword";
      if (BUILTINS.has(w)) return "variableName.special";
      if (stream.peek() === "(") return "variableName.function";
      if (stream.string.charAt(stream.start - 1) === ".") return "propertyName";
      return "variableName";
    }
    if (stream.match(/^(==|!=|<=|>=|&&|\|\||=>|\.\.=?|[-+*/%<>=!&|^?:.,;])/)) return "operator";
    stream.next();
    return null;
  },
  languageData: { commentTokens: { line: "//", block: { open: "/*", close: "*/" } }, indentOnInput: /^\s*[)\]}]$/ },
});

// The fields under a path such as `v.cart.products[0]`, from the model's tree.
function under(model, path) {
  let fields = model;
  for (const part of path) {
    const found = fields.find((f) => f.name === part);
    if (!found?.fields) return [];
    fields = found.fields;
  }
  return fields;
}

// Completes `v.` and `v.a.b.` with the fields the visitor has there.
export function visitorCompletion(model) {
  return (context) => {
    const before = context.matchBefore(/\bv(?:\.[A-Za-z_]\w*(?:\[[^\]]*\])?)*\.\w*$/);
    if (!before) return null;
    const text = before.text.replace(/\[[^\]]*\]/g, "");
    const parts = text.split(".");
    const typed = parts.pop();
    const path = parts.slice(1);
    const options = under(model, path).map((f) => ({
      label: f.name,
      type: f.fields ? "namespace" : "property",
      detail: f.kind,
    }));
    if (options.length === 0) return null;
    return { from: before.to - typed.length, options, validFor: /^\w*$/ };
  };
}
