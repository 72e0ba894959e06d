"""Source positions and the one error family every user mistake is reported with.

A `Diagnostic` is one mistake: a message, the file, a span, the chain of block calls that led
there and an optional hint.  A `SpecError` carries one or more diagnostics, so independent
mistakes are reported together and the CLI can print them all before exiting 2.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .values import format_value

# Characters a terminal acts on rather than shows: C0 controls but tab and line feed, DEL, C1
# controls, the bidirectional overrides and isolates ("Trojan Source") and the Unicode line
# and paragraph separators.  Spec text (an assert message, a comment on an echoed line, a
# file name) is shown with them escaped, so a spec cannot move the cursor, recolour or clear
# the terminal, set its title or reorder what is shown.
_CONTROLS = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNPRINTABLE = re.compile(f"[{_CONTROLS}]")
_UNPRINTABLE_NL = re.compile(f"[{_CONTROLS}\\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, newlines: bool = False) -> str:
    """`text` with every character a terminal would act on shown as a Python escape (ESC as
    `\\x1b`, U+202E as `\\u202e`); line feeds too unless `newlines` (a message of several
    lines).  Tabs are kept."""
    pattern = _UNPRINTABLE if newlines else _UNPRINTABLE_NL
    return pattern.sub(_escape, text)


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: 1-based lines and columns, end exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int
    file: str | None = None  # an imported file's path; None: the spec being compiled

    def to(self, other: Span) -> Span:
        """The smallest span covering `self` and `other` (in the same file)."""
        start = min((self.line, self.column), (other.line, other.column))
        end = max((self.end_line, self.end_column), (other.end_line, other.end_column))
        return Span(start[0], start[1], end[0], end[1], self.file)


NO_SPAN = Span(0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Source:
    """The text of a spec and the name it is reported under."""

    text: str
    filename: str = "<spec>"

    def line_text(self, line: int) -> str:
        lines = _lines(self.text)
        return lines[line - 1] if 1 <= line <= len(lines) else ""


# the text of every imported file read in this process, by path, for rendering diagnostics
# whose span lies in it (the newest read wins)
IMPORTED: dict[str, Source] = {}


def source_of(span: Span, source: Source | None) -> Source | None:
    """The source a span points into: an imported file's, or the spec's own."""
    return IMPORTED.get(span.file, source) if span.file else source


@functools.lru_cache(maxsize=8)
def _lines(text: str) -> tuple[str, ...]:
    """The lines of `text` as the parser counts them (CRLF and CR end lines too)."""
    return tuple(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


@dataclass(frozen=True, slots=True)
class Frame:
    """One block call on the way to an error: `in block unit(g=4), called at net.conv:27:5`."""

    block: str  # the block's name; for a loop, its variables (`t, c, n, s`)
    args: tuple[tuple[str, object], ...]  # (parameter, value), formatted only when shown
    span: Span
    iteration: int = 0  # for one iteration of a `for` loop: its number, from 1

    def describe(self) -> str:
        shown = ", ".join(f"{name}={format_value(value)}" for name, value in self.args)
        if self.iteration:
            return f"iteration {self.iteration} of `for {self.block}` ({shown})"
        return f"{self.block}({shown})"

    def where(self, filename: str) -> str:
        at = f"{self.span.file or filename}:{self.span.line}:{self.span.column}"
        if self.iteration:
            return f"  in {self.describe()}, at {at}"
        return f"  in block {self.describe()}, called at {at}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    message: str
    span: Span = NO_SPAN
    hint: str | None = None
    chain: tuple[Frame, ...] = ()
    code: str = "error"

    def render(self, source: Source | None, color: bool = False) -> str:
        """`file:line:col: error: message`, the source line with a caret under the span, the
        chain of block calls and the hint; ANSI colours when `color` (a terminal).  Text
        from the spec and file names are shown `printable` (control characters escaped)."""
        paint = _paint if color else _plain
        outer = source.filename if source else "<spec>"
        source = source_of(self.span, source)
        filename = printable(source.filename if source else "<spec>")
        error = paint("error:", _RED)
        message = paint(printable(self.message, newlines=True), _BOLD)
        if self.span.line <= 0:
            lines = [f"{paint(f'{filename}:', _BOLD)} {error} {message}"]
        else:
            where = f"{filename}:{self.span.line}:{self.span.column}:"
            lines = [f"{paint(where, _BOLD)} {error} {message}"]
            text = source.line_text(self.span.line) if source else ""
            if text:
                text = text.replace("\t", " ")
                width = (
                    self.span.end_column - self.span.column
                    if self.span.end_line == self.span.line
                    else len(text) - self.span.column + 1
                )
                # the caret goes under the span as shown, escapes included
                before = printable(text[: self.span.column - 1])
                spanned = text[self.span.column - 1 : self.span.column - 1 + width]
                width += len(printable(spanned)) - len(spanned)
                number = str(self.span.line)
                pad = " " * len(number)
                caret = paint("^" * max(1, width), _RED)
                lines.append(f" {paint(number, _BLUE)} {paint('|', _BLUE)} {printable(text)}")
                lines.append(f" {pad} {paint('|', _BLUE)} {' ' * len(before)}{caret}")
        for frame in reversed(self.chain):
            lines.append(printable(frame.where(outer)))
        if self.hint:
            lines.append(f"  {paint('hint:', _CYAN)} {printable(self.hint, newlines=True)}")
        return "\n".join(lines)


# ANSI styles of coloured diagnostics (only on a terminal; the CLI honours NO_COLOR)
_BOLD, _RED, _BLUE, _CYAN = "1", "1;31", "1;34", "1;36"


def _paint(text: str, style: str) -> str:
    return f"\x1b[{style}m{text}\x1b[0m"


def _plain(text: str, style: str) -> str:
    return text


MAX_DIAGNOSTICS = 50  # reported at once; the rest are counted


class SpecError(Exception):
    """A mistake in a spec (or in the parameters given for it), with its place in the file.

    `diagnostics` holds every independent mistake found; the attributes `message`, `filename`,
    `line`, `column` and `chain` describe the first one.
    """

    def __init__(self, diagnostics: Iterable[Diagnostic], source: Source | None = None):
        found = tuple(diagnostics)
        if not found:
            raise ValueError("SpecError needs at least one diagnostic")
        if len(found) > MAX_DIAGNOSTICS:
            rest = Diagnostic(
                f"{len(found) - MAX_DIAGNOSTICS} more mistakes not shown", code="more"
            )
            found = found[:MAX_DIAGNOSTICS] + (rest,)
        self.diagnostics = found
        self.source = source
        super().__init__(self.render())

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]

    @property
    def message(self) -> str:
        return self.first.message

    @property
    def filename(self) -> str:
        source = source_of(self.first.span, self.source)
        return source.filename if source else "<spec>"

    @property
    def line(self) -> int:
        return self.first.span.line

    @property
    def column(self) -> int:
        return self.first.span.column

    @property
    def chain(self) -> tuple[Frame, ...]:
        return self.first.chain

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def render(self, color: bool = False) -> str:
        """Every diagnostic, located; ANSI colours when `color`."""
        return "\n".join(d.render(self.source, color) for d in self.diagnostics)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest choice, for misspelt names."""
    return _closest(word, tuple(sorted(set(choices))))


