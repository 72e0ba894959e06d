"""`slice out start=s`: keeps `out` consecutive channels of the input, from channel `s` (by
default the first `out`: GhostNet's `[:, :out]`, which lets a Ghost module concatenate
more channels than it keeps).  A view in both frameworks: no weights, no MACs."""

from __future__ import annotations

from typing import Any

from .. import ir, limits
from ..language import syntax as S
from .args import REQUIRED, ArgSpec, OpSpec
from .kind import Builder, LayerKind, Problem, arg_span

SPEC = OpSpec(
    "slice",
    (
        ArgSpec("out", "int", REQUIRED, 1, limits.MAX_CHANNELS, "channels kept"),
        ArgSpec("start", "int", 0, 0, limits.MAX_CHANNELS, "the first channel kept"),
    ),
    ("out", "start"),
    "keeps channels start .. start+out-1",
)


def build(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.ChannelSlice:
    out = ir.Shape(v["out"], shape.h, shape.w, shape.flat)
    return ir.ChannelSlice(head, shape, out, v["start"])


def check(node: ir.ChannelSlice) -> tuple[Problem, ...]:
    """The channels kept must be channels of the input."""
    c, start, out = node.in_shape.c, node.start, node.out_shape.c
    if start + out <= c:
        return ()
    return (
        (
            f"slice keeps channels {start} to {start + out - 1}, but the input has {c}",
            arg_span(node.src, "out", "start"),
            f"at most {c - start} channels from channel {start}" if start < c else None,
            "slice-range",
        ),
    )


def label(node: ir.ChannelSlice) -> str:
    end = node.start + node.out_shape.c
    return f"slice [{node.start}:{end}]"


KIND = LayerKind(ir.ChannelSlice, (SPEC,), build, check=check, label=label)
