"""The messages for text the parser refuses: the checks made before parsing (size, binary
data, tabs) and Lark's syntax errors turned into located, readable diagnostics."""

from __future__ import annotations

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ... import limits
from ...errors import Diagnostic, Source, Span, SpecError

_TOKEN_NAMES = {
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "end of the indented block",
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "DIMS": "a size like 3x3",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "COMMA": "`,`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "X": "`x`",
    "STRING": 'a "message"',
    "COMPARE": "a comparison",
    "$END": "end of file",
}


def _describe(expected: set[str]) -> str:
    names = sorted({_TOKEN_NAMES.get(t, _keyword(t)) for t in expected})
    if len(names) > 6:
        names = names[:6] + ["..."]
    return ", ".join(names)


def _keyword(terminal: str) -> str:
    keywords = {"NETWORK": "network", "INPUT": "input", "LET": "let", "BLOCK": "block"}
    keywords |= {"LAYERS": "layers", "PLUS": "+", "MINUS": "-", "STAR": "*", "SLASH": "/"}
    keywords |= {"PERCENT": "%", "DOUBLESLASH": "//", "DOUBLESTAR": "**", "COMPARE": "=="}
    return f"`{keywords.get(terminal, terminal.lower())}`"


def _syntax_error(err: UnexpectedInput, source: Source) -> Diagnostic:
    line, column = max(1, err.line if err.line > 0 else 1), max(1, err.column)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            line = _last_line(source)
            column = max(1, len(source.line_text(line)) + 1)
        elif tok.type in ("_INDENT", "_DEDENT") and tok.end_line:
            line, column = tok.end_line, max(1, tok.end_column)
            last = _last_line(source)
            if line > last:  # the end of a file without a final line break: its last line
                line, column = last, max(1, len(source.line_text(last)) + 1)
        what = {
            "_NL": "end of line",
            "$END": "end of file",
            "_INDENT": "indentation",
            "_DEDENT": "end of the indented block",
        }.get(tok.type, f"`{tok}`")
        span = Span(
            line,
            column,
            line,
            column
            + max(
                1, len(str(tok)) if tok.type not in ("_NL", "$END", "_INDENT", "_DEDENT") else 1
            ),
        )
        hint = None
        if tok.type == "_INDENT":
            hint = "only the line after one ending in `:` may be indented further"
        expected = f"; expected {_describe(err.expected)}" if err.expected else ""
        return Diagnostic(f"unexpected {what}{expected}", span, hint, code="syntax")
    if isinstance(err, UnexpectedCharacters):
        char = source.line_text(line)[column - 1 : column] or "?"
        return Diagnostic(
            f"unexpected character `{char}`", Span(line, column, line, column + 1), code="syntax"
        )
    if isinstance(err, UnexpectedEOF):
        line = _last_line(source)
        return Diagnostic("unexpected end of file", Span(line, 1, line, 2), code="syntax")
    return Diagnostic(str(err).split("\n")[0], Span(line, column, line, column + 1), code="syntax")


def _unclosed(text: str) -> Span | None:
    """The first `(`, `[` or `{` (outside comments) that is never closed, if any."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[tuple[str, int, int]] = []
    for number, line in enumerate(text.split("\n"), 1):
        for col, ch in enumerate(line, 1):
            if ch == "#":
                break
            if ch in "([{":
                stack.append((ch, number, col))
            elif ch in pairs:
                if not stack or stack[-1][0] != pairs[ch]:
                    return None  # a stray closer: the parser's own message is better
                stack.pop()
    if not stack:
        return None
    _, line, col = stack[0]
    return Span(line, col, line, col + 1)


def _last_line(source: Source) -> int:
    """The last line that has text (for errors at the end of the input)."""
    lines = source.text.rstrip("\n").split("\n")
    return max(1, len(lines))


def _precheck(source: Source, empty_ok: bool = False) -> None:
    text = source.text
    if len(text) > limits.MAX_SOURCE_CHARS:
        raise SpecError(
            [
                Diagnostic(
                    f"spec is larger than {limits.MAX_SOURCE_CHARS} characters", code="limit"
                )
            ],
            source,
        )
    if "\x00" in text:
        raise SpecError(
            [Diagnostic("this is a binary file, not a .conv spec", code="binary")], source
        )
    if not text.strip() and not empty_ok:
        raise SpecError(
            [Diagnostic("spec is empty: it needs `network`, `input` and `layers:`", code="empty")],
            source,
        )
    lines = text.split("\n")
    if len(lines) > limits.MAX_SOURCE_LINES:
        message = f"spec has more than {limits.MAX_SOURCE_LINES} lines"
        raise SpecError([Diagnostic(message, code="limit")], source)
    problems = []
    for number, line in enumerate(lines, 1):
        stripped = line.lstrip(" ")
        if not stripped.strip(" \t\f") or stripped.lstrip(" \t\f").startswith("#"):
            continue  # blank and comment-only lines do not count for indentation
        if stripped.startswith("\t") or (stripped[:1] in ("\f",)):
            col = len(line) - len(stripped) + 1
            problems.append(
                Diagnostic(
                    "indent with spaces, not tabs",
                    Span(number, col, number, col + 1),
                    code="syntax",
                )
            )
    if problems:
        raise SpecError(problems[:10], source)
