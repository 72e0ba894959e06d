"""Block diagrams of a compiled network as Graphviz DOT text (`specgen graph`).

The diagram is built from the elaborated IR alone, so this module imports no framework and no
Graphviz binding: `to_dot` returns DOT text, and only `render` runs the `dot` program (for SVG,
PNG or PDF; `.dot` output needs nothing installed).  See docs/graph.md for how to read it.

What is drawn:

- one node per layer, a convolution (or `igc`, `fc`) fused with the `bn` and activations that
  follow it, as papers draw "1×1 GConv, BN, ReLU"; each node shows its path, its op with
  kernel, stride and groups, and its params and MACs (exact figures in the SVG tooltip);
- every edge carries the shape of the tensor on it (C×H×W);
- a user block call is a cluster, or one node with its totals when it is nested deeper than
  `depth`; identical instances called one after another (`unit(g) x 3`) are drawn once,
  marked ×3;
- `residual` is its body beside the shortcut into a ⊕ node; `add`, `concat` and `split`
  branch out of one tensor and meet in one node;
- group convolutions show their groups as lanes, `shuffle` the interleave of its groups, `igc`
  its L partitions of M channels, the interleave and M partitions of L channels, and `gdc` its
  H×W kernel per channel.  Large counts are drawn as a few representatives and "…".

The output is deterministic: the same network and options give the same DOT text.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import ir
from ..errors import Diagnostic, SpecError, did_you_mean
from ..passes.cost import dense_ratio, leaf_cost, totals, walk
from ..values import format_value

# output formats by file suffix; "dot" is written as is, the others by Graphviz's `dot`
FORMATS = {"dot": "dot", "gv": "dot", "svg": "svg", "png": "png", "pdf": "pdf"}

INSTALL_HINT = (
    "install Graphviz, which provides it: `apt-get install graphviz` (Debian, Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz`; "
    "`-o FILE.dot` writes the DOT text and needs nothing installed"
)

# How much is drawn.  Graphviz's layout grows faster than linearly with the boxes and frames
# (measured with 2.43 on one core: 1,400 boxes and frames in 2 s, 2,800 in 23 s), so the CLI
# refuses to hand it more than MAX_BOXES and stops `dot` after DOT_TIMEOUT seconds; DOT text
# is written at any size.  Without --depth, --expand or --block, a network drawn open with
# more than DEFAULT_BOXES boxes is drawn at the deepest --depth that stays under it.
MAX_BOXES = 1500
DEFAULT_BOXES = 150
DOT_TIMEOUT = 60.0  # seconds

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

FUSED_HEADS = (ir.Conv, ir.IGC, ir.Linear)  # layers that absorb the bn / activations after them
FUSED_TAILS = (ir.BatchNorm, ir.Act)
FORKS = (ir.Residual, ir.Add, ir.Concat, ir.Split)


class GraphError(Exception):
    """Rendering a diagram failed (no Graphviz, an unknown format, Graphviz itself failed);
    the message is meant for the user as it is."""


class GraphvizMissing(GraphError):
    """Graphviz's `dot` program is not installed (or not on PATH)."""


class TooLarge(GraphError):
    """The diagram has more boxes than Graphviz is given (`max_boxes`), or `dot` ran longer
    than its timeout."""


# ---- text helpers ---------------------------------------------------------------------------


def _h(text: Any) -> str:
    """`text` escaped for an HTML-like label (names are identifiers, but escape anyway)."""
    return html.escape(str(text), quote=True)


