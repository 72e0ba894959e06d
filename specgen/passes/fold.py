"""The deploy form of a network: every BatchNorm and layer scale folded into the convolution
(or fully connected layer) right before it, and every `rep:` merged into one conv
(`layers.reparam`).

In eval mode a BatchNorm is an affine map per channel, y = (x - mean) / sqrt(var + eps) * gamma
+ beta, so a conv followed by it equals one conv with scaled weights and a bias
(W' = W * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps)), the re-parameterisation
deployment code does by hand (ultralytics' `fuse()`, RepVGG).  `fold` is a pure IR pass: the
folded network keeps every other layer and every name, so its state_dict is the eager one's
without the BatchNorm entries and with a bias on each folded conv (`specgen cost --deploy`,
`specgen build --deploy`).  A BatchNorm after an `igc` folds into its secondary conv (through
the final permutation, `targets.deploy`); one after a residual sum or an activation stays.
Part of the core: no framework import.
"""

from __future__ import annotations

import dataclasses

from .. import ir
from ..layers import reparam
from .constraints import layer_count

_WEIGHTED = (ir.Conv, ir.Linear, ir.PointLinear, ir.IGC)
_EAGER = (ir.Conv, ir.Linear)  # what the generated modules' fold_batchnorms folds in place


def foldable(prev: ir.Node, node: ir.Node) -> bool:
    """Whether `node` is a BatchNorm or a layer scale that can be folded into `prev`, the
    layer before it (a conv, `fc`, `linear` or `igc`, whose secondary conv takes it through
    the final channel permutation; a `rep:`, which becomes a conv)."""
    if type(node) not in (ir.BatchNorm, ir.LayerScale):
        return False
    return type(prev) in _WEIGHTED or (type(prev) is ir.Add and prev.rep)


def fold(net: ir.Network) -> ir.Network:
    """`net` with every conv-BatchNorm (and fc-BatchNorm) pair folded into one layer."""
    memo: dict[int, ir.Node] = {}
    return dataclasses.replace(net, body=_seq(net.body, memo), deploy=True)


def pairs(seq: ir.Seq, eager: bool = False) -> list[tuple[str, str]]:
    """(layer, BatchNorm or layer scale) names of the pairs `fold` folds in one body (not
    below it); `eager`: only the conv/fc-BatchNorm pairs an eager model folds in place."""
    kids = seq.children
    return [
        (kids[i][0], kids[i + 1][0])
        for i in range(len(kids) - 1)
        if foldable(kids[i][1], kids[i + 1][1])
        and (not eager or (type(kids[i + 1][1]) is ir.BatchNorm and type(kids[i][1]) in _EAGER))
    ]


def _seq(seq: ir.Seq, memo: dict[int, ir.Node]) -> ir.Seq:
    out: list[ir.Named] = []
    loops: list = []
    kids = seq.children
    i = 0
    while i < len(kids):
        name, node = kids[i]
        if i + 1 < len(kids) and foldable(node, kids[i + 1][1]):
            layer = _node(node, memo)  # a `rep:`'s conv
            if type(kids[i + 1][1]) is ir.BatchNorm:
                layer = dataclasses.replace(layer, bias=True)
            out.append((name, layer))
            if seq.loops:
                loops.append(seq.loops[i])
            i += 2
            continue
        out.append((name, _node(node, memo)))
        if seq.loops:
            loops.append(seq.loops[i])
        i += 1
    return dataclasses.replace(seq, children=tuple(out), loops=tuple(loops))


def _node(node: ir.Node, memo: dict[int, ir.Node]) -> ir.Node:
    t = type(node)
    if t is ir.Add and node.rep:
        return reparam.merged(node)
    if t not in ir.CHILDREN:
        return node
    key = id(node)
    if key in memo:  # a shared block instantiation stays shared
        return memo[key]
    if t is ir.Seq:
        new: ir.Node = _seq(node, memo)
    elif t is ir.Block:
        # kept on the instantiation, which compiles share: a search that reads the deploy
        # form (a latency table of the deploy runtime) folds each distinct block once, and
        # the folded block keeps its own derived values (cost, unit keys) across compiles
        found = node.derived.get("folded")
        if found is not None:
            memo[key] = found
            return found
        body = _seq(node.body, memo)
        new = dataclasses.replace(node, body=body, layer_count=layer_count(body), derived={})
        node.derived["folded"] = new
    elif t is ir.SepConv:
        new = dataclasses.replace(node, body=_seq(node.body, memo))
    elif t is ir.Residual:
        short = None if node.shortcut is None else _seq(node.shortcut, memo)
        new = dataclasses.replace(node, body=_seq(node.body, memo), shortcut=short)
    else:  # Add, Concat, Split: named branches
        branches = tuple((n, _node(b, memo)) for n, b in node.branches)
        new = dataclasses.replace(node, branches=branches)
    memo[key] = new
    return new


def folded_paths(net: ir.Network) -> list[tuple[str, str]]:
    """Module paths (`unit1.conv1`, `unit1.bn1`) of every pair `fold` folds, as the
    generated modules name them: blocks and sepconvs are modules, composites are not."""
    return _paths(net.body, "", into_blocks=True)


def merged_reps(net: ir.Network) -> list[tuple[str, ir.Add, str]]:
    """(path prefix, `rep:` node, its name) of every `rep:` the deploy form merges: its
    conv is `prefix + name`, its branches' layers `prefix + branch name`."""
    out: list[tuple[str, ir.Add, str]] = []

    def walk(n: ir.Node, name: str, prefix: str) -> None:
        t = type(n)
        if t is ir.Add and n.rep:
            out.append((prefix, n, name))
        elif t is ir.SepConv or t is ir.Block:
            for child_name, child in n.body.children:
                walk(child, child_name, f"{prefix}{name}.")
        else:
            for child_name, child in ir.children(n):
                walk(child, child_name, prefix)

    for child_name, child in net.body.children:
        walk(child, child_name, "")
    return out


def own_pairs(body: ir.Seq) -> list[tuple[str, str]]:
    """The pairs one generated class folds itself (`fold_batchnorms`): those of its body and
    its sepconvs, paths relative to the class; each block called in it folds its own."""
    return _paths(body, "", into_blocks=False)


def _paths(body: ir.Seq, start: str, into_blocks: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    eager = not into_blocks

    def seq(s: ir.Seq, prefix: str) -> None:
        for a, b in pairs(s, eager):
            out.append((prefix + a, prefix + b))
        for name, child in s.children:
            node(child, name, prefix)

    def node(n: ir.Node, name: str, prefix: str) -> None:
        t = type(n)
        if t is ir.Seq:
            seq(n, prefix)
        elif t is ir.SepConv or (t is ir.Block and into_blocks):
            seq(n.body, f"{prefix}{name}.")
        elif t is ir.Residual:
            seq(n.body, prefix)
            if n.shortcut is not None:
                seq(n.shortcut, prefix)
        elif t in (ir.Add, ir.Concat, ir.Split) and not (t is ir.Add and n.rep and not eager):
            for bname, b in n.branches:  # (a `rep:`'s own pairs merge with it, deployed)
                node(b, bname, prefix)

    seq(body, start)
    return out
