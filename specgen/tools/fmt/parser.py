"""The formatter's own parser: built from the compiler's grammar, it keeps what the compile
path throws away (the positions of every node, parenthesised expressions, and the newline
tokens that hold the comments), so that the compiler's parser and its speed are untouched."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence

from lark import Lark, Token, Tree

from ...language.parse.grammar import _ConvIndenter, resource_dir

_PAREN = '| "(" expr ")"'


class _Recorder(_ConvIndenter):
    """The compiler's indenter, noting where each newline that ends a statement starts."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[int] = []

    def handle_NL(self, token: Token) -> Iterator[Token]:  # noqa: N802 - Lark's name
        if self.paren_level == 0:
            self.ends.append(token.start_pos)
        yield from super().handle_NL(token)


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
    text = (resource_dir("grammar") / "specgen.lark").read_text(encoding="utf-8")
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


def _start(node: Tree | Token) -> int:
    return node.start_pos if isinstance(node, Token) else node.meta.start_pos


def _end(node: Tree | Token) -> int:
    return node.end_pos if isinstance(node, Token) else node.meta.end_pos


def _present(children: Sequence) -> list:
    return [c for c in children if c is not None]
