"""`specgen fmt`: the one canonical layout of a `.conv` file, every comment kept.

The formatter works from the parse, not from the text: a second Lark parser, built from the
same grammar file, keeps what the compile path throws away (the positions of every node,
parenthesised expressions, and the comments, collected from the `_NL` tokens by a lexer
callback), so the compiler's parser and its speed are untouched.  The file is first parsed by
`specgen.parse`, so a file that does not parse fails with the compiler's own located
`SpecError`.

Layout (docs/language.md, "Formatting"): 4-space indentation; one space around binary
operators, except in the `k=v` arguments of a layer line, where an arithmetic value is written
tight (`out=in/4`) so that it reads as one word; `k=v` without spaces, `name: domain =
default` for a searched parameter; at most one blank line, exactly one around `block` and
before `layers:`; a bracket (call, list, table, comprehension, parameters) that does not fit in
99 columns, that holds a comment or ends with a trailing comma is written one item per line
with a trailing comma; trailing comments of consecutive lines are aligned two spaces after the
longest line.  The output parses to the same tree (the same token sequence), and formatting it
again changes nothing.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import os
import re
import stat
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from lark import Lark, Token, Tree

from .. import limits
from ..errors import Diagnostic, Source, SpecError, printable
from ..language import parse as _parse

WIDTH = 99  # the line length brackets are broken at (the project's black line length)
INDENT = 4

_ARITH = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "floordiv": "//",
    "mod": "%",
    "pow": "**",
}
_WORDY = {"cond", "or_", "and_", "not_", "compare"}
_PAREN = '| "(" expr ")"'


# ---- the parser that keeps comments --------------------------------------------------------


class _Recorder(_parse._ConvIndenter):
    """The compiler's indenter, noting where each newline that ends a statement starts."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[int] = []

    def handle_NL(self, token: Token) -> Iterator[Token]:  # noqa: N802 - Lark's name
        if self.paren_level == 0:
            self.ends.append(token.start_pos)
        yield from super().handle_NL(token)


@dataclass(frozen=True)
class _Comment:
    pos: int  # offset in the text
    line: int
    col: int  # 1-based, like the parser's columns
    text: str  # from `#`, trailing whitespace removed
    own: bool  # alone on its line (else it trails code)


class _State:
    """What one parse collected; the parser is shared, so parsing holds `_LOCK`."""

    def __init__(self) -> None:
        self.newlines: list[Token] = []

    def on_newline(self, token: Token) -> Token:
        self.newlines.append(token)
        return token


_LOCK = threading.Lock()
_STATE = _State()
_RECORDER = _Recorder()


def _grammar() -> str:
    """The compiler's grammar, with parenthesised expressions kept as `paren` nodes (the
    compile path drops the parentheses; the formatter writes them back as they were)."""
    text = (_parse.resource_dir("grammar") / "specgen.lark").read_text(encoding="utf-8")
    if text.count(_PAREN) != 1:
        raise RuntimeError('grammar/specgen.lark changed: fmt cannot find `"(" expr ")"`')
    return text.replace(_PAREN, _PAREN + " -> paren")


@functools.cache
def _parser() -> Lark:
    """Built on first use (about as long as the compiler's own), once per process."""
    return Lark(
        _grammar(),
        parser="lalr",
        postlex=_RECORDER,
        propagate_positions=True,
        maybe_placeholders=True,
        start=["start", "library"],
        lexer_callbacks={"_NL": _STATE.on_newline},
        cache=False,
    )


def _comments(text: str, newlines: list[Token]) -> list[_Comment]:
    found: dict[int, _Comment] = {}
    for tok in newlines:
        value = str(tok)
        for m in re.finditer(r"#[^\n]*", value):
            before = value[: m.start()]
            breaks = before.count("\n")
            line = tok.line + breaks
            col = tok.column + m.start() if not breaks else m.start() - before.rfind("\n")
            pos = tok.start_pos + m.start()
            start = text.rfind("\n", 0, pos) + 1
            own = not text[start:pos].strip()
            found[pos] = _Comment(pos, line, col, m.group().rstrip(), own)
    return [found[p] for p in sorted(found)]


# ---- documents: text with optional line breaks (Wadler / prettier) ------------------------


class _Line:
    """A place the printer may break: a space (or nothing, when `soft`) when its group fits
    on the line, a newline when it does not; `hard` always breaks."""

    __slots__ = ("soft", "hard")

    def __init__(self, soft: bool = False, hard: bool = False):
        self.soft, self.hard = soft, hard


