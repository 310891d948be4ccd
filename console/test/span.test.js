// Where a diagnostic is drawn: Rhai's line and column (characters from 1) as CodeMirror's
// offsets (UTF-16 units from 0), with CodeMirror's own document type.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Text } from "@codemirror/state";
import { span } from "../src/editor/span.js";

const doc = (text) => Text.of(text.split("\n"));

test("the word at a column", () => {
  // "let x = v.cuont;" — `cuont` starts at column 11.
  const d = doc("// one\nlet x = v.cuont;");
  assert.deepEqual(span(d, 2, 11), { from: 17, to: 22 });
  assert.equal(d.sliceString(17, 22), "cuont");
});

test("characters of two UTF-16 units count once in the column", () => {
  // 😀 is one character and two units; 🇮🇹 is two characters and four units.
  const d = doc('"😀🇮🇹" + v.cuont');
  const col = [...'"😀🇮🇹" + v.'].length + 1;
  const at = span(d, 1, col);
  assert.equal(d.sliceString(at.from, at.to), "cuont");
  assert.equal(at.from, '"😀🇮🇹" + v.'.length);
});

test("a character that is not a word is one unit wide", () => {
  const d = doc("a + }");
  assert.deepEqual(span(d, 1, 5), { from: 4, to: 5 });
});

test("a place outside the document falls back to the first character", () => {
  const d = doc("abc");
  assert.deepEqual(span(d, 0, 1), { from: 0, to: 1 });
  assert.deepEqual(span(d, 9, 1), { from: 0, to: 1 });
  assert.deepEqual(span(doc(""), 3, 1), { from: 0, to: 0 });
});

test("a column past the line's end is an empty span at its end", () => {
  const d = doc("ab\ncd");
  assert.deepEqual(span(d, 1, 9), { from: 2, to: 2 });
});
