"""Cost reports: the network as a tree of layers, block calls and composites, rendered for
people (an aligned table, coloured with `rich` on a terminal; a GitHub markdown table) and
for programs (JSON, CSV).  docs/cost.md describes every format.

The tree mirrors the spec: the network's own statements are depth 1, a block call's or a
composite's statements one deeper.  Every row carries the totals of everything below it, so
folding the tree at any depth (`--depth N`) loses no cost, and the rows that are shown with
nothing shown below them always add up to the network's totals.

`--depth N` counts block calls, not composites: a row's `level` is 1 for the network's own
statements and one more inside each block call (or `sepconv`), while a composite's statements
(`residual`, `concat`, ...) stay at the composite's level.  So a composite is never shown
folded (it would only repeat its block's numbers), `--depth N` shows what `graph --depth N-1`
draws, and `--depth 0` shows the totals alone.

JSON schema `specgen.cost/2` (docs/cost.md): network, parameters, input [C, H, W], output,
params, macs, flops, memory {...}, layers [...], blocks [...], tree [...].  The `tree` key and
the per-row fields `path`, `depth`, `label`, `input`, `macs_share`, `kernel`, `stride`,
`dilation`, `groups` and `args` were added without changing any existing key.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from .. import ir
from ..compiler import Network
from ..passes.cost import Totals, dense_ratio, leaf_cost, totals
from ..values import Table, format_value

SCHEMA = "specgen.cost/2"
BYTES_FP32 = 4
FORMATS = ("table", "json", "csv", "markdown")
COLORS = ("auto", "always", "never")
INDENT = "  "  # per level of the tree, in the name column

CSV_FIELDS = (
    "path",
    "depth",
    "name",
    "kind",
    "op",
    "label",
    "kernel",
    "stride",
    "dilation",
    "groups",
    "input",
    "output",
    "params",
    "macs",
    "macs_share",
    "activations",
    "dense_ratio",
)


# ---- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CostNode:
    """One row of the cost tree: a layer, a block call or `sepconv`, or a composite."""

    path: str  # every name from the top, joined by "/": unique (`unit1/residual1/conv1`)
    name: str  # module path (`unit1.conv1`); a composite: its module's path + its own name
    local: str  # its own name (`conv1`, `residual1`): what the table shows, indented
    depth: int  # 1 for the network's own statements; one more below any row (indentation)
    level: int  # 1 for the network's own statements; one more inside a block call only
    kind: str  # "layer", "block" (block calls and sepconv) or "composite"
    op: str  # the bare kind, as in `layers[].op`: conv, dwconv, unit, sepconv, residual, …
    label: str  # op with kernel, stride, dilation and groups: `dwconv 3x3 s2 g60`
    input: ir.Shape
    output: ir.Shape
    params: int
    macs: int
    activations: int  # output elements of the layers inside (batch 1)
    dense_ratio: float | None
    attrs: tuple[tuple[str, Any], ...]  # kernel, stride, dilation, groups where they apply
    args: tuple[tuple[str, Any], ...]  # a block call's arguments
    children: tuple[CostNode, ...]


def cost_tree(net: Network) -> tuple[CostNode, ...]:
    """The network's statements as CostNodes (depth 1), each with its subtree."""
    return _nodes(net.ir.body, "", "", 1, 1, {})


def _nodes(
    parent: ir.Node, tree: str, module: str, depth: int, level: int, memo: dict[int, Totals]
) -> tuple[CostNode, ...]:
    branch_op = "shortcut" if isinstance(parent, ir.Residual) else "branch"
    return tuple(
        _node(local, child, tree, module, depth, level, memo, branch_op)
        for local, child in ir.children(parent)
    )


