"""Pass 1 — parse: .conv text → `syntax.Program`.

The Lark LALR parser is built once per process, and its callbacks build the syntax tree
during parsing (no second recursive walk, so deep input cannot exhaust the stack).  `parse`
is cached by text, so a search loop that compiles one spec with many parameter values pays
for parsing once.

The concerns live in modules of their own: `grammar` (the Lark parser and its indenter),
`lowering` (the callbacks that build `syntax` nodes), `diagnostics` (the messages for text
that does not parse) and `textcache` (the caches by text); the names other modules use are
importable from here.
"""

from __future__ import annotations

from lark.exceptions import UnexpectedInput

from ...errors import Diagnostic, Source, Span, SpecError
from .. import syntax as S
from .diagnostics import _precheck, _syntax_error, _unclosed
from .grammar import _PARSING, _BadIndent, _parser, resource_dir
from .lowering import _FILE, _Limit
from .textcache import CACHE_CHARS, CACHE_ENTRIES, CacheInfo, TextCache, cached_by_text

__all__ = [
    "CACHE_CHARS",
    "CACHE_ENTRIES",
    "CacheInfo",
    "TextCache",
    "cached_by_text",
    "normalize",
    "parse",
    "parse_expression",
    "parse_library",
    "parse_value",
    "resource_dir",
]


def normalize(text: str) -> str:
    """Spec text as the parser reads it: no byte-order mark, `\n` line ends."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def parse_value(text: str, name: str) -> object:
    """A value written on the command line (`--set g=8`, `--set widths=[16, 32]`)."""
    from ..expr import EvalError, evaluate

    source = Source(text, f"--set {name}")
    if not text.strip():
        raise SpecError([Diagnostic(f"no value given for `{name}`", code="syntax")], source)
    try:
        with _PARSING:
            tree = _parser().parse(text, start="expr")
        return evaluate(tree, {})
    except _Limit as err:
        raise SpecError([Diagnostic(str(err), err.span, code="limit")], source) from None
    except UnexpectedInput as err:
        raise SpecError([_syntax_error(err, source)], source) from None
    except EvalError as err:
        raise SpecError(
            [Diagnostic(err.message, err.span, err.hint, code=err.code)], source
        ) from None


def parse_expression(text: str, name: str) -> S.Expr:
    """An expression written outside a spec (`--objective 'max:M * L'`, a constraint given
    to the search API), reported under `name`."""
    source = Source(text, name)
    if not text.strip():
        raise SpecError([Diagnostic(f"no expression given for {name}", code="syntax")], source)
    try:
        with _PARSING:
            return _parser().parse(text, start="expr")
    except _Limit as err:
        raise SpecError([Diagnostic(str(err), err.span, code="limit")], source) from None
    except UnexpectedInput as err:
        raise SpecError([_syntax_error(err, source)], source) from None


@cached_by_text(lambda text, filename="<spec>": len(text))
def parse(text: str, filename: str = "<spec>") -> S.Program:
    """Parse .conv text into a `syntax.Program`, or raise `SpecError` with the place."""
    return _parse(text, filename, "start")


@cached_by_text(lambda text, path: len(text))
def parse_library(text: str, path: str) -> S.Library:
    """Parse an imported file; its spans carry `path` so that mistakes found later, in the
    blocks it defines, are shown in it."""
    token = _FILE.set(path)
    try:
        return _parse(text, path, "library")
    finally:
        _FILE.reset(token)


def _parse(text: str, filename: str, start: str):
    text = normalize(text)
    source = Source(text, filename)
    _precheck(source, empty_ok=start == "library")
    normalized = text if text.endswith("\n") else text + "\n"
    try:
        with _PARSING:  # one parser per process, and its indenter keeps state on itself
            return _parser().parse(normalized, start=start)
    except _Limit as err:
        raise SpecError([Diagnostic(str(err), err.span, code=err.code)], source) from None
    except _BadIndent as err:
        span = Span(err.line, err.column, err.line, err.column + 1)
        diag = Diagnostic(
            "this line's indentation matches no enclosing block", span, code="syntax"
        )
        raise SpecError([diag], source) from None
    except UnexpectedInput as err:
        opener = _unclosed(normalized)
        if (
            opener is not None
            and (opener.line, opener.column) <= (err.line, err.column)
            or opener is not None
            and err.line <= 0
        ):
            diag = Diagnostic("this bracket is never closed", opener, code="syntax")
        else:
            diag = _syntax_error(err, source)
        raise SpecError([diag], source) from None
    except RecursionError:
        raise SpecError([Diagnostic("spec is nested too deeply", code="limit")], source) from None
