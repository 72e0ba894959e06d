"""Activations, written after a layer on its line (`conv 3x3 bn relu`) or on their own: one IR
node, `ir.Act`, whose `kind` is the word.  Elementwise: no MACs; `prelu` learns one slope per
channel."""

from __future__ import annotations

from typing import Any

from .. import ir
from ..language import syntax as S
from ..values import format_value
from .args import ArgSpec, OpSpec
from .kind import Builder, LayerKind

# word -> what it computes (the language reference's list)
ACTIVATIONS = {
    "relu": "max(x, 0)",
    "relu6": "min(max(x, 0), 6)",
    "prelu": "parametric ReLU, one learned slope per channel (initial 0.25)",
    "hswish": "x·relu6(x+3)/6 (hard swish)",
    "hsigmoid": "relu6(x+3)/6 (hard sigmoid)",
    "sigmoid": "1/(1+e^-x)",
    "silu": "x·sigmoid(x) (swish)",
    "tanh": "tanh(x)",
    "gelu": "x·Φ(x), exact",
    "gelu_tanh": "GELU's tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))",
    "softmax": "e^x / Σ e^x over the channels",
}
SPECS = tuple(OpSpec(name, (), (), doc, trailing=True) for name, doc in ACTIVATIONS.items())
LEAKYRELU = OpSpec(
    "leakyrelu",
    (ArgSpec("slope", "float", 0.01, 0, None, "negative slope"),),
    ("slope",),
    "max(x, 0) + slope·min(x, 0)",
    trailing=True,
)


def build(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.Act:
    if op == "leakyrelu":
        return ir.Act(head, shape, shape, op, v["slope"])
    return ir.Act(head, shape, shape, op)


def cost(node: ir.Act) -> tuple[int, int]:
    return (node.out_shape.c if node.kind == "prelu" else 0), 0


def label(node: ir.Act) -> str:
    return f"leakyrelu {format_value(node.slope)}" if node.kind == "leakyrelu" else node.kind


KIND = LayerKind(ir.Act, (*SPECS, LEAKYRELU), build, cost, label=label)
