"""Normalisation and per-channel scaling: `bn` (batch normalization, PyTorch's eps and
momentum conventions), `layernorm` (over the channels at every position), `layerscale` (a
learned per-channel factor) and `grn` (ConvNeXt V2's global response normalisation).  Each
learns one or two numbers per channel; BatchNorm's running statistics are buffers, not
parameters (docs/cost.md)."""

from __future__ import annotations

from typing import Any

from .. import ir
from ..language import syntax as S
from .args import REQUIRED, ArgSpec, OpSpec
from .kind import Builder, LayerKind, Problem

SPEC = OpSpec(
    "bn",
    (
        ArgSpec("eps", "float", 1e-5, 0, None, "added to the variance"),
        ArgSpec("momentum", "float", 0.1, 0, 1, "running-statistics update (PyTorch)"),
    ),
    ("eps", "momentum"),
    "batch normalization",
    trailing=True,
)
LAYERNORM = OpSpec(
    "layernorm",
    (ArgSpec("eps", "float", 1e-5, 0, None, "added to the variance"),),
    ("eps",),
    "layer normalization over the channels at every position",
    trailing=True,
)
LAYERSCALE = OpSpec(
    "layerscale",
    (ArgSpec("init", "float", REQUIRED, None, None, "the factors' initial value"),),
    ("init",),
    "a learned factor per channel (layer scale)",
    trailing=True,
)
GRN = OpSpec(
    "grn",
    (ArgSpec("eps", "float", 1e-6, 0, None, "added to the mean response"),),
    ("eps",),
    "global response normalization (ConvNeXt V2)",
    trailing=True,
)


def build(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.BatchNorm:
    return ir.BatchNorm(head, shape, shape, v["eps"], v["momentum"])


def cost(node: ir.BatchNorm) -> tuple[int, int]:
    return 2 * node.out_shape.c, 0


def build_layernorm(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.LayerNorm:
    return ir.LayerNorm(head, shape, shape, v["eps"])


def build_layerscale(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.LayerScale:
    return ir.LayerScale(head, shape, shape, v["init"])


def build_grn(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.GRN:
    return ir.GRN(head, shape, shape, v["eps"])


def scale_cost(node: ir.LayerScale) -> tuple[int, int]:
    """One factor per channel; the products are elementwise (0 MACs, like BatchNorm's)."""
    return node.out_shape.c, 0


def needs_map(node: ir.Node) -> tuple[Problem, ...]:
    """`layerscale` and `grn` work on a C×H×W map; after `fc` or `flatten` there is none."""
    if not node.in_shape.flat:
        return ()
    return (
        (
            f"{node.op} needs a C×H×W map but gets {node.in_shape}",
            node.src.name_span,
            "write it before `gap`/`flatten`, or use `fc` for a learned map of a vector",
            "map-only",
        ),
    )


def label_layernorm(node: ir.LayerNorm) -> str:
    return "layernorm"


KIND = LayerKind(ir.BatchNorm, (SPEC,), build, cost, fresh=True)
LAYERNORM_KIND = LayerKind(ir.LayerNorm, (LAYERNORM,), build_layernorm, cost, fresh=True)
LAYERSCALE_KIND = LayerKind(
    ir.LayerScale, (LAYERSCALE,), build_layerscale, scale_cost, needs_map, fresh=True
)
GRN_KIND = LayerKind(ir.GRN, (GRN,), build_grn, cost, needs_map, fresh=True)
