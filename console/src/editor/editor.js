// The rule editor: CodeMirror with Rhai highlighting, completion of the visitor's fields,
// the edge's check as its linter, mounted in a shadow root. There its styles go in a
// constructable stylesheet, which the strict CSP allows (in the document it would add a
// <style> element, which it blocks).

import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  bracketMatching,
  defaultHighlightStyle,
  indentOnInput,
  indentService,
  syntaxHighlighting,
} from "@codemirror/language";
import { linter, lintGutter } from "@codemirror/lint";
import { EditorState, Prec } from "@codemirror/state";
import { drawSelection, EditorView, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { indentFor, takeWaitingCloser } from "./brackets.js";
import { rhai, visitorCompletion } from "./rhai.js";
import { span } from "./span.js";

/// An editor in `host` showing `doc`. `fields`: the visitor model for completion;
/// `changed(text)` hears every change; `check(text)` gives the diagnostics of the file
/// shown (`{line, col, severity, message}`). Gives `{view, show(doc), goTo(line, col)}`.
export function editor(host, { doc, fields, changed, check }) {
  const lint = linter(
    async (view) => {
      const diagnostics = await check(view.state.doc.toString());
      return diagnostics.map((d) => ({
        ...span(view.state.doc, d.line, d.col),
        severity: d.severity === "error" ? "error" : "warning",
        message: d.message,
      }));
    },
    { delay: 400 },
  );
  // A new line is indented by the brackets open before it; a closer typed where an
  // automatically added one waits on a later line takes its place (typed text stays as typed).
  const indent = indentService.of((context, pos) =>
    indentFor(context.state.doc.sliceString(0, pos), context.textAfterPos(pos)),
  );
  const closers = Prec.high(
    EditorView.inputHandler.of((view, from, to, text) => {
      if (from !== to || text.length !== 1) return false;
      const edit = takeWaitingCloser(view.state.doc.toString(), from, text);
      if (!edit) return false;
      view.dispatch({ changes: edit.changes, selection: { anchor: edit.cursor }, userEvent: "input.type" });
      return true;
    }),
  );
  const extensions = [
    indent,
    closers,
    lineNumbers(),
    history(),
    drawSelection(),
    highlightActiveLine(),
    indentOnInput(),
    bracketMatching(),
    closeBrackets(),
    syntaxHighlighting(defaultHighlightStyle),
    rhai,
    lintGutter(),
    lint,
    autocompletion({ override: [visitorCompletion(fields)] }),
    keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, indentWithTab]),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) changed(update.state.doc.toString());
    }),
    EditorView.contentAttributes.of({ "aria-label": "Rule file" }),
    // Long lines wrap: no sideways scrolling, and no region to scroll but the page.
    EditorView.lineWrapping,
    EditorView.theme({
      "&": { minHeight: "20rem", fontSize: "14px" },
      // The same focus ring as every other control.
      "&.cm-focused": { outline: "3px solid #f0b429", outlineOffset: "2px" },
      ".cm-scroller": { fontFamily: "ui-monospace, monospace" },
    }),
  ];
  const shadow = host.attachShadow({ mode: "open" });
  const mount = document.createElement("div");
  shadow.append(mount);
  const view = new EditorView({ root: shadow, parent: mount, state: EditorState.create({ doc, extensions }) });
  return {
    view,
    text: () => view.state.doc.toString(),
    // Another file: a fresh state, so that undo does not cross files.
    show: (text) => view.setState(EditorState.create({ doc: text, extensions })),
    // The cursor at `line` (and `col`, in characters), scrolled into view.
    goTo: (line, col) => {
      const at = col
        ? span(view.state.doc, line, col).from
        : view.state.doc.line(Math.min(Math.max(1, line), view.state.doc.lines)).from;
      view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
      view.focus();
    },
  };
}
