"""The comments of a file: collected from the parser's newline tokens, then placed either
inside the bracket that holds them (laid out with its items) or in the queue of comments
that come between statements."""

from __future__ import annotations

import bisect
import re
from collections import deque
from dataclasses import dataclass

from lark import Token, Tree

from .parser import _end


@dataclass(frozen=True)
class _Comment:
    pos: int  # offset in the text
    line: int
    col: int  # 1-based, like the parser's columns
    text: str  # from `#`, trailing whitespace removed
    own: bool  # alone on its line (else it trails code)


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


class _CommentPlacement:
    """Where each comment of a file goes: inside a bracket (`inside`, by id of its node) or
    between statements (`queue`, in order)."""

    def __init__(self, text: str, tree: Tree, comments: list[_Comment]):
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.inside: dict[int, list[_Comment]] = {}  # comments inside a bracket, by id(node)
        self.queue: deque[_Comment] = deque()
        self._attach(tree, comments)

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
        if d in ("index", "slice"):
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
