"""The registry of layer kinds: every module of this package that describes a kind is listed
here once, and the tables the rest of the compiler reads are derived from the list.

- `LAYER_KINDS`: every kind, in the language reference's order (cost and validation build
  their dispatch tables from it, the targets their `spatial`/`fresh` sets);
- `KINDS`: IR node type → its `LayerKind` (the cost report's attributes, the diagram's labels,
  the architecture test's check of the targets' tables);
- `BY_OP`: the word that writes a layer (`conv`, `gap`) → its `LayerKind` (elaboration);
- `OPS`: the word → its `OpSpec` (binding arguments, the language reference, the formatter
  and the highlighters' word lists).
"""

from __future__ import annotations

from .. import ir
from . import activation, conv, igc, linear, norm, passthrough, pool, se, shuffle, slicing
from .args import OpSpec
from .kind import LayerKind

# in the language reference's order
LAYER_KINDS: tuple[LayerKind, ...] = (
    conv.KIND,
    conv.SEPCONV_KIND,
    igc.KIND,
    shuffle.KIND,
    slicing.KIND,
    norm.KIND,
    norm.LAYERNORM_KIND,
    norm.LAYERSCALE_KIND,
    norm.GRN_KIND,
    activation.KIND,
    pool.KIND,
    pool.ADAPTIVE_KIND,
    se.KIND,
    pool.GLOBAL_KIND,
    linear.FLATTEN_KIND,
    linear.KIND,
    linear.POINT_KIND,
    passthrough.DROPOUT_KIND,
    passthrough.DROPPATH_KIND,
    passthrough.IDENTITY_KIND,
)

KINDS: dict[type[ir.Node], LayerKind] = {kind.node: kind for kind in LAYER_KINDS}
BY_OP: dict[str, LayerKind] = {spec.name: kind for kind in LAYER_KINDS for spec in kind.ops}
OPS: dict[str, OpSpec] = {spec.name: spec for kind in LAYER_KINDS for spec in kind.ops}
# the layers whose node the elaborator builds from its parts (`sepconv`: dwconv + pwconv)
EXPANDED = frozenset(name for name, kind in BY_OP.items() if kind.build is None)

assert len(KINDS) == len(LAYER_KINDS), "two layer kinds make the same IR node"
assert len(OPS) == sum(len(kind.ops) for kind in LAYER_KINDS), "a layer word is taken twice"