def _node(
    local: str,
    node: ir.Node,
    tree: str,
    module: str,
    depth: int,
    level: int,
    memo: dict[int, Totals],
    branch_op: str,
) -> CostNode:
    path = f"{tree}/{local}" if tree else local
    name = f"{module}.{local}" if module else local
    if type(node) in ir.CHILDREN:
        params, macs, activations, _ = totals(node, memo)
        transparent = isinstance(node, ir.TRANSPARENT)
        kind = "composite" if transparent else "block"
        inner = level if transparent else level + 1
        children = _nodes(node, path, module if transparent else name, depth + 1, inner, memo)
    else:
        params, macs = leaf_cost(node)
        activations, kind, children = node.out_shape.numel, "layer", ()
    op = branch_op if type(node) is ir.Seq else node.op
    attrs = _attrs(node)
    args = node.args if isinstance(node, ir.Block) else ()
    return CostNode(
        path=path,
        name=name,
        local=local,
        depth=depth,
        level=level,
        kind=kind,
        op=op,
        label=_label(node, op, dict(attrs), args),
        input=node.in_shape,
        output=node.out_shape,
        params=params,
        macs=macs,
        activations=activations,
        dense_ratio=dense_ratio(node),
        attrs=attrs,
        args=args,
        children=children,
    )


def _attrs(node: ir.Node) -> tuple[tuple[str, Any], ...]:
    """Kernel, stride, dilation and groups of the layers that have them (a sepconv: its dw)."""
    t = type(node)
    if t is ir.SepConv:  # its dw conv's window (the groups are the dw's own: see its row)
        dw = next(n for _, n in node.body.children if isinstance(n, ir.Conv))
        return (("kernel", dw.kernel), ("stride", dw.stride), ("dilation", dw.dilation))
    if t is ir.Conv:
        return (
            ("kernel", node.kernel),
            ("stride", node.stride),
            ("dilation", node.dilation),
            ("groups", node.groups),
        )
    if t is ir.IGC:
        return (("kernel", node.kernel), ("stride", node.stride), ("dilation", node.dilation))
    if t is ir.Pool:
        return (("kernel", node.kernel), ("stride", node.stride))
    if t is ir.Shuffle:
        return (("groups", node.groups),)
    return ()


def _pair(pair: tuple[int, int], prefix: str = "") -> str:
    """`3x3`; with a prefix, `s2` for a square pair and `s2x1` otherwise."""
    if prefix and pair[0] == pair[1]:
        return f"{prefix}{pair[0]}"
    return f"{prefix}{pair[0]}x{pair[1]}"


def _label(
    node: ir.Node, op: str, attrs: Mapping[str, Any], args: tuple[tuple[str, Any], ...]
) -> str:
    """What the table's op column shows: `conv 1x1 g3`, `maxpool 3x3 s2`, `unit(g=3)`."""
    if isinstance(node, ir.Block):
        return f"{op}({', '.join(f'{k}={format_value(v)}' for k, v in args)})" if args else op
    parts = [op]
    if "kernel" in attrs:
        parts.append(_pair(attrs["kernel"]))
    if attrs.get("stride", (1, 1)) != (1, 1):
        parts.append(_pair(attrs["stride"], "s"))
    if attrs.get("dilation", (1, 1)) != (1, 1):
        parts.append(_pair(attrs["dilation"], "d"))
    if attrs.get("groups", 1) > 1:
        parts.append(f"g{attrs['groups']}")
    t = type(node)
    if t is ir.IGC:
        parts.append(f"M{node.M} L{node.L}")
    elif t is ir.SE:
        parts.append(str(node.squeeze))
    elif t is ir.AdaptivePool:
        parts.append(_pair(node.size))
    elif t is ir.Split:
        parts.append("+".join(map(str, node.sizes)))
    elif t is ir.Seq and not ir.children(node):
        parts.append("(identity)")
    return " ".join(parts)


def opened(n: CostNode, depth: int | None) -> bool:
    """Whether `n`'s children are shown at `depth`: always a composite's (they are at its
    level), a block's when the level below it is within `depth`."""
    return depth is None or n.kind == "composite" or n.level < depth


def rows(tree: tuple[CostNode, ...], depth: int | None = None) -> list[CostNode]:
    """The nodes in execution order (a parent before its children), down to `depth` levels
    of block calls (0: none)."""
    out: list[CostNode] = []

    def visit(nodes: tuple[CostNode, ...]) -> None:
        for n in nodes:
            out.append(n)
            if opened(n, depth):
                visit(n.children)

    if depth is None or depth > 0:
        visit(tree)
    return out


def tree_depth(tree: tuple[CostNode, ...]) -> int:
    """The level of the deepest node, what `--depth` counts (0 for an empty network)."""
    return max((max(n.level, tree_depth(n.children)) for n in tree), default=0)


