"""The layout of expressions and of the bracketed parts of statements (calls, lists,
tables, comprehensions, parameters), with the comments inside their brackets."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from lark import Token, Tree

from .comments import _Comment, _CommentPlacement
from .document import HARD, INDENT, LINE, SOFT, _Group, _IfBreak, _Nest, _Note, _Trail
from .parser import _end, _present, _start

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


class _ExpressionLayout(_CommentPlacement):
    """The documents of expressions, brackets and layer-line heads."""

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
        if d == "slice":  # `a[1:]`, `a[::2]`: the bounds written, without spaces
            inner: list = []
            for i, b in enumerate(c[1:] if c[3] is not None else c[1:3]):
                inner += ([":"] if i else []) + ([] if b is None else [self.expr(b, True)])
            opened, closed = self._brackets(n)  # type: ignore[misc]
            piece = [(opened + 1, closed, inner)]  # one piece: comments inside keep their place
            return [
                self.expr(c[0], tight),
                self.seq(n, "[", "]", piece, comma=False, breakable=False),
            ]
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
