"""The compiler's Lark LALR parser, built once per process from `grammar/specgen.lark`, and
the indentation post-lexer that turns line starts into INDENT / DEDENT tokens."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from lark import Lark, Token
from lark.indenter import Indenter

from .lowering import _Builder


def resource_dir(name: str) -> Path:
    """Where `grammar/` or `templates/` is: inside the installed package, or in the checkout."""
    package = Path(__file__).resolve().parents[2]  # specgen/
    installed = package / name
    return installed if installed.is_dir() else package.parent / name


class _BadIndent(Exception):
    def __init__(self, line: int, column: int):
        super().__init__("bad indentation")
        self.line, self.column = line, column


class _ConvIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB", "LBRACE"]
    CLOSE_PAREN_types = ["RPAR", "RSQB", "RBRACE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token: Token):  # noqa: N802 - Lark's name
        if self.paren_level > 0:
            return
        yield token
        indent_str = token.rsplit("\n", 1)[1]
        indent = len(indent_str)
        if indent > self.indent_level[-1]:
            self.indent_level.append(indent)
            yield Token.new_borrow_pos(self.INDENT_type, indent_str, token)
            return
        while indent < self.indent_level[-1]:
            self.indent_level.pop()
            yield Token.new_borrow_pos(self.DEDENT_type, indent_str, token)
        if indent != self.indent_level[-1]:
            raise _BadIndent(token.end_line, indent + 1)

    def _process(self, stream):
        token = None
        for token in stream:
            if token.type == self.NL_type:
                yield from self.handle_NL(token)
            else:
                yield token
            if token.type in self.OPEN_PAREN_types:
                self.paren_level += 1
            elif token.type in self.CLOSE_PAREN_types:
                self.paren_level = max(0, self.paren_level - 1)
        while len(self.indent_level) > 1:
            self.indent_level.pop()
            yield (
                Token.new_borrow_pos(self.DEDENT_type, "", token)
                if token
                else Token(self.DEDENT_type, "", 0, 0, 0, 0, 0, 0)
            )


_PARSING = threading.Lock()


@functools.cache
def _hole_parser() -> Lark:
    """A second parser for the `{expr}` holes of a quoted path: one line, no indentation, so
    no post-lexer (the main parser's indenter keeps its state on itself, mid-parse)."""
    return Lark(
        _grammar(),
        parser="lalr",
        transformer=_Builder(),
        maybe_placeholders=True,
        start="expr",
        cache=False,
    )


def _parse_hole(text: str):
    return _hole_parser().parse(text, start="expr")


def _grammar() -> str:
    return (resource_dir("grammar") / "specgen.lark").read_text(encoding="utf-8")


@functools.cache
def _parser() -> Lark:
    grammar = _grammar()
    return Lark(
        grammar,
        parser="lalr",
        postlex=_ConvIndenter(),
        transformer=_Builder(holes=_parse_hole),
        maybe_placeholders=True,
        start=["start", "expr", "library"],
        cache=False,
    )