def _iter_all(tree: tuple[CostNode, ...]) -> Iterator[CostNode]:
    for n in tree:
        yield n
        yield from _iter_all(n.children)


# ---- JSON ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Table):
        return {format_value(k): _plain(v) for k, v in value.items}
    return value


def _share(macs: int, total: int) -> float:
    return macs / total if total else 0.0


def _fields(n: CostNode, total_macs: int) -> dict[str, Any]:
    """The fields every row gained with the tree: where it sits and what its op reads."""
    item: dict[str, Any] = {
        "path": n.path,
        "depth": n.depth,
        "label": n.label,
        "input": n.input.as_list(),
    }
    item.update((k, _plain(v)) for k, v in n.attrs)
    if n.args:
        item["args"] = {k: _plain(v) for k, v in n.args}
    item["macs_share"] = _share(n.macs, total_macs)
    return item


def _row(n: CostNode, total_macs: int, **extra: Any) -> dict[str, Any]:
    """One `layers`/`blocks` entry: the schema's original keys first, then the new ones."""
    item = {
        "name": n.name,
        "op": n.op,
        "output": n.output.as_list(),
        "params": n.params,
        "macs": n.macs,
        **extra,
    }
    if n.dense_ratio is not None:
        item["dense_ratio"] = n.dense_ratio
    item.update(_fields(n, total_macs))
    return item


def _tree_dict(n: CostNode, total_macs: int, depth: int | None) -> dict[str, Any]:
    item = {
        "name": n.name,
        "kind": n.kind,
        "op": n.op,
        "output": n.output.as_list(),
        "params": n.params,
        "macs": n.macs,
        "activations": n.activations,
    }
    if n.dense_ratio is not None:
        item["dense_ratio"] = n.dense_ratio
    item.update(_fields(n, total_macs))
    if n.children:
        if opened(n, depth):
            item["children"] = [_tree_dict(c, total_macs, depth) for c in n.children]
        else:
            item["folded"] = True
    return item


def to_dict(net: Network, depth: int | None = None) -> dict[str, Any]:
    """The JSON report; `depth` folds `tree` only (`layers` and `blocks` are always whole)."""
    c = net.cost
    tree = cost_tree(net)
    every = list(_iter_all(tree))
    layers = [_row(n, c.macs, activations=n.activations) for n in every if n.kind == "layer"]
    blocks = [_row(n, c.macs) for n in every if n.kind == "block"]
    return {
        "schema": SCHEMA,
        "network": net.name,
        "parameters": {k: _plain(v) for k, v in net.params.items()},
        "input": net.input_shape.as_list(),
        "output": net.output_shape.as_list(),
        "params": c.params,
        "macs": c.macs,
        "flops": c.flops,
        "memory": {
            "params_bytes": c.params * BYTES_FP32,
            "activations": c.activations,
            "activation_bytes": c.activations * BYTES_FP32,
            "peak_activations": c.peak_activations,
            "peak_activation_bytes": c.peak_activations * BYTES_FP32,
        },
        "layers": layers,
        "blocks": blocks,
        "tree": [_tree_dict(n, c.macs, depth) for n in tree] if depth != 0 else [],
    }


def to_json(net: Network, depth: int | None = None) -> str:
    """`to_dict` as indented JSON text, what `specgen cost --format json` prints."""
    return json.dumps(to_dict(net, depth), indent=2) + "\n"


# ---- CSV -------------------------------------------------------------------------------------

