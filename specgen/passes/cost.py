"""Pass 4 — cost: exact params, MACs and activation memory (the conventions of docs/cost.md).

- params: trainable parameters as PyTorch counts them (BatchNorm 2·C, PReLU C; no running stats);
- macs: multiply-adds of convolutions (those inside `se` too) and linear layers only;
  flops = 2·macs;
- activations: elements of a layer's output (batch 1); the total is their sum, the peak the
  largest input + output of any one layer.

Totals are computed with memoization over shared block instantiations, so a search loop that
only reads `params` and `macs` pays for each distinct block once; the per-layer table is built
on first access.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .. import ir
from ..layers.registry import LAYER_KINDS
from .traffic import BYTES, own_traffic, traffic_bytes


@dataclass(frozen=True, slots=True)
class LayerCost:
    name: str
    op: str
    output: ir.Shape
    params: int
    macs: int
    activations: int
    dense_ratio: float | None  # weights ÷ those of the dense equivalent (group/dw/igc/gdc)
    traffic: int = 0  # bytes read and written (passes.traffic)


@dataclass(frozen=True, slots=True)
class BlockCost:
    name: str
    op: str
    output: ir.Shape
    params: int
    macs: int
    dense_ratio: float | None  # sepconv: 1/Cout + 1/k²


# IR node type -> (params, MACs) of one such layer (docs/cost.md); each layer kind says its own
_COST = {kind.node: kind.cost for kind in LAYER_KINDS}
_DENSE = {kind.node: kind.dense_ratio for kind in LAYER_KINDS}


def leaf_cost(node: ir.Node) -> tuple[int, int]:
    """(params, macs) of one layer; (0, 0) for a composite, whose cost is its children's."""
    cost = _COST.get(type(node))
    return (0, 0) if cost is None else cost(node)


def dense_ratio(node: ir.Node) -> float | None:
    """Weights relative to the dense convolution with the same input, output and kernel."""
    ratio = _DENSE.get(type(node))
    return None if ratio is None else ratio(node)


Totals = tuple[int, int, int, int]  # params, macs, activations, peak activations


def totals(node: ir.Node, memo: dict[int, Totals]) -> Totals:
    """Summed cost of `node`, memoized by node identity (shared blocks are counted once)."""
    get = ir.CHILDREN.get(type(node))
    if get is None:
        return _leaf_totals(node)
    key = id(node)
    found = memo.get(key)
    if found is not None:
        return found
    t = type(node)
    if t is ir.Block:
        found = node.derived.get("totals")
        if found is not None:
            return found
    params = macs = acts = peak = 0
    for _, child in get(node):
        if type(child) in ir.CHILDREN:
            p, m, a, k = totals(child, memo)
        else:  # _leaf_totals(child), inline: this loop runs once per layer of every compile
            p, m = _COST[type(child)](child)  # leaf_cost(child): every leaf has a kind
            o, i = child.out_shape, child.in_shape
            a = o.c * o.h * o.w
            k = a + i.c * i.h * i.w
        params += p
        macs += m
        acts += a
        if k > peak:
            peak = k
    result = (params, macs, acts, peak)
    memo[key] = result
    if t is ir.Block:
        node.derived["totals"] = result
    return result


def _leaf_totals(node: ir.Node) -> Totals:
    params, macs = leaf_cost(node)
    o, i = node.out_shape, node.in_shape
    out = o.c * o.h * o.w
    return params, macs, out, out + i.c * i.h * i.w


class Cost:
    """The cost report of one network: totals at once, per-layer rows on demand."""

    def __init__(self, net: ir.Network, memo: dict[int, Totals] | None = None):
        self._net = net
        self._memo = {} if memo is None else memo
        self.params, self.macs, self.activations, self.peak_activations = totals(
            net.body, self._memo
        )

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @functools.cached_property
    def traffic(self) -> int:
        """Bytes every layer reads and writes (inputs, outputs, weights; `passes.traffic`)."""
        return traffic_bytes(self._net.body)

    @functools.cached_property
    def layers(self) -> list[LayerCost]:
        """One row per layer, named by its path (`unit1.conv1`)."""
        rows: list[LayerCost] = []
        for name, node in walk(self._net.body):
            if not ir.children(node):
                params, macs = leaf_cost(node)
                rows.append(
                    LayerCost(
                        name,
                        node.op,
                        node.out_shape,
                        params,
                        macs,
                        node.out_shape.numel,
                        dense_ratio(node),
                        BYTES * sum(own_traffic(node)),
                    )
                )
        return rows

    @functools.cached_property
    def blocks(self) -> list[BlockCost]:
        """One row per block instantiation and sepconv: the modules of the generated code."""
        rows: list[BlockCost] = []
        for name, node in walk(self._net.body):
            if ir.children(node):
                params, macs, _, _ = totals(node, self._memo)
                rows.append(
                    BlockCost(name, node.op, node.out_shape, params, macs, dense_ratio(node))
                )
        return rows


def walk(node: ir.Node, prefix: str = ""):
    """(path, node) for every layer, block and sepconv below `node`, in execution order.

    Paths are module paths (`unit1.conv1`): composites such as residual or concat are not
    modules, so they add nothing to the path and are not listed themselves.
    """
    for name, child in ir.children(node):
        if isinstance(child, ir.TRANSPARENT):
            yield from walk(child, prefix)
            continue
        path = f"{prefix}.{name}" if prefix else name
        yield path, child
        yield from walk(child, path)
