// What the editor does with brackets as a marketer types, so that typed text stays as typed:
// the indentation of a new line (by the brackets still open before it), and a closer typed
// where an automatically added one already waits on a later line (it takes that one's place
// rather than adding a second). Pure functions of the text, unit-tested by `node --test`.

const OPENERS = { "(": ")", "[": "]", "{": "}" };
const CLOSERS = { ")": "(", "]": "[", "}": "{" };

/// Each bracket of `text` outside strings and comments, in order: `[index, char]`.
function brackets(text) {
  const found = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "`" || c === "'") {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === "\\") i++;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 1;
    } else if (c in OPENERS || c in CLOSERS) {
      found.push([i, c]);
    }
  }
  return found;
}

const lineIndent = (text, at) => {
  const start = text.lastIndexOf("\n", at - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))[0].length;
};

/// The indentation of a line that starts after `before` and begins with `after`: one `unit`
/// deeper than the line of the innermost bracket still open, or level with it when the line
/// starts by closing it.
export function indentFor(before, after, unit = 4) {
  const open = [];
  for (const [at, c] of brackets(before)) {
    if (c in OPENERS) open.push(at);
    else open.pop();
  }
  if (open.length === 0) return 0;
  const base = lineIndent(before, open[open.length - 1]);
  return /^\s*[)\]}]/.test(after) ? base : base + unit;
}

/// Typing `closer` at `at` in `text`: when every such bracket is already closed and the next
/// thing after the cursor (across spaces and lines) is that closer, the typed one takes its
/// place. Gives the edit as `{changes, cursor}`, or null to type it as usual. A line left
/// with nothing but spaces goes too.
export function takeWaitingCloser(text, at, closer) {
  if (!(closer in CLOSERS)) return null;
  let depth = 0;
  for (const [, c] of brackets(text)) {
    if (c === CLOSERS[closer]) depth++;
    else if (c === closer) depth--;
  }
  if (depth > 0) return null;
  const gap = /^\s*/.exec(text.slice(at))[0];
  const waiting = at + gap.length;
  if (text[waiting] !== closer || !gap.includes("\n")) return null;
  const lineStart = text.lastIndexOf("\n", waiting - 1) + 1;
  const lineEnd = text.indexOf("\n", waiting) < 0 ? text.length : text.indexOf("\n", waiting);
  const rest = text.slice(lineStart, waiting) + text.slice(waiting + 1, lineEnd);
  const remove = /^\s*$/.test(rest) ? { from: lineStart - 1, to: lineEnd } : { from: waiting, to: waiting + 1 };
  return {
    changes: [
      { from: at, to: at, insert: closer },
      { ...remove, insert: "" },
    ],
    cursor: at + 1,
  };
}
