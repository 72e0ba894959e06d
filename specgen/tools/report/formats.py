"""Choosing how the cost report is shown: the format (`render`), and whether the table is
coloured, for the stream the text will go to (`use_color`, `terminal_width`)."""

from __future__ import annotations

import io
import os
from typing import TextIO

from ...compiler import Network
from ...passes.latency import Prediction
from .data import to_csv, to_json
from .table import to_markdown, to_table

FORMATS = ("table", "json", "csv", "markdown")
COLORS = ("auto", "always", "never")


def use_color(mode: str | bool, stream: TextIO | None) -> bool:
    """Colour for `--color MODE` on `stream`: `always` (even with NO_COLOR: an explicit flag
    wins), `never`, or `auto`: only on a terminal, and not when NO_COLOR is set to anything
    non-empty (no-color.org) or TERM is `dumb`."""
    if isinstance(mode, bool):
        return mode
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed, or not a real file
        return False


def terminal_width(stream: TextIO | None) -> int | None:
    """The columns of the terminal `stream` writes to (COLUMNS first), or None."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return None


def render(
    net: Network,
    fmt: str = "table",
    *,
    depth: int | None = None,
    color: str | bool = "never",
    stream: TextIO | None = None,
    latency: Prediction | None = None,
) -> str:
    """The report in `fmt` (one of FORMATS), down to `depth`; `color` (a COLORS mode, or a
    bool) applies to the table only and is decided for `stream`, where the text will go;
    `latency` (`Network.latency()`) adds each row's predicted milliseconds."""
    if fmt == "json":
        return to_json(net, depth, latency)
    if fmt == "csv":
        return to_csv(net, depth, latency)
    if fmt == "markdown":
        return to_markdown(net, depth, latency)
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    colored = use_color(color, stream)
    width = terminal_width(stream) if colored and _isatty(stream) else None
    return to_table(net, depth=depth, color=colored, width=width, latency=latency)