def _q(text: str) -> str:
    """`text` as a double-quoted DOT string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(shape: ir.Shape) -> str:
    return str(shape.c) if shape.flat else f"{shape.c}×{shape.h}×{shape.w}"


def _pair(p: tuple[int, int]) -> str:
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


def _call(block: ir.Block) -> str:
    if not block.args:
        return block.name
    args = ", ".join(f"{k}={format_value(v)}" for k, v in block.args)
    return f"{block.name}({args})"


def _small(text: str, color: str = "#444444", size: int = 9) -> str:
    return f'<FONT POINT-SIZE="{size}" COLOR="{color}">{text}</FONT>'


def _cost_line(params: int, macs: int, each: bool = False) -> str:
    suffix = " each" if each else ""
    return _small(f"params {compact(params)} · MACs {compact(macs)}{suffix}")


def _cell(fill: str, port: str = "", text: str = "", width: int = 12) -> str:
    port_attr = f' PORT="{port}"' if port else ""
    return (
        f'<TD{port_attr} BGCOLOR="{fill}" WIDTH="{width}" HEIGHT="12" FIXEDSIZE="FALSE">'
        f"{_small(text, '#000000', 8) if text else ''}</TD>"
    )


def _gap() -> str:
    """A narrow borderless cell separating groups in a row of channels."""
    return '<TD BORDER="0" WIDTH="4"></TD>'


def _dots() -> str:
    return f'<TD BORDER="0">{_small("…", "#000000", 10)}</TD>'


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


# ---- layer labels ---------------------------------------------------------------------------


def _conv_op(node: ir.Conv) -> str:
    """`conv 3×3 /2 g=3`: the op with kernel, stride, dilation and groups where they matter."""
    parts = [node.kind if node.kind != "gdc" else "gdc", _pair(node.kernel)]
    if node.stride != (1, 1):
        parts.append(
            "/" + (str(node.stride[0]) if node.stride[0] == node.stride[1] else _pair(node.stride))
        )
    if node.dilation != (1, 1):
        parts.append(f"dilation {_pair(node.dilation)}")
    if node.groups > 1 and not node.depthwise and node.kind != "gdc":
        parts.append(f"group={node.groups}")
    return " ".join(parts)


def _layer_op(node: ir.Node) -> str:
    t = type(node)
    if t is ir.Conv:
        return _conv_op(node)
    if t is ir.IGC:
        text = f"igc {_pair(node.kernel)} M={node.M} L={node.L}"
        return text + (f" /{node.stride[0]}" if node.stride != (1, 1) else "")
    if t is ir.Linear:
        return f"fc {node.out}"
    if t is ir.Pool:
        text = f"{node.op} {_pair(node.kernel)}"
        return text + (f" /{node.stride[0]}" if node.stride != (1, 1) else "")
    if t is ir.GlobalPool:
        return "gap (global average pool)" if node.kind == "avg" else "gmp (global max pool)"
    if t is ir.AdaptivePool:
        return f"adaptiveavgpool {_pair(node.size)}"
    if t is ir.SE:
        return f"se squeeze={node.squeeze} {node.act}/{node.gate}"
    if t is ir.Shuffle:
        return f"shuffle group={node.groups}"
    if t is ir.Dropout:
        return f"dropout {format_value(node.p)}"
    if t is ir.Act and node.kind == "leakyrelu":
        return f"leakyrelu {format_value(node.slope)}"
    return node.op


def _fill(node: ir.Node) -> str:
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
    return [_small(f"{g} groups, each {cin // g}→{cout // g} channels"), _row(cells, 2)]


def _depthwise_lanes(node: ir.Conv) -> list[str]:
    c, mult = node.in_shape.c, node.out // node.groups
    cells = [_dots() if i is None else _cell("#fdd0a2", f"g{i}") for i in shown(c, 6)]
    per = "1 channel" if mult == 1 else f"1→{mult} channels"
    return [_small(f"depthwise: {c} groups of {per}"), _row(cells, 2)]


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
        _small("global depthwise conv: replaces global average pooling"),
        _small(f"per channel one learned {kh}×{kw} kernel, a weight per position"),
        "".join(grid),
        _small(f"{c} × {kh}×{kw} = {c * kh * kw:,} weights (GAP: 1/{kh * kw} everywhere)"),
    ]


def _shuffle_rows(node: ir.Shuffle) -> list[str]:
    """The shuffle as an interleave: g groups of C/g channels (a colour per group) reshaped to
    g×(C/g), transposed and flattened, so each next group holds channels of every group."""
    g, c = node.groups, node.in_shape.c
    if g == 1:
        return [_small(f"1 group: leaves the {c} channels in place")]
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
        _small(f"{c} channels = {g} groups × {per}"),
        _row(before),
        _small(f"reshape {g}×{per} → transpose → {per}×{g}: channels interleaved", "#000000"),
        _row(after),
        _small(f"so every next group holds channels of all {g} groups"),
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
    k = _pair(node.kernel)
    return [
        _small(f"primary {k} group conv: L={L} partitions × M={M} channels", "#000000"),
        _row(primary),
        _small("interleave: channel m of every partition → secondary partition m"),
        _row(secondary),
        _small(f"secondary 1×1 group conv: M={M} partitions × L={L} channels", "#000000"),
        _small(f"then the permutation back · width G = M·L = {M * L}"),
    ]


def _structure(node: ir.Node) -> list[str]:
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


def _table(rows: Sequence[str], fill: str, dashed: bool = False) -> str:
    style = "rounded,dashed" if dashed else "rounded"
    body = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
    return (
        f'<<TABLE BORDER="1" STYLE="{style}" COLOR="#555555" BGCOLOR="{fill}" '
        f'CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">{body}</TABLE>>'
    )


# ---- the builder ----------------------------------------------------------------------------

Port = tuple[str, ir.Shape]  # the node an edge leaves from and the tensor it carries


class _Overflow(Exception):
    """The builder passed its `max_boxes`: drawing stops at once."""


@dataclass
class _Builder:
    depth: int | None
    expand: frozenset[str]
    fuse: bool
    lines: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    count: int = 0
    indent: int = 1
    memo: dict[int, Any] = field(default_factory=dict)
    wanted: dict[int, bool] = field(default_factory=dict)
    points: set[str] = field(default_factory=set)  # entry points: their edges go unlabelled
    next_label: str | None = None  # the label of the next edge out of a split
    boxes: int = 0  # nodes and frames drawn (entry points left out)
    max_boxes: int | None = None  # TooLarge past this many

    def counted(self) -> None:
        self.boxes += 1
        if self.max_boxes is not None and self.boxes > self.max_boxes:
            raise _Overflow

    def new_id(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def emit(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)

    def node(self, label: str, tooltip: str, **attrs: str) -> str:
        self.counted()
        ident = self.new_id()
        extra = "".join(f" {k}={v}" for k, v in attrs.items())
        self.emit(f"{ident} [label={label} tooltip={_q(tooltip)}{extra}]")
        return ident

    def edge(self, src: Port, dst: str, text: str | None = None, **attrs: str) -> None:
        if text is None and self.next_label is not None:
            text, self.next_label = self.next_label, None
        if text is None:
            text = "" if src[0] in self.points else _shape(src[1])
        label = text
        extra = "".join(f" {k}={v}" for k, v in attrs.items())
        self.edges.append(f"{src[0]} -> {dst} [label={_q(label)}{extra}]")

    @contextlib.contextmanager
    def cluster(self, label: str, tooltip: str, fill: str, dashed: bool = False):
        self.counted()
        ident = self.new_id()
        self.emit(f"subgraph cluster_{ident} {{")
        self.indent += 1
        style = '"rounded,filled,dashed"' if dashed else '"rounded,filled"'
        self.emit(f"label={label} tooltip={_q(tooltip)} style={style} fillcolor={_q(fill)}")
        try:
            yield
        finally:
            self.indent -= 1
            self.emit("}")

    # -- what to expand --

    def wants(self, node: ir.Node) -> bool:
        """Whether `node` is or contains a block named in `expand` (memoized by identity)."""
        key = id(node)
        found = self.wanted.get(key)
        if found is None:
            if isinstance(node, ir.Block) and node.name in self.expand:
                found = True
            else:
                found = any(self.wants(child) for child in _all_children(node))
            self.wanted[key] = found
        return found

    def expanded(self, block: ir.Block, level: int) -> bool:
        if self.depth is None or level <= self.depth:
            return True
        return bool(self.expand) and self.wants(block)

    # -- drawing --

    def draw(self, node: ir.Node, path: str, inp: Port, level: int) -> Port:
        """Draw `node` (named `path`) fed by `inp`; return where its output leaves from."""
        t = type(node)
        if t is ir.Seq:
            return self.seq(node, path, inp, level)
        if t is ir.Residual:
            return self.residual(node, path, inp, level)
        if t in (ir.Add, ir.Concat, ir.Split):
            return self.branches(node, path, inp, level)
        if t is ir.SepConv:
            ratio = dense_ratio(node)
            params, macs, _, _ = totals(node, self.memo)
            text = f"{path} · depthwise-separable · {ratio:.3f} of dense weights"
            with self.cluster(
                _q(text), f"{path}: params {params:,}, MACs {macs:,}", "#ffffff", dashed=True
            ):
                return self.seq(node.body, path, inp, level)
        if t is ir.Block:
            return self.block(node, path, [path], inp, level + 1)
        if t is ir.Identity:
            return inp[0], node.out_shape
        return self.layers([(path, node)], inp)

    def seq(self, node: ir.Seq, prefix: str, inp: Port, level: int) -> Port:
        children = node.children
        i, cur = 0, inp
        while i < len(children):
            name, child = children[i]
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(child, ir.Block):
                j = i + 1
                while j < len(children) and children[j][1] is child:
                    j += 1
                names = [f"{prefix}.{n}" if prefix else n for n, _ in children[i:j]]
                cur = self.block(child, path, names, cur, level + 1)
                i = j
                continue
            if self.fuse and isinstance(child, FUSED_HEADS):
                group = [(path, child)]
                j = i + 1
                while j < len(children) and isinstance(children[j][1], FUSED_TAILS):
                    n = children[j][0]
                    group.append((f"{prefix}.{n}" if prefix else n, children[j][1]))
                    j += 1
                cur = self.layers(group, cur)
                i = j
                continue
            if isinstance(child, ir.TRANSPARENT):
                cur = self.draw(child, prefix, cur, level)
            else:
                cur = self.draw(child, path, cur, level)
            i += 1
        return cur

    def layers(self, group: list[tuple[str, ir.Node]], inp: Port) -> Port:
        """One node for a layer and the bn / activations fused with it."""
        head_path, head = group[0]
        ops = " · ".join(_h(_layer_op(n)) for _, n in group)
        params = macs = 0
        for _, n in group:
            p, m = leaf_cost(n)
            params, macs = params + p, macs + m
        rows = [f"<B>{_h(head_path)}</B>  {ops}", *_structure(head)]
        if params or macs:
            rows.append(_cost_line(params, macs))
        out = group[-1][1].out_shape
        tip = ", ".join(p for p, _ in group) + f": params {params:,}, MACs {macs:,}, out {out}"
        if type(head) in (ir.BatchNorm, ir.Act, ir.Dropout, ir.Flatten):
            ident = self.node(_table(rows, FILL["other"]), tip, shape="plain")
        else:
            ident = self.node(_table(rows, _fill(head)), tip, shape="plain")
        self.edge(inp, ident)
        return ident, out

    def block(self, node: ir.Block, path: str, names: list[str], inp: Port, level: int) -> Port:
        params, macs, _, _ = totals(node, self.memo)
        times = len(names)
        shown_name = path if times == 1 else f"{names[0]} … {names[-1]}"
        repeat = f" ×{times}" if times > 1 else ""
        tip = f"{', '.join(names)} = {_call(node)}: params {params:,}, MACs {macs:,}"
        tip += " each" if times > 1 else ""
        if not self.expanded(node, level):
            rows = [
                f"<B>{_h(shown_name)}</B>",
                f"{_h(_call(node))}{repeat}",
                _cost_line(params, macs, each=times > 1),
            ]
            ident = self.node(_table(rows, FILL["block"]), tip, shape="plain")
            self.edge(inp, ident)
            return ident, node.out_shape
        label = (
            f"<<B>{_h(shown_name)}</B>  {_h(_call(node))}{repeat}"
            f"{' (one drawn)' if times > 1 else ''}<BR/>"
            f"{_cost_line(params, macs, each=times > 1)}>"
        )
        with self.cluster(label, tip, "#fbfbf4"):
            # a fork at the block's input (a residual, a concat) starts at one point inside
            # the cluster, as papers draw it, rather than at the layer before the block
            children = node.body.children
            if not children or not isinstance(children[0][1], FORKS):
                return self.seq(node.body, path, inp, level)
            entry = self.new_id()
            self.emit(f"{entry} [shape=point width=0.05 tooltip={_q(f'{path} input')}]")
            self.edge(inp, entry, arrowhead="none")
            self.points.add(entry)
            return self.seq(node.body, path, (entry, inp[1]), level)

    def residual(self, node: ir.Residual, prefix: str, inp: Port, level: int) -> Port:
        if node.shortcut is not None and node.shortcut_first:
            short = self.seq(node.shortcut, prefix, inp, level)
            body = self.seq(node.body, prefix, inp, level)
        else:
            body = self.seq(node.body, prefix, inp, level)
            short = self.seq(node.shortcut, prefix, inp, level) if node.shortcut else inp
        add = self.node(
            _q("+"),
            f"residual sum: {node.out_shape}",
            shape="circle",
            width="0.3",
            fixedsize="true",
            fontsize="14",
        )
        self.edge(body, add)
        if short[0] == inp[0]:  # no shortcut, or one that draws nothing (`if` false): identity
            self.edge(short, add, f"identity {_shape(short[1])}", style="dashed")
        else:
            self.edge(short, add, f"shortcut {_shape(short[1])}")
        return add, node.out_shape

    def branches(self, node: ir.Node, prefix: str, inp: Port, level: int) -> Port:
        t = type(node)
        start = inp
        if t is ir.Split:
            sizes = " | ".join(str(s) for s in node.sizes)
            start = (
                self.node(
                    _table([f"<B>split</B> {sizes}"], FILL["other"]),
                    f"channel split into {sizes}",
                    shape="plain",
                ),
                node.in_shape,
            )
            self.edge(inp, start[0])
        outs = []
        first = 0
        for k, (name, child) in enumerate(node.branches):
            part = start
            if t is ir.Split:
                size = node.sizes[k]
                part = (start[0], ir.Shape(size, node.in_shape.h, node.in_shape.w))
                # the channel range on the edge: which part goes where
                self.next_label = f"channels {first}–{first + size - 1}: {_shape(part[1])}"
                first += size
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(child, ir.TRANSPARENT):
                out = self.draw(child, prefix, part, level)
            else:
                out = self.draw(child, path, part, level)
            # an identity branch drew no edge: its range goes on the edge into the merge
            outs.append((out, self.next_label))
            self.next_label = None
        if t is ir.Add:
            merge = self.node(
                _q("+"),
                f"sum: {node.out_shape}",
                shape="circle",
                width="0.3",
                fixedsize="true",
                fontsize="14",
            )
        else:
            merge = self.node(
                _table([f"<B>concat</B> → {node.out_shape.c}"], FILL["other"]),
                f"concatenated along channels: {node.out_shape}",
                shape="plain",
            )
        for out, label in outs:
            self.edge(out, merge, label)
        return merge, node.out_shape


def _all_children(node: ir.Node) -> tuple[ir.Node, ...]:
    if isinstance(node, ir.Residual):
        return (node.body,) + ((node.shortcut,) if node.shortcut is not None else ())
    return tuple(child for _, child in ir.children(node))


def _ir(net: Any) -> ir.Network:
    network = getattr(net, "ir", net)
    if not isinstance(network, ir.Network):
        raise TypeError(f"expected a compiled network, not {type(net).__name__}")
    return network


def block_names(net: Any) -> list[str]:
    """The names of the user blocks instantiated in `net`, sorted."""
    found: set[str] = set()
    seen: set[int] = set()

    def visit(node: ir.Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, ir.Block):
            found.add(node.name)
        for child in _all_children(node):
            visit(child)

    visit(_ir(net).body)
    return sorted(found)


def _parse_block(block: str) -> tuple[str, int | None]:
    """`NAME` or `NAME:K` (the K-th call of NAME, from 1, in execution order)."""
    name, sep, index = block.partition(":")
    if not sep:
        return name, None
    return name, int(index) if index.isascii() and index.isdigit() and int(index) > 0 else 0


def _instances(network: ir.Network, name: str, upto: int | None = None) -> list[tuple[str, Any]]:
    """(path, node) of the calls of block `name`, in execution order (the first `upto`)."""
    found = []
    for path, node in walk(network.body):
        if isinstance(node, ir.Block) and node.name == name:
            found.append((path, node))
            if upto is not None and len(found) >= upto:
                break
    return found


def _whole(network: ir.Network) -> str:
    return f"{network.name}({', '.join(f'{k}={format_value(v)}' for k, v in network.params)})"


def check_options(
    net: Any, depth: int | None = None, expand: Sequence[str] = (), block: str | None = None
) -> None:
    """Raise SpecError (code "usage") for a negative depth, an `expand` or `block` name that
    is no block of this network (the closest name or the blocks used as the hint), or a
    `block` call number past the calls there are; each message names its option."""
    network = _ir(net)
    source = getattr(net, "source", None)
    mistakes = []
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        mistakes.append(
            Diagnostic(f"--depth must be an integer >= 0, got {depth!r}", code="usage")
        )
    used = block_names(network)
    defined = {b.name for b in network.program.blocks}
    asked = [("--expand", name) for name in dict.fromkeys(expand)]
    if block is not None:
        asked.append(("--block", _parse_block(block)[0]))
    for option, name in asked:
        if name in used:
            continue
        if name in defined:
            message = f"{option}: block `{name}` is not used by {_whole(network)}"
        else:
            message = f"{option}: {network.name} has no block `{name}`"
        hint = did_you_mean(name, used) if name not in defined else None
        if hint is None:
            hint = "blocks used: " + ", ".join(used) if used else "this network calls no block"
        mistakes.append(Diagnostic(message, hint=hint, code="usage"))
    if block is not None and not mistakes:
        name, index = _parse_block(block)
        if index == 0:
            mistakes.append(
                Diagnostic(
                    f"--block expects NAME or NAME:K (K = 1, 2, ...: the K-th call), "
                    f"got `{block}`",
                    code="usage",
                )
            )
        elif index is not None:
            calls = len(_instances(network, name, index))
            if calls < index:
                times = "once" if calls == 1 else f"{calls} times"
                mistakes.append(
                    Diagnostic(
                        f"--block {block}: {_whole(network)} calls `{name}` {times}",
                        hint=f"--block {name}:1 to --block {name}:{calls}",
                        code="usage",
                    )
                )
    if mistakes:
        raise SpecError(mistakes, source)


def to_dot(
    net: Any,
    *,
    depth: int | None = None,
    expand: Sequence[str] = (),
    block: str | None = None,
    fuse: bool = True,
    max_boxes: int | None = None,
) -> str:
    """The block diagram of a compiled network (a `specgen.compile` result) as DOT text.

    `depth`: blocks nested deeper than `depth` block calls are drawn as one node with their
    totals (0: every block call is one node); None draws every block open, unless `expand` is
    given, when it means 0.  `expand`: block names whose instances are drawn open at any depth
    (with the blocks that contain them).  `block`: draw only one call of this block, open,
    from its input to its output (the unit as a paper draws it; `depth` then counts from it):
    `NAME` the first call, `NAME:K` the K-th in execution order.  `fuse`: draw a conv with its
    bn and activations as one node.  `max_boxes`: raise TooLarge rather than draw more boxes
    and frames than this.  Raises SpecError for a negative depth or an unknown block name.
    """
    network = _ir(net)
    check_options(net, depth, expand, block)
    if depth is None and expand:
        depth = 0
    b = _Builder(depth, frozenset(expand), fuse, max_boxes=max_boxes)
    try:
        return _draw_network(b, network, block)
    except _Overflow:
        raise TooLarge(
            f"the diagram has more than {max_boxes:,} boxes, more than Graphviz lays out in "
            "reasonable time; draw less: --depth N shuts the block calls nested deeper than N, "
            "--block NAME draws one block; `-o FILE.dot` writes the DOT text at any size"
        ) from None


def _draw_network(b: _Builder, network: ir.Network, block: str | None) -> str:
    whole = _whole(network)
    if block is None:
        params, macs, _, _ = totals(network.body, b.memo)
        first, last = network.input, network.output
        title = f"<B>{_h(whole)}</B>"
    else:
        name, index = _parse_block(block)
        path, node = _instances(network, name, index or 1)[-1]
        params, macs, _, _ = totals(node, b.memo)
        first, last = node.in_shape, node.out_shape
        title = f"<B>{_h(_call(node))}</B> in {_h(whole)}"
        if index is not None:
            title = f"<B>{_h(path)}</B>: {title}"
    title = f"<{title}<BR/>{_small(f'params {params:,} · MACs {macs:,}', '#000000', 10)}>"
    start = b.node(
        _table([f"<B>input</B> {_shape(first)}"], FILL["io"]), f"input {first}", shape="plain"
    )
    if block is None:
        out = b.draw(network.body, "", (start, first), 0)
    else:
        b.expand = b.expand | {name}
        if b.depth is not None:
            b.depth += 1
        out = b.block(node, path, [path], (start, first), 1)
    end = b.node(
        _table([f"<B>output</B> {_shape(last)}"], FILL["io"]), f"output {last}", shape="plain"
    )
    b.edge(out, end)
    head = [
        f"digraph {_q(network.name)} {{",
        f"    graph [label={title} labelloc=t fontname=Helvetica fontsize=12 rankdir=TB "
        'nodesep=0.3 ranksep=0.3 newrank=true tooltip=" "]',
        "    node [fontname=Helvetica fontsize=10]",
        '    edge [fontname=Helvetica fontsize=8 fontcolor="#555555" color="#555555" '
        "arrowsize=0.6]",
    ]
    edges = ["    " + e for e in b.edges]
    return "\n".join(head + b.lines + edges + ["}"]) + "\n"


def boxes(net: Any, *, depth: int | None = None, limit: int | None = None) -> int:
    """How many boxes and frames `to_dot(net, depth=depth)` draws (counting stops past
    `limit`, returning limit + 1)."""
    network = _ir(net)
    b = _Builder(depth, frozenset(), True, max_boxes=limit)
    with contextlib.suppress(_Overflow):
        _draw_network(b, network, None)
    return b.boxes


def default_depth(net: Any, limit: int = DEFAULT_BOXES) -> int | None:
    """The depth the CLI draws at when none is given: None (every block open) when that is
    at most `limit` boxes, else the deepest depth that stays at most `limit` (0 at least), so
    that a large network is not one picture some 10,000 pixels tall."""
    if boxes(net, limit=limit) <= limit:
        return None
    depth = 0
    while boxes(net, depth=depth + 1, limit=limit) <= limit:
        depth += 1
    return depth


# ---- rendering ------------------------------------------------------------------------------


def file_format(path: str | os.PathLike[str]) -> str:
    """The Graphviz format an output file's suffix names; GraphError when it names none.

    A path is always a path: `-o svg` is a file without a suffix, refused with the name to
    give instead, not a format name (nothing would be written)."""
    text = os.fspath(path)
    suffix = os.path.splitext(text)[1].lstrip(".").lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    known = ", ".join(f".{s}" for s in FORMATS)
    base = os.path.basename(text)
    if not suffix and base.lower() in FORMATS:
        raise GraphError(
            f"{text}: a file name without a suffix, so the format is unknown; to write "
            f"{FORMATS[base.lower()].upper()}, give a name ending in .{base.lower()}, "
            f"e.g. `-o net.{base.lower()}`"
        )
    if not suffix:
        raise GraphError(
            f"{text}: a file name without a suffix, so the format is unknown "
            f"(the file name must end in {known})"
        )
    raise GraphError(f"{text}: unknown diagram format (the file name must end in {known})")


def output_format(path_or_format: str | os.PathLike[str]) -> str:
    """The Graphviz format for a format name (a str: "svg", "png", "pdf", "dot", "gv") or an
    output path (by its suffix); GraphError if it is neither."""
    if isinstance(path_or_format, str) and path_or_format.lower() in FORMATS:
        return FORMATS[path_or_format.lower()]
    return file_format(path_or_format)


def dot_program() -> str:
    """The path of Graphviz's `dot`, or GraphvizMissing with what to install."""
    found = shutil.which("dot")
    if found is None:
        raise GraphvizMissing(f"Graphviz's `dot` program was not found on PATH; {INSTALL_HINT}")
    return found


