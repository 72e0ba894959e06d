"""Memory traffic: the bytes a layer reads and writes in one inference forward at batch 1,
ShuffleNet V2's memory access cost (Ma et al. 2018, section 2) generalised to every op.

ShuffleNet V2 counts a 1×1 convolution's `h·w·(c1 + c2) + c1·c2`: its input, its output and
its weights, each moved once.  Here every layer is counted that way (docs/cost.md):

- reads: the input map, plus every tensor the layer holds (weights, biases, BatchNorm's
  running statistics: what inference reads), writes: the output map;
- views move nothing: `flatten`, `slice`, `identity`, `dropout` and `droppath` (identities
  at inference) are 0;
- `se` reads its input twice (the average, then the scale);
- the sums of `residual`, `add` and `rep:` read each operand and write the sum; `concat` and
  `split` read the branches' outputs and write the concatenation (the split itself is views).

Elements are fp32: 4 bytes each.  Like the other costs this is a count over the IR, with no
fusion: a BatchNorm the deploy form folds is gone from `--deploy`'s count, and an activation
a runtime fuses into its conv is still counted.
"""

from __future__ import annotations

from .. import ir
from ..layers.registry import LAYER_KINDS

BYTES = 4  # fp32

Traffic = tuple[int, int]  # elements read, elements written

_VIEWS = (ir.Flatten, ir.ChannelSlice, ir.Identity, ir.Dropout, ir.DropPath)
_PARAMS = {kind.node: kind.cost for kind in LAYER_KINDS}  # (params, MACs) of a layer


def buffers(node: ir.Node) -> int:
    """Elements a layer holds besides its parameters that inference reads (BatchNorm's
    running mean and variance)."""
    return 2 * node.out_shape.c if type(node) is ir.BatchNorm else 0


def own_traffic(node: ir.Node) -> Traffic:
    """(read, written) elements of `node` itself: a layer's whole traffic, a composite's
    merge (its sum or concatenation), 0 for a block or `sepconv` (all in its children)."""
    t = type(node)
    if t in _VIEWS:
        return 0, 0
    out = node.out_shape.numel
    if t is ir.Residual:
        return 2 * out, out
    if t is ir.Add:
        return len(node.branches) * out, out
    if t is ir.Concat or t is ir.Split:
        return out, out
    if t in ir.CHILDREN:  # Seq, Block, SepConv: their layers move the data
        return 0, 0
    held = _PARAMS[t](node)[0] + buffers(node)
    reads = node.in_shape.numel * (2 if t is ir.SE else 1)
    return reads + held, out


def traffic(node: ir.Node, memo: dict[int, Traffic]) -> Traffic:
    """(read, written) elements of `node` and everything below it, memoized by identity (a
    block instantiation shared by several calls is counted once per call, computed once)."""
    get = ir.CHILDREN.get(type(node))
    if get is None:
        return own_traffic(node)
    key = id(node)
    found = memo.get(key)
    if found is None and type(node) is ir.Block:
        found = node.derived.get("traffic")
    if found is not None:
        return found
    reads, writes = own_traffic(node)
    for _, child in get(node):
        r, w = traffic(child, memo)
        reads += r
        writes += w
    memo[key] = (reads, writes)
    if type(node) is ir.Block:
        node.derived["traffic"] = (reads, writes)
    return reads, writes


def traffic_bytes(node: ir.Node, memo: dict[int, Traffic] | None = None) -> int:
    """Bytes read and written by `node` and everything below it (fp32)."""
    reads, writes = traffic(node, {} if memo is None else memo)
    return BYTES * (reads + writes)