LINE, SOFT, HARD = _Line(), _Line(soft=True), _Line(hard=True)


class _Nest:
    __slots__ = ("n", "doc")

    def __init__(self, n: int, doc: object):
        self.n, self.doc = n, doc


class _IfBreak:
    __slots__ = ("broken", "flat")

    def __init__(self, broken: object, flat: object):
        self.broken, self.flat = broken, flat


class _Trail:
    """A comment at the end of the current line."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class _Note:
    """A comment on a line of its own (a hard line follows it)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class _Group:
    """Printed flat if it fits, else broken; `hard` (a comment or a trailing comma inside,
    here or in a nested group) always breaks it."""

    __slots__ = ("doc", "hard")

    def __init__(self, doc: list, hard: bool = False):
        self.doc = doc
        self.hard = hard or _has_hard(doc)


def _has_hard(doc: object) -> bool:
    stack = [doc]
    while stack:
        d = stack.pop()
        if isinstance(d, list):
            stack.extend(d)
        elif isinstance(d, _Group):
            if d.hard:
                return True
        elif isinstance(d, _Nest):
            stack.append(d.doc)
        elif isinstance(d, _IfBreak):
            stack.extend((d.broken, d.flat))
        elif isinstance(d, (_Trail, _Note)) or (isinstance(d, _Line) and d.hard):
            return True
    return False


@dataclass
class _Out:
    """One output line: its code (with indentation), the comment that trails it, and its
    kind: `code`, `note` (a comment alone on its line, in `code`), `cont` (a comment that
    continues the trailing comment above it, aligned with it) or `blank`."""

    code: str
    comment: str | None = None
    kind: str = "code"


def _fits(doc: object, rest: list, width: int) -> bool:
    """Whether `doc`, flat, and what follows it up to the next line break fit in `width`."""
    cmds: list[tuple[bool, object]] = [(False, doc)]
    i = len(rest) - 1
    while width >= 0:
        if not cmds:
            if i < 0:
                return True
            cmds.append((rest[i][1], rest[i][2]))
            i -= 1
            continue
        broken, d = cmds.pop()
        if isinstance(d, str):
            width -= len(d)
        elif isinstance(d, list):
            cmds.extend((broken, x) for x in reversed(d))
        elif isinstance(d, _Nest):
            cmds.append((broken, d.doc))
        elif isinstance(d, _Group):
            cmds.append((broken or d.hard, d.doc))
        elif isinstance(d, _IfBreak):
            cmds.append((broken, d.broken if broken else d.flat))
        elif isinstance(d, _Line):
            if broken or d.hard:
                return True
            width -= 0 if d.soft else 1
    return False


def _render(doc: object, indent: int) -> list[_Out]:
    out: list[_Out] = []
    cur, pos, comment, kind = [" " * indent], indent, None, "code"
    stack: list[tuple[int, bool, object]] = [(indent, True, doc)]
    while stack:
        ind, broken, d = stack.pop()
        if isinstance(d, str):
            cur.append(d)
            pos += len(d)
        elif isinstance(d, list):
            stack.extend((ind, broken, x) for x in reversed(d))
        elif isinstance(d, _Nest):
            stack.append((ind + d.n, broken, d.doc))
        elif isinstance(d, _Group):
            flat = not d.hard and (not broken or _fits(d.doc, stack, WIDTH - pos))
            stack.append((ind, not flat, d.doc))
        elif isinstance(d, _IfBreak):
            stack.append((ind, broken, d.broken if broken else d.flat))
        elif isinstance(d, _Line):
            if broken or d.hard:
                out.append(_Out("".join(cur).rstrip(), comment, kind))
                cur, pos, comment, kind = [" " * ind], ind, None, "code"
            elif not d.soft:
                cur.append(" ")
                pos += 1
        elif isinstance(d, _Trail):
            comment = d.text
        elif isinstance(d, _Note):
            cur.append(d.text)
            kind = "note"
    out.append(_Out("".join(cur).rstrip(), comment, kind))
    return out


