"""Fully connected layers: `flatten` (C×H×W → C·H·W) and `fc` (on a 1×1 map), after which
the generated models hold an (N, C) tensor (`Shape.flat`), and `linear`, the same layer
applied at every position of a map (ConvNeXt's pointwise Linear layers)."""

from __future__ import annotations

from typing import Any

from .. import ir, limits
from ..language import syntax as S
from .args import REQUIRED, ArgSpec, OpSpec
from .kind import Builder, LayerKind, Problem
from .shapes import checked

FLATTEN = OpSpec("flatten", (), (), "C×H×W → (C·H·W)×1×1")
FC = OpSpec(
    "fc",
    (
        ArgSpec("out", "int", REQUIRED, 1, limits.MAX_CHANNELS, "outputs"),
        ArgSpec("bias", "bool", True),
    ),
    ("out",),
    "fully connected layer; needs a 1×1 map (after gap or flatten)",
)

LINEAR = OpSpec(
    "linear",
    (
        ArgSpec("out", "int", REQUIRED, 1, limits.MAX_CHANNELS, "outputs at each position"),
        ArgSpec("bias", "bool", True),
    ),
    ("out",),
    "fully connected layer at every position (a 1×1 conv as a Linear layer)",
)


def build_flatten(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.Flatten:
    flat = ir.Shape(shape.numel, 1, 1, flat=True)
    return ir.Flatten(head, shape, b.shape(checked, head.span, flat))


def build(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.Linear:
    out_shape = b.shape(checked, head.span, ir.Shape(v["out"], 1, 1, flat=True))
    return ir.Linear(head, shape, out_shape, v["out"], v["bias"])


def build_point(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.PointLinear:
    out_shape = b.shape(checked, head.span, ir.Shape(v["out"], shape.h, shape.w, shape.flat))
    return ir.PointLinear(head, shape, out_shape, v["out"], v["bias"])


def point_cost(node: ir.PointLinear) -> tuple[int, int]:
    """A 1×1 conv's: in·out weights (+ out biases), in·out MACs at each of H×W positions."""
    w = node.in_shape.c * node.out
    return w + (node.out if node.bias else 0), w * node.in_shape.h * node.in_shape.w


def point_label(node: ir.PointLinear) -> str:
    return f"linear {node.out}"


def cost(node: ir.Linear) -> tuple[int, int]:
    w = node.in_shape.c * node.out
    return w + (node.out if node.bias else 0), w


def check(node: ir.Linear) -> tuple[Problem, ...]:
    """An fc reads one vector per sample: a 1×1 map."""
    if node.in_shape.h == 1 and node.in_shape.w == 1:
        return ()
    return (
        (
            f"fc needs a 1x1 map but gets {node.in_shape}",
            node.src.name_span,
            "add `gap` (global average pooling) or `flatten` before it",
            "fc-spatial",
        ),
    )


def label(node: ir.Linear) -> str:
    return f"fc {node.out}"


FLATTEN_KIND = LayerKind(ir.Flatten, (FLATTEN,), build_flatten)
KIND = LayerKind(ir.Linear, (FC,), build, cost, check, label=label, weighted=True, fresh=True)
POINT_KIND = LayerKind(
    ir.PointLinear,
    (LINEAR,),
    build_point,
    point_cost,
    label=point_label,
    weighted=True,
    fresh=True,
)
