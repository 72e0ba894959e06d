"""The cost tree: the network as a tree of layers, block calls and composites, each row
carrying the totals of everything below it, and the rows shown when it is folded at a depth.

The tree mirrors the spec: the network's own statements are depth 1, a block call's or a
composite's statements one deeper.  Every row carries the totals of everything below it, so
folding the tree at any depth (`--depth N`) loses no cost, and the rows that are shown with
nothing shown below them always add up to the network's totals.

`--depth N` counts block calls, not composites: a row's `level` is 1 for the network's own
statements and one more inside each block call (or `sepconv`), while a composite's statements
(`residual`, `concat`, ...) stay at the composite's level.  So a composite is never shown
folded (it would only repeat its block's numbers), `--depth N` shows what `graph --depth N-1`
draws, and `--depth 0` shows the totals alone.

What a layer shows of itself (its window and groups, the words after them) comes from its
kind in the layer registry (`LayerKind.attrs`, `LayerKind.brief`); what a composite shows is
decided here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ... import ir
from ...compiler import Network
from ...layers import KINDS
from ...passes.cost import Totals, dense_ratio, leaf_cost, totals
from ...passes.latency import Prediction
from ...passes.traffic import BYTES, own_traffic
from ...values import format_value


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
    traffic: int  # bytes read and written by the layers and merges inside (passes.traffic)
    dense_ratio: float | None
    attrs: tuple[tuple[str, Any], ...]  # kernel, stride, dilation, groups where they apply
    args: tuple[tuple[str, Any], ...]  # a block call's arguments
    children: tuple[CostNode, ...]
    # predicted milliseconds of everything inside (`cost --latency`), else None; a layer a
    # runtime fuses into the layer before it shows 0 and `fused` names that layer
    latency_ms: float | None = None
    fused: str | None = None


def cost_tree(net: Network, latency: Prediction | None = None) -> tuple[CostNode, ...]:
    """The network's statements as CostNodes (depth 1), each with its subtree; with a
    latency prediction (`passes.latency`), each row's predicted milliseconds."""
    nodes = _nodes(net.ir.body, "", "", 1, 1, {})
    return nodes if latency is None else tuple(_timed(n, latency) for n in nodes)


def _timed(n: CostNode, latency: Prediction) -> CostNode:
    """`n` with its predicted latency: its own (a layer's unit, a composite's merge) plus
    its children's."""
    children = tuple(_timed(c, latency) for c in n.children)
    own = latency.own.get(n.path, 0.0)
    total = own + sum(c.latency_ms or 0.0 for c in children)
    return replace(n, children=children, latency_ms=total, fused=latency.fused.get(n.path))


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
        moved = BYTES * sum(own_traffic(node)) + sum(c.traffic for c in children)
    else:
        params, macs = leaf_cost(node)
        activations, kind, children = node.out_shape.numel, "layer", ()
        moved = BYTES * sum(own_traffic(node))
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
        traffic=moved,
        dense_ratio=dense_ratio(node),
        attrs=attrs,
        args=args,
        children=children,
    )


def _attrs(node: ir.Node) -> tuple[tuple[str, Any], ...]:
    """Kernel, stride, dilation and groups of the layers that have them (a sepconv: its dw)."""
    if type(node) is ir.SepConv:  # its dw's window (the groups are the dw's own: see its row)
        dw = next(n for _, n in node.body.children if isinstance(n, ir.Conv))
        return (("kernel", dw.kernel), ("stride", dw.stride), ("dilation", dw.dilation))
    kind = KINDS.get(type(node))
    return kind.attrs(node) if kind is not None else ()


def pair(p: tuple[int, int], prefix: str = "") -> str:
    """`3x3`; with a prefix, `s2` for a square pair and `s2x1` otherwise."""
    if prefix and p[0] == p[1]:
        return f"{prefix}{p[0]}"
    return f"{prefix}{p[0]}x{p[1]}"


def _label(
    node: ir.Node, op: str, attrs: Mapping[str, Any], args: tuple[tuple[str, Any], ...]
) -> str:
    """What the table's op column shows: `conv 1x1 g3`, `maxpool 3x3 s2`, `unit(g=3)`."""
    if isinstance(node, ir.Block):
        return f"{op}({', '.join(f'{k}={format_value(v)}' for k, v in args)})" if args else op
    parts = [op]
    if "kernel" in attrs:
        parts.append(pair(attrs["kernel"]))
    if attrs.get("stride", (1, 1)) != (1, 1):
        parts.append(pair(attrs["stride"], "s"))
    if attrs.get("dilation", (1, 1)) != (1, 1):
        parts.append(pair(attrs["dilation"], "d"))
    if attrs.get("groups", 1) > 1:
        parts.append(f"g{attrs['groups']}")
    kind = KINDS.get(type(node))
    if kind is not None:
        parts.extend(kind.brief(node))
    elif type(node) is ir.Split:
        parts.append("+".join(map(str, node.sizes)))
    elif type(node) is ir.Seq and not ir.children(node):
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


def every_node(tree: tuple[CostNode, ...]) -> Iterator[CostNode]:
    """Every node of the tree, folded or not, a parent before its children."""
    for n in tree:
        yield n
        yield from every_node(n.children)


def share(macs: int, total: int) -> float:
    """`macs` as a fraction of `total` (0 for a network without MACs)."""
    return macs / total if total else 0.0
