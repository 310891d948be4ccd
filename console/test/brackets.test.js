// The editor's bracket handling, against text worked out by hand.

import assert from "node:assert/strict";
import { test } from "node:test";
import { indentFor, takeWaitingCloser } from "../src/editor/brackets.js";

test("a new line is indented by the brackets still open before it", () => {
  assert.equal(indentFor('rule("x", #{', ""), 4);
  assert.equal(indentFor('rule("x", #{\n    show: #{', ""), 8);
  assert.equal(indentFor('rule("x", #{\n    show: #{ kind: "bar" },', ""), 4);
  assert.equal(indentFor('rule("x", #{\n    a: 1,', "});"), 0, "a closer goes back to its opener's line");
  assert.equal(indentFor('rule("x", #{ body: "({[" ', ""), 4, "brackets in strings do not count");
  assert.equal(indentFor("// (\nx", ""), 0, "nor in comments");
});

test("a typed closer takes the place of one waiting on a later line, and only then", () => {
  // `{` then Enter left `}` on the line below; the marketer types `}` themselves.
  const text = "#{\n    a: 1\n    \n}";
  const at = text.indexOf("\n    \n") + 5;
  const edit = takeWaitingCloser(text, at, "}");
  assert.deepEqual(edit, {
    changes: [
      { from: at, to: at, insert: "}" },
      { from: text.length - 2, to: text.length, insert: "" },
    ],
    cursor: at + 1,
  });
  // Applied, the text has exactly the brackets typed.
  let out = text;
  for (const c of [...edit.changes].sort((a, b) => b.from - a.from))
    out = out.slice(0, c.from) + c.insert + out.slice(c.to);
  assert.equal(out, "#{\n    a: 1\n    }");
  // A closer still needed is typed as usual, as is one with nothing waiting.
  assert.equal(takeWaitingCloser("#{ #{\n}", 5, "}"), null);
  assert.equal(takeWaitingCloser("#{ }", 4, "}"), null);
  // The waiting closer on the same line is CodeMirror's own to type over.
  assert.equal(takeWaitingCloser("#{ a }", 4, "}"), null);
});
