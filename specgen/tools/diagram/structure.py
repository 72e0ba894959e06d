"""How a layer's box looks beyond its text: its fill colour by kind, and the drawings of its
channel structure (a group conv's groups as lanes, `shuffle`'s interleave, `igc`'s partitions,
`gdc`'s H×W kernel).  A layer kind not named here is drawn plain, in the default fill.
"""

from __future__ import annotations

from collections.abc import Sequence

from ... import ir
from .text import pair, small

MAX_LANES = 8  # groups drawn one by one; above this: the first three, "…", the last
SHUFFLE_COLUMNS = 4  # channels drawn per group in a shuffle (at most; the rest is "…")
GRID = 7  # gdc kernels larger than GRID×GRID are drawn as GRID×GRID with "…"

# ColorBrewer Set3: light fills that stay readable under black text, one per group
PALETTE = (
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
)

FILL = {
    "conv": "#dbe9f6",
    "group": "#e5f5e0",
    "depthwise": "#fde8d7",
    "igc": "#efe5f7",
    "gdc": "#d9f0ee",
    "shuffle": "#ffffff",
    "pool": "#eeeeee",
    "fc": "#fff7bc",
    "other": "#ffffff",
    "block": "#fff2cc",
    "io": "#f4f4f4",
}


def _cell(fill: str, port: str = "", text: str = "", width: int = 12) -> str:
    port_attr = f' PORT="{port}"' if port else ""
    return (
        f'<TD{port_attr} BGCOLOR="{fill}" WIDTH="{width}" HEIGHT="12" FIXEDSIZE="FALSE">'
        f"{small(text, '#000000', 8) if text else ''}</TD>"
    )


def _gap() -> str:
    """A narrow borderless cell separating groups in a row of channels."""
    return '<TD BORDER="0" WIDTH="4"></TD>'


def _dots() -> str:
    return f'<TD BORDER="0">{small("…", "#000000", 10)}</TD>'


def _row(cells: Sequence[str], spacing: int = 1) -> str:
    return (
        f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="{spacing}" CELLPADDING="1">'
        f"<TR>{''.join(cells)}</TR></TABLE>"
    )


def shown(count: int, limit: int = MAX_LANES) -> list[int | None]:
    """The indices drawn for `count` items: all of them up to `limit`, else the first three,
    None (drawn as "…") and the last."""
    if count <= limit:
        return list(range(count))
    return [0, 1, 2, None, count - 1]


def fill(node: ir.Node) -> str:
    """The fill of `node`'s box: by kind of convolution, pooling or fc; any other layer
    (a new kind too) is white."""
    t = type(node)
    if t is ir.Conv:
        if node.kind == "gdc":
            return FILL["gdc"]
        if node.depthwise:
            return FILL["depthwise"]
        return FILL["group"] if node.groups > 1 else FILL["conv"]
    if t is ir.IGC:
        return FILL["igc"]
    if t in (ir.Pool, ir.GlobalPool, ir.AdaptivePool):
        return FILL["pool"]
    if t is ir.Linear:
        return FILL["fc"]
    return FILL["other"]


def _group_lanes(node: ir.Conv) -> list[str]:
    """Rows showing a group conv's groups as lanes: g cells `Cin/g→Cout/g`, one colour each."""
    g, cin, cout = node.groups, node.in_shape.c, node.out
    cells = []
    for i in shown(g):
        if i is None:
            cells.append(_dots())
        else:
            cells.append(_cell(PALETTE[i % len(PALETTE)], f"g{i}", f"{cin // g}→{cout // g}", 30))
    return [small(f"{g} groups, each {cin // g}→{cout // g} channels"), _row(cells, 2)]


def _depthwise_lanes(node: ir.Conv) -> list[str]:
    c, mult = node.in_shape.c, node.out // node.groups
    cells = [_dots() if i is None else _cell("#fdd0a2", f"g{i}") for i in shown(c, 6)]
    per = "1 channel" if mult == 1 else f"1→{mult} channels"
    return [small(f"depthwise: {c} groups of {per}"), _row(cells, 2)]


