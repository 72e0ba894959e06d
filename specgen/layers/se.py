"""`se squeeze=s`: squeeze-and-excitation (Hu et al., 2018) in torchvision's layout: global
average pool, 1×1 conv to `s` channels, act, 1×1 conv back, gate, times the input."""

from __future__ import annotations

from typing import Any

from .. import ir, limits
from ..language import syntax as S
from .args import REQUIRED, ArgSpec, OpSpec
from .kind import Builder, LayerKind

_ACTS = ("relu", "relu6", "silu", "hswish", "gelu")
_GATES = ("sigmoid", "hsigmoid", "hardsigmoid")

SPEC = OpSpec(
    "se",
    (
        ArgSpec("squeeze", "int", REQUIRED, 1, limits.MAX_CHANNELS, "squeeze channels"),
        ArgSpec("act", "choice", "relu", doc="activation after the squeeze", choices=_ACTS),
        ArgSpec("gate", "choice", "sigmoid", doc="gate of the scale", choices=_GATES),
    ),
    ("squeeze",),
    "squeeze-and-excitation: global average pool, 1×1 conv to `squeeze` channels, act, "
    "1×1 conv back, gate, times the input",
)


def build(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.SE:
    return ir.SE(head, shape, shape, v["squeeze"], v["act"], v["gate"])


def cost(node: ir.SE) -> tuple[int, int]:
    """Two 1×1 convs with bias on the pooled 1×1 map; the pooling and the C·H·W products of
    the scale are elementwise, which count 0 like activations and residual sums."""
    c = node.out_shape.c
    w = 2 * c * node.squeeze
    return w + node.squeeze + c, w


def label(node: ir.SE) -> str:
    return f"se squeeze={node.squeeze} {node.act}/{node.gate}"


def brief(node: ir.SE) -> tuple[str, ...]:
    """The squeeze channels."""
    return (str(node.squeeze),)


KIND = LayerKind(
    ir.SE, (SPEC,), build, cost, label=label, weighted=True, brief=brief, spatial=True, fresh=True
)