def _assemble(outs: list[_Out]) -> str:
    """The text: trailing comments of consecutive lines aligned two spaces past the longest
    of those lines (as gofmt aligns them), continuation comments under them."""
    lines: list[str] = []
    i = 0
    while i < len(outs):
        o = outs[i]
        if o.kind == "code" and o.comment is not None:
            j = i + 1
            while j < len(outs) and (
                outs[j].kind == "cont" or outs[j].kind == "code" and outs[j].comment is not None
            ):
                j += 1
            col = max(len(outs[k].code) for k in range(i, j) if outs[k].kind == "code") + 2
            lines.extend(outs[k].code.ljust(col) + str(outs[k].comment) for k in range(i, j))
            i = j
            continue
        if o.kind == "cont":  # never alone; kept rather than lost if it were
            lines.append(o.code + str(o.comment))
        else:
            lines.append(o.code)
        i += 1
    return "\n".join(lines) + "\n" if lines else ""


# ---- the formatter ---------------------------------------------------------------------------


def _start(node: Tree | Token) -> int:
    return node.start_pos if isinstance(node, Token) else node.meta.start_pos


def _end(node: Tree | Token) -> int:
    return node.end_pos if isinstance(node, Token) else node.meta.end_pos


def _present(children: Sequence) -> list:
    return [c for c in children if c is not None]