def _gdc_rows(node: ir.Conv) -> list[str]:
    """GDC: the H×W kernel of one channel, a weight per position, where GAP uses 1/(H·W)."""
    kh, kw = node.kernel
    c = node.in_shape.c
    rows_shown, cols_shown = shown(kh, GRID), shown(kw, GRID)
    size = 10
    grid = [
        f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="0" FIXEDSIZE="TRUE" '
        f'WIDTH="{size * len(cols_shown)}" HEIGHT="{size * len(rows_shown)}">'
    ]
    for r in rows_shown:
        cells = []
        for col in cols_shown:
            if r is None or col is None:
                cells.append(f'<TD BORDER="0" WIDTH="{size}" HEIGHT="{size}">…</TD>')
            else:
                cells.append(
                    f'<TD BGCOLOR="#fdb462" WIDTH="{size}" HEIGHT="{size}" FIXEDSIZE="TRUE"></TD>'
                )
        grid.append("<TR>" + "".join(cells) + "</TR>")
    grid.append("</TABLE>")
    return [
        small("global depthwise conv: replaces global average pooling"),
        small(f"per channel one learned {kh}×{kw} kernel, a weight per position"),
        "".join(grid),
        small(f"{c} × {kh}×{kw} = {c * kh * kw:,} weights (GAP: 1/{kh * kw} everywhere)"),
    ]


def _shuffle_rows(node: ir.Shuffle) -> list[str]:
    """The shuffle as an interleave: g groups of C/g channels (a colour per group) reshaped to
    g×(C/g), transposed and flattened, so each next group holds channels of every group."""
    g, c = node.groups, node.in_shape.c
    if g == 1:
        return [small(f"1 group: leaves the {c} channels in place")]
    per = c // g
    groups = shown(g)
    cols = shown(per, SHUFFLE_COLUMNS)
    before: list[str] = []
    for n, i in enumerate(groups):
        if n:
            before.append(_gap())
        if i is None:
            before.append(_dots())
            continue
        for j in cols:
            before.append(_dots() if j is None else _cell(PALETTE[i % len(PALETTE)], f"a{i}_{j}"))
    after: list[str] = []
    for n, j in enumerate(cols):
        if n:
            after.append(_gap())
        if j is None:
            after.append(_dots())
            continue
        for i in groups:
            after.append(_dots() if i is None else _cell(PALETTE[i % len(PALETTE)], f"b{j}_{i}"))
    return [
        small(f"{c} channels = {g} groups × {per}"),
        _row(before),
        small(f"reshape {g}×{per} → transpose → {per}×{g}: channels interleaved", "#000000"),
        _row(after),
        small(f"so every next group holds channels of all {g} groups"),
    ]


def _igc_rows(node: ir.IGC) -> list[str]:
    """IGC: L primary partitions of M channels, the interleave, M secondary partitions of L
    channels (a channel keeps its primary partition's colour), then the permutation back."""
    M, L = node.M, node.L
    ls, ms = shown(L), shown(M, 4)
    primary: list[str] = []
    for n, lane in enumerate(ls):
        if n:
            primary.append(_gap())
        if lane is None:
            primary.append(_dots())
            continue
        for m in ms:
            primary.append(
                _dots() if m is None else _cell(PALETTE[lane % len(PALETTE)], f"p{lane}_{m}")
            )
    secondary: list[str] = []
    for n, m in enumerate(ms):
        if n:
            secondary.append(_gap())
        if m is None:
            secondary.append(_dots())
            continue
        for lane in ls:
            secondary.append(
                _dots() if lane is None else _cell(PALETTE[lane % len(PALETTE)], f"s{m}_{lane}")
            )
    k = pair(node.kernel)
    return [
        small(f"primary {k} group conv: L={L} partitions × M={M} channels", "#000000"),
        _row(primary),
        small("interleave: channel m of every partition → secondary partition m"),
        _row(secondary),
        small(f"secondary 1×1 group conv: M={M} partitions × L={L} channels", "#000000"),
        small(f"then the permutation back · width G = M·L = {M * L}"),
    ]


def structure(node: ir.Node) -> list[str]:
    """Extra label rows drawing the channel structure of `node` (none for plain layers)."""
    t = type(node)
    if t is ir.Conv:
        if node.kind == "gdc":
            return _gdc_rows(node)
        if node.depthwise:
            return _depthwise_lanes(node)
        if node.groups > 1:
            return _group_lanes(node)
    if t is ir.IGC:
        return _igc_rows(node)
    if t is ir.Shuffle:
        return _shuffle_rows(node)
    return []
