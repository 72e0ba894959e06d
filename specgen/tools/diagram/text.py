"""The text of a diagram: DOT strings and HTML-like labels, the shapes on the edges, the
numbers in the boxes (`15.1K`), and the rounded table every box is drawn as."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from ... import ir
from ...values import format_value


def escape(text: Any) -> str:
    """`text` escaped for an HTML-like label (names are identifiers, but escape anyway)."""
    return html.escape(str(text), quote=True)


def quoted(text: str) -> str:
    """`text` as a double-quoted DOT string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def shape_text(shape: ir.Shape) -> str:
    """`24×56×56` on an edge, or `1000` for a flat tensor."""
    return str(shape.c) if shape.flat else f"{shape.c}×{shape.h}×{shape.w}"


def pair(p: tuple[int, int]) -> str:
    """`3×3`."""
    return f"{p[0]}×{p[1]}"


def compact(n: int) -> str:
    """`n` with three significant digits and a K/M/G suffix: 15104 → 15.1K."""
    if n < 1000:
        return str(n)
    for scale, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "K")):
        if n >= scale:
            value = n / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            text = f"{value:.{digits}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return text + suffix
    return str(n)  # unreachable


def call_text(block: ir.Block) -> str:
    """`unit(g=3)`: a block call as it is written."""
    if not block.args:
        return block.name
    args = ", ".join(f"{k}={format_value(v)}" for k, v in block.args)
    return f"{block.name}({args})"


def small(text: str, color: str = "#444444", size: int = 9) -> str:
    """`text` in a smaller, grey font: the secondary lines of a box."""
    return f'<FONT POINT-SIZE="{size}" COLOR="{color}">{text}</FONT>'


def cost_line(params: int, macs: int, each: bool = False) -> str:
    """`params 15.1K · MACs 2.3M`, the last line of a box."""
    suffix = " each" if each else ""
    return small(f"params {compact(params)} · MACs {compact(macs)}{suffix}")


def table(rows: Sequence[str], fill: str, dashed: bool = False) -> str:
    """A box: `rows` one under another in a rounded frame filled with `fill`."""
    style = "rounded,dashed" if dashed else "rounded"
    body = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
    return (
        f'<<TABLE BORDER="1" STYLE="{style}" COLOR="#555555" BGCOLOR="{fill}" '
        f'CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">{body}</TABLE>>'
    )