def strip_version(svg: bytes) -> bytes:
    """An SVG without Graphviz's `<!-- Generated by graphviz version ... -->` comment, so the
    file does not change with the Graphviz that drew it."""
    start = svg.find(b"<!-- Generated by graphviz")
    if start < 0:
        return svg
    end = svg.find(b"-->", start)
    if end < 0:
        return svg
    end += 3
    while svg[end : end + 1] in (b"\n", b"\r"):
        end += 1
    return svg[:start] + svg[end:]


def render(
    dot_text: str, path_or_format: str | os.PathLike[str], *, timeout: float = DOT_TIMEOUT
) -> bytes | None:
    """Render DOT text: with a format name (a str: "svg", "png", "pdf", "dot") return its
    bytes; with a file path (any other str, or a PathLike) write it (format from the suffix)
    and return None.  DOT needs no Graphviz; the others raise GraphvizMissing when `dot` is
    not installed and TooLarge when it runs past `timeout` seconds."""
    if isinstance(path_or_format, str) and path_or_format.lower() in FORMATS:
        return _draw(dot_text, FORMATS[path_or_format.lower()], timeout)
    write(dot_text, path_or_format, timeout=timeout)
    return None


def write(dot_text: str, path: str | os.PathLike[str], *, timeout: float = DOT_TIMEOUT) -> None:
    """Write the diagram to `path`, always a file name (`svg` too), in the format its suffix
    names, under specgen.output's rules; GraphError for a bad path before any drawing."""
    text = os.fspath(path)
    fmt = file_format(text)
    from .output import OutputError, plan_output

    try:
        plan_output(text)  # refuse a bad path before the (possibly slow) layout
    except OutputError as err:
        raise GraphError(str(err)) from None
    _write(text, _draw(dot_text, fmt, timeout))


def _draw(dot_text: str, fmt: str, timeout: float) -> bytes:
    """The diagram in `fmt`: the DOT text itself, or what Graphviz's `dot` draws from it
    (stopped after `timeout` seconds)."""
    if fmt == "dot":
        return dot_text.encode("utf-8")
    program = dot_program()
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise TooLarge(
            f"Graphviz's dot was stopped after {timeout:g} s without finishing the layout; "
            "draw less (--depth N, --block NAME) or write the DOT text (-o FILE.dot)"
        ) from None
    except OSError as err:
        raise GraphvizMissing(
            f"cannot run {program}: {err.strerror or err}; {INSTALL_HINT}"
        ) from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()
        raise GraphError(f"Graphviz's dot failed (exit {done.returncode}): {detail}")
    return strip_version(done.stdout) if fmt == "svg" else done.stdout


def _write(path: str, data: bytes) -> None:
    """Write `data` to `path` under specgen.output's rules (checked path, atomic rename,
    mode and owner kept); its errors become GraphError."""
    from .output import OutputError, write_output

    try:
        write_output(path, data)
    except OutputError as err:
        raise GraphError(str(err)) from None
