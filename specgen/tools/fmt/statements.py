"""The layout of statements and of a whole file (blank lines, the comments between
statements), and `format_source`, which parses a file and lays it out."""

from __future__ import annotations

import bisect
import re

from lark import Tree

from ... import limits
from ...errors import Diagnostic, Source, SpecError
from ...language import parse as _parse
from .comments import _Comment, _comments
from .document import INDENT, _assemble, _Out, _render
from .expressions import _ExpressionLayout
from .parser import _LOCK, _RECORDER, _STATE, _end, _parser, _present

_FOREVER = 1 << 60


class _Formatter(_ExpressionLayout):
    """The canonical layout of one parsed file, statement by statement."""

    def __init__(self, text: str, tree: Tree, comments: list[_Comment], ends: list[int]):
        self.ends = ends
        self.out: list[_Out] = []
        self.last_line = 0
        self.last_note: tuple[int, int] | None = None  # (line, col) of the last trailing one
        super().__init__(text, tree, comments)

    def blank(self) -> None:
        self.out.append(_Out("", None, "blank"))

    def note(self, c: _Comment, indent: int) -> None:
        self.out.append(_Out(" " * indent + c.text, None, "note"))
        self.last_line, self.last_note = c.line, None

    def leading(self, line: int, indent: int, first: bool = False, forced: int | None = None):
        """The comments before the statement on `line`, and the blank lines between them: at
        most one; `forced` 0 or 1 blank lines between this statement (with the comments
        directly above it) and what precedes it; none at the top of a body."""
        pending: list[_Comment] = []
        while self.queue and self.queue[0].line < line:
            pending.append(self.queue.popleft())
        raw, prev = [], self.last_line
        for c in pending:
            raw.append(c.line - prev - 1)
            prev = c.line
        raw.append(line - prev - 1)
        gaps = [min(1, max(0, g)) for g in raw]
        if forced == 0:
            gaps = [0] * len(gaps)
        elif forced == 1:
            gaps[max((i for i, g in enumerate(raw) if g > 0), default=0)] = 1
        if first:
            gaps[0] = 0
        for c, gap in zip(pending, gaps, strict=False):
            if gap:
                self.blank()
            self.note(c, indent)
        if gaps[-1]:
            self.blank()

    def closing(self, indent: int, column: int, limit: int) -> None:
        """Comments after a body's last statement that are indented at least as deep as its
        statements (and before `limit`) stay in it."""
        while self.queue and self.queue[0].line < limit and self.queue[0].col >= column:
            c = self.queue.popleft()
            if c.line - self.last_line > 1:
                self.blank()
            self.note(c, indent)

    def header(self, doc: object, indent: int, end: int) -> None:
        """Write a statement's first line(s) and the comment at their end."""
        lines = _render(doc, indent)
        self.out.extend(lines)
        i = bisect.bisect_left(self.ends, end)
        last = self.line_of(self.ends[i]) if i < len(self.ends) else self.line_of(end)
        self.last_note = None
        q = self.queue
        if q and not q[0].own and q[0].line == last:
            c = q.popleft()
            if lines[-1].comment is not None:  # cannot happen: a closing bracket ends it
                raise AssertionError("fmt: two comments on one line")
            lines[-1].comment = c.text
            self.last_note = (c.line, c.col)
        self.last_line = last
        while self.last_note and q and q[0].own and q[0].line == self.last_note[0] + 1:
            if q[0].col != self.last_note[1]:
                break
            c = q.popleft()
            self.out.append(_Out("", c.text, "cont"))
            self.last_note, self.last_line = (c.line, c.col), c.line

    def body(self, body: Tree, indent: int, limit: int) -> None:
        stmts = body.children
        column = stmts[0].meta.column
        for k, s in enumerate(stmts):
            self.leading(s.meta.line, indent, first=k == 0)
            nxt = stmts[k + 1].meta.line if k + 1 < len(stmts) else limit
            self.statement(s, indent, nxt)
        self.closing(indent, column, limit)

    def statement(self, n: Tree, indent: int, limit: int) -> None:
        d, c = n.data, n.children
        inner = indent + INDENT
        if d == "simple_stmt":
            head, repeat, alias = c
            doc = self.head(head)
            if repeat is not None:
                doc += [" x ", self.expr(repeat.children[0])]
            if alias is not None:
                doc += [" as ", str(alias.children[0])]
            self.header(doc, indent, _end(_present(c)[-1]))
        elif d == "compound_stmt":
            self.header([*self.head(c[0]), ":"], indent, _end(c[0]))
            self.body(c[1], inner, limit)
        elif d == "let_stmt":
            self.header(["let ", str(c[0]), " = ", self.expr(c[1])], indent, _end(c[1]))
        elif d in ("assert_stmt", "constraint_stmt"):
            doc = [d.split("_")[0], " ", self.expr(c[0])]
            if c[1] is not None:
                doc += [", ", str(c[1])]
            self.header(doc, indent, _end(_present(c)[-1]))
        elif d == "objective_stmt":
            doc = ["objective ", str(c[0]), " ", self.expr(c[1])]
            self.header(doc, indent, _end(c[1]))
        elif d == "import_stmt":
            self.header(["import ", str(c[0])], indent, _end(c[0]))
        elif d == "for_stmt":
            targets, iterable, body = c
            names = ", ".join(map(str, targets.children))
            self.header(["for ", names, " in ", self.expr(iterable), ":"], indent, _end(iterable))
            self.body(body, inner, limit)
        elif d == "if_stmt":
            clauses = [(c[0], c[1])] + [
                (None, e.children[0]) if e.data == "else_clause" else tuple(e.children)
                for e in _present(c[2:])
            ]
            starts = [e.meta.line for e in _present(c[2:])] + [limit]
            self.header(["if ", self.expr(c[0]), ":"], indent, _end(c[0]))
            for k, (test, body) in enumerate(clauses):
                if k:
                    self.leading(starts[k - 1], indent, forced=0)
                    if test is None:
                        clause = _present(c[2:])[k - 1]
                        self.header("else:", indent, clause.meta.start_pos)
                    else:
                        self.header(["elif ", self.expr(test), ":"], indent, _end(test))
                self.body(body, inner, starts[k])
        elif d == "block_def":
            name, params, body = c
            doc = ["block ", str(name), self.params(params), ":"]
            self.header(doc, indent, _end(params if params is not None else name))
            self.body(body, inner, limit)
        elif d == "layers_decl":
            self.header("layers:", indent, n.meta.start_pos)
            self.body(c[0], inner, limit)
        elif d == "network_decl":
            self.header(["network ", str(c[0]), self.params(c[1])], indent, n.meta.end_pos)
        elif d == "input_decl":
            shape = c[0]
            if shape.data == "shape_dims":
                doc: object = ["input ", str(shape.children[0])]
            else:
                terms = [self.expr(t) for t in shape.children]
                doc = ["input ", terms[0], " x ", terms[1], " x ", terms[2]]
            self.header(doc, indent, n.meta.end_pos)
        else:
            raise AssertionError(f"fmt: unexpected statement {d}")

    def program(self, tree: Tree) -> str:
        items = tree.children
        for k, item in enumerate(items):
            forced = None
            if item.data == "input_decl":
                forced = 0
            elif item.data in ("block_def", "layers_decl") or (
                k and items[k - 1].data == "block_def"
            ):
                forced = 1
            self.leading(item.meta.line, 0, first=k == 0, forced=forced)
            limit = items[k + 1].meta.line if k + 1 < len(items) else _FOREVER
            self.statement(item, 0, limit)
        self.closing(0, 1, _FOREVER)
        if self.queue:  # every comment has a place; losing one would be a bug
            raise AssertionError(f"fmt: comment left over at line {self.queue[0].line}")
        return _assemble(self.out)


