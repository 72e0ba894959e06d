"""The cost report for people: an aligned text table of the cost tree, the same table in
colour with `rich` (when installed), and a GitHub markdown table."""

from __future__ import annotations

import io

from ...compiler import Network
from ...passes.latency import Prediction
from ...values import format_value
from .data import BYTES_FP32
from .tree import CostNode, cost_tree, rows, share, tree_depth

INDENT = "  "  # per level of the tree, in the name column

HEADER = ("name", "op", "input", "output", "params", "MACs", "MACs %", "traffic", "ms", "vs dense")
RIGHT = (False, False, True, True, True, True, True, True, True, True)
DENSE, OP, MS = HEADER.index("vs dense"), HEADER.index("op"), HEADER.index("ms")


def _percent(macs: int, total: int) -> str:
    if not macs:
        return ""
    percent = 100 * share(macs, total)
    return "<0.1%" if percent < 0.05 else f"{percent:.1f}%"


def _cells(n: CostNode, total: int, indent: str = INDENT) -> tuple[str, ...]:
    return (
        indent * (n.depth - 1) + n.local,
        n.label,
        str(n.input),
        str(n.output),
        f"{n.params:,}",
        f"{n.macs:,}",
        _percent(n.macs, total),
        _bytes(n.traffic),
        _ms(n),
        "" if n.dense_ratio is None else f"{n.dense_ratio:.4f}",
    )


def _ms(n: CostNode) -> str:
    """A row's predicted milliseconds; `fused` for a layer its unit's head carries."""
    if n.latency_ms is None:
        return ""
    return "fused" if n.fused is not None and not n.latency_ms else f"{n.latency_ms:.3f}"


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


def _bytes(n_bytes: int) -> str:
    """`1.2MiB`, `48.0KiB`, `0` (the traffic column: one word, like every other cell)."""
    if not n_bytes:
        return "0"
    if n_bytes < 2**20:
        return f"{n_bytes / 2**10:.1f}KiB"
    return f"{n_bytes / 2**20:.1f}MiB"


def _title(net: Network) -> str:
    args = ", ".join(f"{k}={format_value(v)}" for k, v in net.params.items())
    return f"{net.name}({args})  input {net.input_shape}  output {net.output_shape}"


def _summary(net: Network, latency: Prediction | None = None) -> list[str]:
    c = net.cost
    lines = [
        f"params {c.params:,} ({_mb(c.params * BYTES_FP32)} fp32)   MACs {c.macs:,}   "
        f"FLOPs {c.flops:,} (2·MACs)",
        f"activations {c.activations:,} ({_mb(c.activations * BYTES_FP32)} fp32, batch 1)   "
        f"peak layer in+out {c.peak_activations:,}",
        f"memory traffic {_mb(c.traffic)} (every layer's input, output and weights, fp32, "
        "batch 1)",
    ]
    if latency is not None:
        lines.append(
            f"latency {latency.total_ms:.3f} ms predicted by {latency.table} ({latency.run}): "
            f"the first unit + {latency.scale:.3f} × each later unit's time less the "
            f"{latency.call_ms:.4f} ms call + {latency.per_unit_ms:.4f} ms each"
        )
    return lines


def _folding_note(depth: int | None, deepest: int) -> list[str]:
    if depth is None or depth >= deepest:
        return []
    if depth == 0:
        return [f"depth 0 of {deepest}: the totals only"]
    return [
        f"depth {depth} of {deepest}: block calls nested deeper are folded into their rows' "
        "totals"
    ]


def _total(net: Network, latency: Prediction | None = None) -> tuple[str, ...]:
    c = net.cost
    whole = "100.0%" if c.macs else ""
    return (
        "total",
        "",
        str(net.input_shape),
        str(net.output_shape),
        f"{c.params:,}",
        f"{c.macs:,}",
        whole,
        _bytes(c.traffic),
        "" if latency is None else f"{latency.total_ms:.3f}",
        "",
    )


def _columns(body: list[tuple[str, ...]], latency: Prediction | None = None) -> list[int]:
    """The columns to show: all but `vs dense` when no row shown has a dense ratio, and `ms`
    with a latency prediction only."""
    return [
        i
        for i in range(len(HEADER))
        if (i != DENSE or any(r[DENSE] for r in body)) and (i != MS or latency is not None)
    ]


def _pick(cells: tuple[str, ...], keep: list[int]) -> tuple[str, ...]:
    return tuple(cells[i] for i in keep)


def to_table(
    net: Network,
    blocks: bool = False,
    depth: int | None = None,
    color: bool = False,
    width: int | None = None,
    latency: Prediction | None = None,
) -> str:
    """The cost tree as an aligned table down to `depth` (`blocks=True`: depth 1), then the
    totals; `color=True` renders it with `rich` (plain text when rich is not installed),
    fitted to `width` columns when given; `latency`: each row's predicted milliseconds."""
    if blocks and depth is None:
        depth = 1
    tree = cost_tree(net, latency)
    shown = rows(tree, depth)
    body = [_cells(n, net.cost.macs) for n in shown]
    keep = _columns(body, latency)
    notes = _folding_note(depth, tree_depth(tree)) + _summary(net, latency)
    if color:
        try:
            return _rich_table(net, shown, body, keep, notes, width, latency)
        except ImportError:
            pass
    header, total = _pick(HEADER, keep), _pick(_total(net, latency), keep)
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
    part = share(macs, total)
    return "bold red" if part >= 0.10 else "yellow" if part >= 0.02 else "dim"


def _rich_table(
    net: Network,
    shown: list[CostNode],
    body: list[tuple[str, ...]],
    keep: list[int],
    notes: list[str],
    width: int | None,
    latency: Prediction | None = None,
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
    total = _total(net, latency)
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
            "",
            "dim" if n.fused else "",
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


def to_markdown(net: Network, depth: int | None = None, latency: Prediction | None = None) -> str:
    """A GitHub table: the tree indented with em spaces (`&emsp;`), then the totals."""
    tree = cost_tree(net, latency)
    total = net.cost.macs
    body = [_cells(n, total, indent="&emsp;") for n in rows(tree, depth)]
    keep = _columns(body, latency)
    total_row = tuple(f"**{c}**" if c else "" for c in _pick(_total(net, latency), keep))
    align = tuple("---:" if RIGHT[i] else ":---" for i in keep)

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(_md(c) for c in cells) + " |"

    out = [f"**{_md(_title(net))}**", "", line(_pick(HEADER, keep)), line(align)]
    out += [line(_pick(r, keep)) for r in body] + [line(total_row), ""]
    notes = _folding_note(depth, tree_depth(tree)) + _summary(net, latency)
    return "\n".join(out + [n + "  " for n in notes[:-1]] + notes[-1:]) + "\n"
