"""`igc`: interleaved group convolution (Zhang et al., 2017) — a primary k×k group conv of L
partitions of M channels, an interleaving permutation, a secondary 1×1 group conv of M
partitions of L channels, and the permutation back.  Input and output width G = M·L.
"""

from __future__ import annotations

from typing import Any

from .. import ir, limits
from ..language import syntax as S
from .args import BIAS, DILATION, PADDING, REQUIRED, STRIDE, ArgSpec, OpSpec, kernel
from .kind import Builder, LayerKind, Problem, arg_span, padding, pair_text
from .shapes import windowed

SPEC = OpSpec(
    "igc",
    (
        kernel((3, 3)),
        ArgSpec("M", "int", REQUIRED, 1, limits.MAX_CHANNELS, "channels per primary partition"),
        ArgSpec("L", "int", REQUIRED, 1, limits.MAX_CHANNELS, "primary partitions"),
        STRIDE,
        PADDING,
        DILATION,
        BIAS,
    ),
    ("kernel",),
    "interleaved group convolution (input and output M·L channels)",
)


def build(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.IGC:
    g = v["M"] * v["L"]
    pad = padding(v, shape)
    out_shape = b.shape(
        windowed, head.span, shape, g, v["kernel"], v["stride"], pad, v["dilation"]
    )
    return ir.IGC(
        head, shape, out_shape, v["M"], v["L"], v["kernel"], v["stride"], pad, v["dilation"],
        v["bias"],
    )  # fmt: skip


def weights(node: ir.IGC) -> int:
    """G·(M·S + L): the primary k×k conv (L groups of M) and the secondary 1×1 (M groups of L)."""
    g, s = node.M * node.L, node.kernel[0] * node.kernel[1]
    return g * (node.M * s + node.L)


def cost(node: ir.IGC) -> tuple[int, int]:
    w = weights(node)
    out = node.out_shape
    return w + (out.c if node.bias else 0), w * out.h * out.w


def check(node: ir.IGC) -> tuple[Problem, ...]:
    """The input must be exactly M·L channels wide."""
    c, width = node.in_shape.c, node.M * node.L
    if c == width:
        return ()
    hint = f"M·L must equal {c}"
    if c > 0:
        pairs = [f"M={m} L={c // m}" for m in range(1, min(c, 64) + 1) if c % m == 0][:6]
        hint += f", e.g. {', '.join(pairs)}"
    return (
        (
            f"igc input has {c} channels but M·L = {node.M}·{node.L} = {width}",
            arg_span(node.src, "M", "L"),
            hint,
            "igc-channels",
        ),
    )


def dense_ratio(node: ir.IGC) -> float:
    g, s = node.M * node.L, node.kernel[0] * node.kernel[1]
    return weights(node) / (g * g * s)


def label(node: ir.IGC) -> str:
    text = f"igc {pair_text(node.kernel)} M={node.M} L={node.L}"
    return text + (f" /{node.stride[0]}" if node.stride != (1, 1) else "")


def attrs(node: ir.IGC) -> tuple[tuple[str, Any], ...]:
    return (("kernel", node.kernel), ("stride", node.stride), ("dilation", node.dilation))


def brief(node: ir.IGC) -> tuple[str, ...]:
    """`M2 L8`: the partitions, which the window leaves out."""
    return (f"M{node.M} L{node.L}",)


KIND = LayerKind(
    ir.IGC, (SPEC,), build, cost, check, dense_ratio, label, weighted=True, attrs=attrs, spatial=True, fresh=True,
    brief=brief,
)  # fmt: skip
