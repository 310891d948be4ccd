// Rhai counts a column in characters from 1; CodeMirror counts UTF-16 units from the start
// of the document. Pure, so `node --test` checks it with CodeMirror's own `Text`.

/// The span (`{from, to}` in the document) of the word, or else the character, at `line`
/// and `col` (both from 1, the column in characters); the first character when the line is
/// not in `doc`.
export function span(doc, line, col) {
  if (!line || line < 1 || line > doc.lines) return { from: 0, to: Math.min(1, doc.length) };
  const l = doc.line(line);
  let offset = 0;
  let chars = 0;
  for (const ch of l.text) {
    if (chars >= (col || 1) - 1) break;
    offset += ch.length;
    chars += 1;
  }
  const from = l.from + offset;
  const rest = l.text.slice(offset);
  const word = rest.match(/^[\p{L}\p{N}_]+/u);
  const length = word ? word[0].length : Math.min(1, rest.length);
  return { from, to: from + length };
}
