"""`shuffle group=g`: ShuffleNet's channel shuffle, (g, C/g) → (C/g, g); no weights, no MACs."""

from __future__ import annotations

from typing import Any

from .. import ir, limits
from ..errors import divisors
from ..language import syntax as S
from .args import REQUIRED, ArgSpec, OpSpec
from .kind import Builder, LayerKind, Problem, arg_span

SPEC = OpSpec(
    "shuffle",
    (ArgSpec("group", "int", REQUIRED, 1, limits.MAX_CHANNELS, "groups"),),
    ("group",),
    "channel shuffle: (g, C/g) → (C/g, g)",
)


def build(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.Shuffle:
    return ir.Shuffle(head, shape, shape, v["group"])


def check(node: ir.Shuffle) -> tuple[Problem, ...]:
    """The groups must divide the channels."""
    g, c = node.groups, node.in_shape.c
    if c % g == 0:
        return ()
    return (
        (
            f"shuffle group={g} does not divide the {c} channels",
            arg_span(node.src, "group"),
            f"groups dividing {c}: {divisors(c)}",
            "shuffle-divisibility",
        ),
    )


def label(node: ir.Shuffle) -> str:
    return f"shuffle group={node.groups}"


def attrs(node: ir.Shuffle) -> tuple[tuple[str, Any], ...]:
    return (("groups", node.groups),)


KIND = LayerKind(ir.Shuffle, (SPEC,), build, check=check, label=label, attrs=attrs, spatial=True)
