"""The units a network runs as, for latency: each layer configuration that `specgen profile`
measures once and `cost --latency` looks up.

A unit is what a runtime executes as one piece, in execution order:

- a convolution, `igc`, `fc` or `linear`, with the BatchNorm and then the activation written
  right after it (the deploy form folds the BatchNorm and fuses a ReLU into the conv; eager
  PyTorch runs the three back to back);
- any other layer, alone;
- the merge of a composite: the sum of `residual`, `add` and `rep:`, the concatenation of
  `concat` and `split`.

Its `key` is the configuration in words: every field of every layer that can change the time
(op, input and output shape, kernel, stride, padding, dilation, groups, bias, activation
kind, ...), never where it was written, never the values a forward ignores (BatchNorm's
momentum and eps, a dropout rate).  Two layers with one key run the same kernels on the same
shapes, so they are measured once; the runtime, batch and layout are the table's, not the
key's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import ir

# layers that absorb the BatchNorm and activation written after them
HEADS = (ir.Conv, ir.IGC, ir.Linear, ir.PointLinear)
# fields that never change what a forward at inference computes or how long it takes
_IGNORED = frozenset({"src", "in_shape", "out_shape", "momentum", "eps", "init", "p"})
_MERGES = (ir.Residual, ir.Add, ir.Concat, ir.Split)


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece a runtime executes: layers (`nodes`, named as written) or a composite's
    merge (`merge`).  `path` is the cost tree's path of its first layer (or of the
    composite), `fused` the paths of the layers after it that it carries."""

    key: str
    path: str
    fused: tuple[str, ...]
    nodes: tuple[ir.Named, ...]
    merge: ir.Node | None = None
    first: bool = False  # it reads the network's input (in the layout the caller gives)

    @property
    def in_shapes(self) -> tuple[ir.Shape, ...]:
        """The shapes of the tensors it reads: one, or a merge's operands."""
        if self.merge is None:
            return (self.nodes[0][1].in_shape,)
        return merge_inputs(self.merge)

    @property
    def out_shape(self) -> ir.Shape:
        return self.merge.out_shape if self.merge is not None else self.nodes[-1][1].out_shape

    @property
    def label(self) -> str:
        """`conv 3x3 s2 + bn + relu6  3x224x224 -> 32x112x112`: the key for people."""
        if self.merge is None:
            head = " + ".join(_words(n) for _, n in self.nodes)
        else:
            head = self.key.partition("[")[0]  # add, concat
        ins = ", ".join(map(shape_key, self.in_shapes))
        return f"{head}  {ins} -> {shape_key(self.out_shape)}"


def shape_key(s: ir.Shape) -> str:
    """`32x56x56`; a flat vector `1000f`."""
    return f"{s.c}f" if s.flat else f"{s.c}x{s.h}x{s.w}"


def merge_inputs(node: ir.Node) -> tuple[ir.Shape, ...]:
    """The operands of a composite's merge: the branches' outputs (the input for an empty
    branch or the residual's identity shortcut)."""
    if type(node) is ir.Residual:
        return (node.out_shape, node.out_shape)
    return tuple(b.out_shape for _, b in node.branches)


def _value(v: object) -> str:
    if isinstance(v, tuple):
        return "x".join(map(_value, v))
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def node_key(node: ir.Node) -> str:
    """`conv(kind=dwconv,out=32,kernel=3x3,...)`: a layer's fields that change its time."""
    fields = (
        f"{f.name}={_value(getattr(node, f.name))}"
        for f in dataclasses.fields(node)
        if f.name not in _IGNORED
    )
    return f"{type(node).__name__.lower()}({','.join(fields)})"


def _words(node: ir.Node) -> str:
    from ..layers import KINDS

    kind = KINDS.get(type(node))
    if kind is not None:
        return kind.label(node).replace("×", "x")
    return node.op


def _merge_key(node: ir.Node) -> str:
    ins = ",".join(shape_key(s) for s in merge_inputs(node))
    op = "add" if type(node) in (ir.Residual, ir.Add) else "concat"
    return f"{op}[{ins}]"


# The first unit reads the network's input as the caller lays it out; every later one reads
# what the layer before it wrote (the deploy form's convolutions write channels_last maps on
# CPU), so the first is a configuration of its own.
FIRST = "input:"


def units(body: ir.Seq) -> tuple[Unit, ...]:
    """The units of a network's body, in execution order."""
    out: list[Unit] = []
    _collect(body, "", out)
    if out:
        u = out[0]
        out[0] = Unit(FIRST + u.key, u.path, u.fused, u.nodes, u.merge, True)
    return tuple(out)


def network_keys(body: ir.Seq) -> tuple[str, ...]:
    """The keys of a network's units (`units(body)`'s), fast: what a latency total needs."""
    keys = unit_keys(body)
    return (FIRST + keys[0], *keys[1:]) if keys else keys


def unit_keys(node: ir.Node) -> tuple[str, ...]:
    """The keys of `node`'s units, in order, kept on each block instantiation (a search
    compiles the same blocks over and over)."""
    if type(node) is ir.Block:
        found = node.derived.get("unit_keys")
        if found is None:
            found = node.derived["unit_keys"] = _keys(node)
        return found
    return _keys(node)


def _keys(parent: ir.Node) -> tuple[str, ...]:
    out: list[str] = []
    kids = ir.children(parent)
    i, n = 0, len(kids)
    while i < n:
        node = kids[i][1]
        if type(node) in ir.CHILDREN:
            out.extend(unit_keys(node))
            if type(node) in _MERGES:
                out.append(_merge_key(node))
            i += 1
            continue
        j = _group_end(kids, i)
        out.append(_key(kids[i:j]))
        i = j
    return tuple(out)


def _group_end(kids: tuple[ir.Named, ...], i: int) -> int:
    """The index after the unit that starts at kids[i]: a head takes the BatchNorm and then
    the activation after it."""
    node = kids[i][1]
    i += 1
    if type(node) in HEADS:
        if i < len(kids) and type(kids[i][1]) is ir.BatchNorm:
            i += 1
        if i < len(kids) and type(kids[i][1]) is ir.Act:
            i += 1
    return i


def _key(group: tuple[ir.Named, ...]) -> str:
    first, last = group[0][1], group[-1][1]
    shapes = f"{shape_key(first.in_shape)}>{shape_key(last.out_shape)}"
    return "+".join(node_key(n) for _, n in group) + "@" + shapes


def _collect(parent: ir.Node, tree: str, out: list[Unit]) -> None:
    kids = ir.children(parent)
    i = 0
    while i < len(kids):
        local, node = kids[i]
        path = f"{tree}/{local}" if tree else local
        i += 1
        if type(node) in ir.CHILDREN:
            _collect(node, path, out)
            if type(node) in _MERGES:
                out.append(Unit(_merge_key(node), path, (), (), node))
            continue
        j = _group_end(kids, i - 1)
        group = kids[i - 1 : j]
        i = j
        fused = tuple(f"{tree}/{name}" if tree else name for name, _ in group[1:])
        out.append(Unit(_key(group), path, fused, group))