@functools.lru_cache(maxsize=1024)
def _closest(word: str, choices: tuple[str, ...]) -> str | None:
    import difflib

    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else None


def divisors(n: int, limit: int = 24) -> str:
    """The divisors of `n` as a hint ("1, 2, 3, 6, 9, 18, 27, 54"), cut short for large n."""
    if n <= 0:
        return ""
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    found = sorted(set(small + [n // d for d in small]))
    text = ", ".join(str(d) for d in found[:limit])
    return text + (", ..." if len(found) > limit else "")


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"  # as dataclasses shows it in a signature


_FACTORY = _Factory()  # a field left to its default_factory


def fast_init(cls: type) -> None:
    """Give a frozen, slotted dataclass an `__init__` that stores each field through its slot
    descriptor: the same parameters and defaults as the generated one, in some 40 % less time
    than its `object.__setattr__` per field.  For the objects every compile makes by the
    hundred (IR nodes, shapes, call frames); the fields are set nowhere else."""
    names: dict[str, Any] = {"FACTORY": _FACTORY}
    params, lines = [], []
    for f in dataclasses.fields(cls):
        names[f"set_{f.name}"] = getattr(cls, f.name).__set__  # the slot's member descriptor
        value = f.name
        if f.default is not dataclasses.MISSING:
            names[f"default_{f.name}"] = f.default
            params.append(f"{f.name}=default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=FACTORY")
            value = f"factory_{f.name}() if {f.name} is FACTORY else {f.name}"
        else:
            params.append(f.name)
        lines.append(f"    set_{f.name}(self, {value})\n")
    body = "".join(lines) or "    pass\n"
    source = f"def __init__(self, {', '.join(params)}):\n" + body
    exec(source, names)  # noqa: S102 - fixed text built from the field names above
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init


for _cls in (Span, Source, Frame, Diagnostic):
    fast_init(_cls)
