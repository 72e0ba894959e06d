"""`bn`: batch normalization over the channels (PyTorch's eps and momentum conventions); two
learned parameters per channel, the running statistics are buffers (docs/cost.md)."""

from __future__ import annotations

from typing import Any

from .. import ir
from ..language import syntax as S
from .args import ArgSpec, OpSpec
from .kind import Builder, LayerKind

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


def build(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.BatchNorm:
    return ir.BatchNorm(head, shape, shape, v["eps"], v["momentum"])


def cost(node: ir.BatchNorm) -> tuple[int, int]:
    return 2 * node.out_shape.c, 0


KIND = LayerKind(ir.BatchNorm, (SPEC,), build, cost, fresh=True)