def _tight(node: Tree | Token) -> bool:
    """Whether a layer-line argument value is arithmetic only (outside brackets), so that it
    can be written without spaces (`out=in/4`) and still read as one word."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Tree):
            if n.data in _WORDY:
                return False
            if n.data in _ARITH or n.data in ("neg", "pos"):
                stack.extend(c for c in n.children if isinstance(c, Tree))
    return True


_FOREVER = 1 << 60


class _Formatter:
    def __init__(self, text: str, tree: Tree, comments: list[_Comment], ends: list[int]):
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.ends = ends
        self.out: list[_Out] = []
        self.last_line = 0
        self.last_note: tuple[int, int] | None = None  # (line, col) of the last trailing one
        self.inside: dict[int, list[_Comment]] = {}  # comments inside a bracket, by id(node)
        self.queue: deque[_Comment] = deque()
        self._attach(tree, comments)

    # -- where comments go --------------------------------------------------------------

    def line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.line_starts, pos)

    def _skip_to(self, pos: int, char: str) -> int:
        """The offset of `char` at or after `pos`, past blanks, line joins and comments."""
        while True:
            ch = self.text[pos]
            if ch == char:
                return pos
            if ch == "#":
                pos = self.text.index("\n", pos)
            pos += 1

    def _brackets(self, node: Tree) -> tuple[int, int] | None:
        """The offsets of a bracketed node's opening and closing bracket."""
        c, d = node.children, node.data
        if d in ("params", "call_args", "paren"):
            return node.meta.start_pos, node.meta.end_pos - 1
        if d in ("list", "listcomp", "map"):
            return c[0].start_pos, c[-1].start_pos
        if d == "call":
            return self._skip_to(c[0].end_pos, "("), c[-1].start_pos
        if d == "index":
            return self._skip_to(_end(c[0]), "["), node.meta.end_pos - 1
        return None

    def _attach(self, tree: Tree, comments: list[_Comment]) -> None:
        spans: list[tuple[int, int, int]] = []
        stack: list[Tree] = [tree]
        while stack:
            n = stack.pop()
            span = self._brackets(n)
            if span is not None:
                spans.append((span[0], span[1], id(n)))
            stack.extend(c for c in n.children if isinstance(c, Tree))
        spans.sort()
        open_: list[tuple[int, int, int]] = []
        k = 0
        for c in comments:
            while k < len(spans) and spans[k][0] < c.pos:
                while open_ and open_[-1][1] < spans[k][0]:
                    open_.pop()
                open_.append(spans[k])
                k += 1
            while open_ and open_[-1][1] < c.pos:
                open_.pop()
            if open_:
                self.inside.setdefault(open_[-1][2], []).append(c)
            else:
                self.queue.append(c)

    # -- expressions ----------------------------------------------------------------------

    def seq(
        self,
        node: Tree,
        opener: str,
        closer: str,
        pieces: list[tuple[int, int, object]],
        comma: bool = True,
        breakable: bool = True,
    ) -> object:
        """A bracket of items, flat or one item per line; `pieces` are (start, end, doc)."""
        comments = self.inside.get(id(node), [])
        n = len(pieces)
        magic = False
        if comma and n:
            close = self._brackets(node)[1]  # type: ignore[index]
            between = re.sub(r"#[^\n]*", "", self.text[pieces[-1][1] : close])
            magic = "," in between
        if not comments and not magic:
            if n == 0:
                return [opener, closer]
            if not breakable:
                return [opener, pieces[0][2], closer]
        after_open: list[_Comment] = []
        before_close: list[_Comment] = []
        leading: list[list[_Comment]] = [[] for _ in range(n)]
        trailing: list[list[_Comment]] = [[] for _ in range(n)]
        if comments:
            open_line = self.line_of(self._brackets(node)[0])  # type: ignore[index]
            starts = [p[0] for p in pieces]
            for c in comments:
                i = bisect.bisect_left(starts, c.pos)
                if i == 0:
                    if c.line == open_line:
                        after_open.append(c)
                    elif n:
                        leading[0].append(c)
                    else:
                        before_close.append(c)
                    continue
                _, end, _ = pieces[i - 1]
                if c.pos < end or c.line == self.line_of(end - 1):
                    trailing[i - 1].append(c)
                elif i < n:
                    leading[i].append(c)
                else:
                    before_close.append(c)
        body: list = []
        for c in after_open[1:]:
            body += [HARD, _Note(c.text)]
        for j, (_, _, doc) in enumerate(pieces):
            body.append(SOFT if j == 0 else LINE)
            for c in leading[j]:
                body += [_Note(c.text), HARD]
            body.append(doc)
            if comma:
                body.append("," if j < n - 1 else _IfBreak(",", ""))
            if trailing[j]:
                body.append(_Trail(trailing[j][0].text))
                for c in trailing[j][1:]:
                    body += [HARD, _Note(c.text)]
        for c in before_close:
            body += [HARD, _Note(c.text)]
        head: list = [opener]
        if after_open:
            head.append(_Trail(after_open[0].text))
        return _Group([*head, _Nest(INDENT, body), SOFT, closer], hard=magic)

    def items(self, nodes: Sequence) -> list[tuple[int, int, object]]:
        return [(_start(x), _end(x), self.expr(x)) for x in _present(nodes)]

    def expr(self, n: Tree | Token, tight: bool = False) -> object:
        # `((x))` and `+(+x)` add no depth in the compiler (no limit applies): peel them in a
        # loop, so that only nesting the compiler bounds is handled by recursion
        opening: list[str] = []
        while isinstance(n, Tree) and (
            n.data == "pos" or n.data == "paren" and id(n) not in self.inside
        ):
            opening.append("+" if n.data == "pos" else "(")
            tight = tight and n.data == "pos"
            n = n.children[0]
        if opening:
            return ["".join(opening), self._expr(n, tight), ")" * opening.count("(")]
        return self._expr(n, tight)

    def _expr(self, n: Tree | Token, tight: bool) -> object:
        if isinstance(n, Token):
            return str(n)
        d, c = n.data, n.children
        if d in ("int", "float", "dims", "name"):
            return str(c[0])
        if d in _ARITH:
            op = _ARITH[d] if tight else f" {_ARITH[d]} "
            return [self.expr(c[0], tight), op, self.expr(c[1], tight)]
        if d == "neg":
            return ["-", self.expr(c[1], tight)]
        if d == "pos":
            return ["+", self.expr(c[0], tight)]
        if d == "compare":
            parts = [self.expr(c[0])]
            for op, operand in zip(c[1::2], c[2::2], strict=True):
                parts += [f" {op} ", self.expr(operand)]
            return parts
        if d in ("or_", "and_"):
            return [self.expr(c[0]), " or " if d == "or_" else " and ", self.expr(c[1])]
        if d == "not_":
            return ["not ", self.expr(c[0])]
        if d == "cond":
            return [self.expr(c[0]), " if ", self.expr(c[1]), " else ", self.expr(c[2])]
        if d == "paren":
            return self.seq(n, "(", ")", self.items(c), comma=False, breakable=False)
        if d == "index":
            sub = self.seq(n, "[", "]", self.items(c[1:]), comma=False, breakable=False)
            return [self.expr(c[0], tight), sub]
        if d == "call":
            return [str(c[0]), self.seq(n, "(", ")", self.items(c[1:-1]))]
        if d == "list":
            return self.seq(n, "[", "]", self.items(c[1:-1]))
        if d == "map":
            return self.seq(n, "{", "}", self.items(c[1:-1]))
        if d == "pair":
            return [self.expr(c[0]), ": ", self.expr(c[1])]
        if d == "kwarg":
            return [str(c[0]), "=", self.expr(c[1])]
        if d == "listcomp":
            return self.seq(n, "[", "]", self.comprehension(c), comma=False)
        if d == "param":
            name, domain, default = c
            if domain is None:
                return [str(name)] + ([] if default is None else ["=", self.expr(default)])
            parts = [str(name), ": ", self.expr(domain)]
            return parts + ([] if default is None else [" = ", self.expr(default)])
        raise AssertionError(f"fmt: unexpected node {d}")

    def comprehension(self, c: list) -> list[tuple[int, int, object]]:
        pieces = [(_start(c[1]), _end(c[1]), self.expr(c[1]))]
        for clause in c[2:-1]:
            targets, iterable, *conds = clause.children
            doc = ["for ", ", ".join(map(str, targets.children)), " in ", self.expr(iterable)]
            pieces.append((clause.meta.start_pos, _end(iterable), doc))
            for cond in conds:
                pieces.append(
                    (cond.meta.start_pos, cond.meta.end_pos, ["if ", self.expr(cond.children[0])])
                )
        return pieces

    def head(self, h: Tree) -> list:
        name, call_args, *items = h.children
        parts: list = [str(name)]
        if call_args is not None:
            parts.append(self.seq(call_args, "(", ")", self.items(call_args.children)))
        for k, item in enumerate(items):
            if k == 0 and call_args is None and isinstance(item, Tree) and item.data == "paren":
                parts.append(self.expr(item))  # `unit(g)`: parsed as `unit (g)`, the same
            elif isinstance(item, Tree) and item.data == "kwarg":
                value = item.children[1]
                parts += [" ", str(item.children[0]), "=", self.expr(value, _tight(value))]
            else:
                parts += [" ", self.expr(item)]
        return parts

    def params(self, node: Tree | None) -> object:
        return "" if node is None else self.seq(node, "(", ")", self.items(node.children))

    # -- statements -----------------------------------------------------------------------

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