# A spreadsheet evaluates a cell that starts with one of these (=, +, -, @, and tab or carriage
# return, which some strip first): OWASP's CSV-injection rule is to start such a text cell
# with a single quote, which the spreadsheet shows as text and does not display.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str) -> str:
    """A text cell made inert for spreadsheets (`=cmd()` → `'=cmd()`); numbers are written
    as numbers and never pass through here."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(net: Network, depth: int | None = None) -> str:
    """One row per node shown at `depth` (header first, no total row: the depth-1 rows add up
    to it); pairs and shapes are written `3x3` and `24x56x56`."""
    total = net.cost.macs
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for n in rows(cost_tree(net), depth):
        attrs = dict(n.attrs)
        pairs = {k: _pair(attrs[k]) if k in attrs else "" for k in ("kernel", "stride")}
        writer.writerow(
            [
                csv_text(n.path),
                n.depth,
                csv_text(n.name),
                csv_text(n.kind),
                csv_text(n.op),
                csv_text(n.label),
                pairs["kernel"],
                pairs["stride"],
                _pair(attrs["dilation"]) if "dilation" in attrs else "",
                attrs.get("groups", ""),
                csv_text(str(n.input)),
                csv_text(str(n.output)),
                n.params,
                n.macs,
                repr(_share(n.macs, total)),
                n.activations,
                "" if n.dense_ratio is None else repr(n.dense_ratio),
            ]
        )
    return buf.getvalue()


# ---- tables for people ------------------------------------------------------------------------

HEADER = ("name", "op", "input", "output", "params", "MACs", "MACs %", "vs dense")
RIGHT = (False, False, True, True, True, True, True, True)
DENSE, OP = HEADER.index("vs dense"), HEADER.index("op")


def _percent(macs: int, total: int) -> str:
    if not macs:
        return ""
    share = 100 * _share(macs, total)
    return "<0.1%" if share < 0.05 else f"{share:.1f}%"


def _cells(n: CostNode, total: int, indent: str = INDENT) -> tuple[str, ...]:
    return (
        indent * (n.depth - 1) + n.local,
        n.label,
        str(n.input),
        str(n.output),
        f"{n.params:,}",
        f"{n.macs:,}",
        _percent(n.macs, total),
        "" if n.dense_ratio is None else f"{n.dense_ratio:.4f}",
    )


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


def _title(net: Network) -> str:
    args = ", ".join(f"{k}={format_value(v)}" for k, v in net.params.items())
    return f"{net.name}({args})  input {net.input_shape}  output {net.output_shape}"


def _summary(net: Network) -> list[str]:
    c = net.cost
    return [
        f"params {c.params:,} ({_mb(c.params * BYTES_FP32)} fp32)   MACs {c.macs:,}   "
        f"FLOPs {c.flops:,} (2·MACs)",
        f"activations {c.activations:,} ({_mb(c.activations * BYTES_FP32)} fp32, batch 1)   "
        f"peak layer in+out {c.peak_activations:,}",
    ]


def _folding_note(depth: int | None, deepest: int) -> list[str]:
    if depth is None or depth >= deepest:
        return []
    if depth == 0:
        return [f"depth 0 of {deepest}: the totals only"]
    return [
        f"depth {depth} of {deepest}: block calls nested deeper are folded into their rows' "
        "totals"
    ]


def _total(net: Network) -> tuple[str, ...]:
    c = net.cost
    share = "100.0%" if c.macs else ""
    return (
        "total",
        "",
        str(net.input_shape),
        str(net.output_shape),
        f"{c.params:,}",
        f"{c.macs:,}",
        share,
        "",
    )


def _columns(body: list[tuple[str, ...]]) -> list[int]:
    """The columns to show: all but `vs dense` when no row shown has a dense ratio."""
    return [i for i in range(len(HEADER)) if i != DENSE or any(r[DENSE] for r in body)]


def _pick(cells: tuple[str, ...], keep: list[int]) -> tuple[str, ...]:
    return tuple(cells[i] for i in keep)


def to_table(
    net: Network,
    blocks: bool = False,
    depth: int | None = None,
    color: bool = False,
    width: int | None = None,
) -> str:
    """The cost tree as an aligned table down to `depth` (`blocks=True`: depth 1), then the
    totals; `color=True` renders it with `rich` (plain text when rich is not installed),
    fitted to `width` columns when given."""
    if blocks and depth is None:
        depth = 1
    tree = cost_tree(net)
    shown = rows(tree, depth)
    body = [_cells(n, net.cost.macs) for n in shown]
    keep = _columns(body)
    notes = _folding_note(depth, tree_depth(tree)) + _summary(net)
    if color:
        try:
            return _rich_table(net, shown, body, keep, notes, width)
        except ImportError:
            pass
    header, total = _pick(HEADER, keep), _pick(_total(net), keep)
    body = [_pick(r, keep) for r in body]
    right = _pick(RIGHT, keep)
    widths = [max(len(r[i]) for r in [header, *body, total]) for i in range(len(keep))]

    def line(r: tuple[str, ...]) -> str:
        cells = [
            c.rjust(w) if rj else c.ljust(w) for c, w, rj in zip(r, widths, right, strict=True)
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(header))
    shown_rows = [*map(line, body), rule] if body else []  # --depth 0: the totals alone
    out = [_title(net), "", line(header), rule, *shown_rows, line(total), ""]
    return "\n".join(out + notes) + "\n"


STYLES = {"block": "bold cyan", "composite": "magenta", "layer": ""}


def _share_style(macs: int, total: int) -> str:
    share = _share(macs, total)
    return "bold red" if share >= 0.10 else "yellow" if share >= 0.02 else "dim"


def _rich_table(
    net: Network,
    shown: list[CostNode],
    body: list[tuple[str, ...]],
    keep: list[int],
    notes: list[str],
    width: int | None,
) -> str:
    """The same table in colour: blocks cyan, composites magenta, heavy MACs shares red."""
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    table = RichTable(
        box=box.HORIZONTALS,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        header_style="bold",
    )
    total = _total(net)
    widths = {i: max(len(r[i]) for r in [HEADER, *body, total]) for i in keep}
    needed = sum(widths.values()) + 2 * (len(keep) - 1)
    if width is not None and needed > width and OP in keep:
        # only `op` gives way, and it wraps rather than being cut: a cut number misleads,
        # and a cut call hides the arguments that tell two calls apart
        widths[OP] = max(12, widths[OP] - (needed - width))
        needed = sum(widths.values()) + 2 * (len(keep) - 1)
    for i in keep:
        wraps = i == OP
        table.add_column(
            HEADER[i],
            justify="right" if RIGHT[i] else "left",
            no_wrap=not wraps,
            overflow="fold" if wraps else "ellipsis",
            min_width=widths[i],
            max_width=widths[i] if wraps else None,
        )
    total_macs = net.cost.macs
    for row, (n, cells) in enumerate(zip(shown, body, strict=True)):
        styles = (
            STYLES[n.kind],
            "dim" if n.kind == "composite" else "",
            "dim",
            "",
            "",
            "",
            _share_style(n.macs, total_macs),
            "green",
        )
        table.add_row(
            *(Text(cells[i], style=styles[i]) for i in keep), end_section=row == len(body) - 1
        )
    table.add_row(*(Text(c, style="bold") for c in _pick(total, keep)))
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=max(width or 0, needed, len(_title(net))),  # wider than a terminal: it wraps
        force_terminal=True,
        color_system="standard",
        no_color=False,
        highlight=False,
        markup=False,
        emoji=False,
    )
    console.print(Text(_title(net), style="bold"))
    console.print()
    console.print(table)
    console.print()
    for note in notes:
        console.print(Text(note), soft_wrap=True)
    return buf.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(net: Network, depth: int | None = None) -> str:
    """A GitHub table: the tree indented with em spaces (`&emsp;`), then the totals."""
    tree = cost_tree(net)
    total = net.cost.macs
    body = [_cells(n, total, indent="&emsp;") for n in rows(tree, depth)]
    keep = _columns(body)
    total_row = tuple(f"**{c}**" if c else "" for c in _pick(_total(net), keep))
    align = tuple("---:" if RIGHT[i] else ":---" for i in keep)

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(_md(c) for c in cells) + " |"

    out = [f"**{_md(_title(net))}**", "", line(_pick(HEADER, keep)), line(align)]
    out += [line(_pick(r, keep)) for r in body] + [line(total_row), ""]
    notes = _folding_note(depth, tree_depth(tree)) + _summary(net)
    return "\n".join(out + [n + "  " for n in notes[:-1]] + notes[-1:]) + "\n"


# ---- choosing -------------------------------------------------------------------------------


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
) -> str:
    """The report in `fmt` (one of FORMATS), down to `depth`; `color` (a COLORS mode, or a
    bool) applies to the table only and is decided for `stream`, where the text will go."""
    if fmt == "json":
        return to_json(net, depth)
    if fmt == "csv":
        return to_csv(net, depth)
    if fmt == "markdown":
        return to_markdown(net, depth)
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    colored = use_color(color, stream)
    width = terminal_width(stream) if colored and _isatty(stream) else None
    return to_table(net, depth=depth, color=colored, width=width)
