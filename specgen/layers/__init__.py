"""The layers: one module per kind of layer (how it is written, built, costed, checked and
labelled), collected by `registry`; `args` and `binding` say how a written line binds to a
layer's arguments; `shapes` holds the output-size rules the kinds share.

    from specgen.layers import BY_OP, KINDS, OPS
"""

from .args import ALIASES, AUTO, REQUIRED, ArgSpec, OpSpec
from .binding import Plan, apply, plan
from .kind import Builder, LayerKind, Problem
from .registry import BY_OP, EXPANDED, KINDS, LAYER_KINDS, OPS

__all__ = [
    "ALIASES",
    "AUTO",
    "BY_OP",
    "EXPANDED",
    "KINDS",
    "LAYER_KINDS",
    "OPS",
    "REQUIRED",
    "ArgSpec",
    "Builder",
    "LayerKind",
    "OpSpec",
    "Plan",
    "Problem",
    "apply",
    "plan",
]