def _is_library(text: str) -> bool:
    """A file whose first word is `block` or `import`, or that has no statement at all, is
    a file of blocks that specs import (`library`); anything else is a spec."""
    m = re.match(r"(?:[ \t\f]*(?:#[^\n]*)?(?:\n|\\\n))*[ \t\f]*([A-Za-z_]\w*)?", text)
    word = m.group(1) if m else None
    return word is None or word in ("block", "import")


def _too_deep(source: Source) -> SpecError:
    return SpecError([Diagnostic("spec is nested too deeply", code="limit")], source)


def format_source(text: str, filename: str = "<stdin>") -> str:
    """The canonical layout of a spec (or of a file of blocks that specs import).

    Raises the compiler's located `SpecError` when the text does not parse.
    """
    text = _parse.normalize(text)
    library = _is_library(text)
    if library:
        _parse.parse_library(text, filename)
    else:
        _parse.parse(text, filename)
    if not text.strip():
        return ""
    source = Source(text, filename)
    padded = text if text.endswith("\n") else text + "\n"
    try:
        with _LOCK:
            parser = _parser()
            _STATE.newlines = []
            _RECORDER.ends = []
            tree = parser.parse(padded, start="library" if library else "start")
            newlines, ends = _STATE.newlines, sorted(_RECORDER.ends)
        formatted = _Formatter(padded, tree, _comments(padded, newlines), ends).program(tree)
    except RecursionError:
        raise _too_deep(source) from None
    lines = formatted.count("\n")
    if len(formatted) > limits.MAX_SOURCE_CHARS or lines > limits.MAX_SOURCE_LINES:
        # one item per line can push a spec near a limit past it: it would no longer compile
        size = f"{len(formatted)} characters, {lines} lines"
        message = f"formatted, the spec would exceed the size limits ({size}); not formatted"
        raise SpecError([Diagnostic(message, code="limit")], source)
    return formatted