# ---- the API -------------------------------------------------------------------------------


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


def _label(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _file_error(path: str, message: str) -> SpecError:
    return SpecError([Diagnostic(message, code="file")], Source("", path))


def _read(path: str) -> tuple[str, str]:
    """A file's text as it is (to compare with) and as the compiler reads it (to format):
    read the way specs are, with the same messages; only regular files are read (a FIFO
    would block)."""
    from ..language.source import read_source

    try:
        st = os.stat(path)
    except OSError:
        st = None  # read_source says what is wrong
    if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        raise _file_error(path, "not a regular file")
    try:
        with open(path, "rb") as file:
            data = file.read(limits.MAX_SOURCE_BYTES + 1)
    except (OSError, ValueError):
        read_source(Path(path), path)  # raises the compiler's message for this path
        raise
    text = read_source(data, path).text  # refuses what the compiler refuses
    return data.decode("utf-8"), text


def _diff(label: str, old: str, new: str) -> Iterator[str]:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        label,
        label,
        "(original)",
        "(formatted)",
    )
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _write(path: str, text: str) -> None:
    """Replace a file atomically, keeping its permission bits; never through a symlink or
    over anything but a regular file."""
    from .output import OutputError, write_output

    try:
        st = os.lstat(path)
    except OSError as err:
        raise _file_error(path, f"cannot write: {err.strerror or err}") from None
    if stat.S_ISLNK(st.st_mode):
        raise _file_error(path, "is a symlink: fmt rewrites only regular files")
    if not stat.S_ISREG(st.st_mode):
        raise _file_error(path, "not a regular file")
    try:
        write_output(path, text)
    except OutputError as err:
        raise _file_error(path, str(err)) from None


def fmt_command(
    paths: list[str],
    check: bool,
    diff: bool,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """`specgen fmt FILE... [--check] [--diff]`: format files in place (`-`: standard input to
    standard output).  `--check` writes nothing and lists the files that would change;
    `--diff` prints what would change.  Returns 2 if a file could not be read, parsed or
    written, else 1 if `--check` found a file to change, else 0."""
    errors = changed = 0
    for path in paths:
        label = _label(path)
        try:
            if path == "-":
                raw = stdin.read()
                original = _parse.normalize(raw)
            else:
                raw, original = _read(path)
            formatted = format_source(original, label)
            if formatted != raw:
                changed += 1
                if diff:
                    stdout.writelines(_diff(label, raw, formatted))
                if check:
                    print(f"would reformat {printable(label)}", file=stderr)
            if path == "-" and not check and not diff:
                stdout.write(formatted)
            elif formatted != raw and not check and not diff:
                _write(path, formatted)
                print(f"reformatted {printable(label)}", file=stderr)
        except SpecError as err:
            errors += 1
            print(err.render(), file=stderr)
    if errors:
        return 2
    return 1 if check and changed else 0
