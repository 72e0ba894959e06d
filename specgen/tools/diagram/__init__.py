"""Block diagrams of a compiled network as Graphviz DOT text, built from the elaborated IR
alone (no framework, no Graphviz binding); `specgen.tools.graph` renders them with `dot`.
See docs/graph.md for how to read a diagram.

What is drawn:

- one node per layer, a convolution (or `igc`, `fc`) fused with the `bn` and activations that
  follow it, as papers draw "1×1 GConv, BN, ReLU"; each node shows its path, its op with
  kernel, stride and groups (the layer kind's `label`), and its params and MACs (exact
  figures in the SVG tooltip);
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

The concerns: `network` (the whole diagram, its options and size), `builder` (the layout of
boxes, clusters and edges), `structure` (fills and channel-structure drawings), `text` (labels
and numbers).
"""

from .network import (
    DEFAULT_BOXES,
    MAX_BOXES,
    GraphError,
    TooLarge,
    block_names,
    boxes,
    check_options,
    default_depth,
    to_dot,
)
from .structure import FILL, PALETTE, shown
from .text import compact

__all__ = [
    "DEFAULT_BOXES",
    "FILL",
    "MAX_BOXES",
    "PALETTE",
    "GraphError",
    "TooLarge",
    "block_names",
    "boxes",
    "check_options",
    "compact",
    "default_depth",
    "shown",
    "to_dot",
]
