"""Convolutions: `conv` (a group convolution with `group=g`), `pwconv` (1×1), `dwconv`
(depthwise: groups = input channels), `gdc` (global depthwise: the kernel is the whole map),
all one IR node, `ir.Conv`; and `sepconv`, the depthwise-separable pair (`ir.SepConv`), which
the elaborator expands into its two convolutions.
"""

from __future__ import annotations

from typing import Any

from .. import ir, limits
from ..errors import divisors
from ..language import syntax as S
from .args import AUTO, BIAS, DILATION, OUT, PADDING, STRIDE, ArgSpec, OpSpec, kernel
from .kind import Builder, LayerKind, Problem, arg_span, padding, pair_text
from .shapes import ShapeError, windowed

_GROUP = ArgSpec("group", "int", 1, 1, limits.MAX_CHANNELS, "groups")

SPECS = (
    OpSpec(
        "conv",
        (kernel(), OUT, STRIDE, PADDING, DILATION, _GROUP, BIAS),
        ("kernel",),
        "convolution; `group=g` makes it a group convolution",
    ),
    OpSpec("pwconv", (OUT, STRIDE, _GROUP, BIAS), ("out",), "pointwise (1×1) convolution"),
    OpSpec(
        "dwconv",
        (
            kernel(),
            STRIDE,
            PADDING,
            DILATION,
            ArgSpec(
                "multiplier", "int", 1, 1, limits.MAX_CHANNELS, "output channels per input channel"
            ),
            BIAS,
        ),
        ("kernel",),
        "depthwise convolution (groups = input channels)",
    ),
)
SEPCONV = OpSpec(
    "sepconv",
    (kernel(), OUT, STRIDE, PADDING, DILATION),
    ("kernel",),
    "depthwise-separable convolution: k×k depthwise, then 1×1 pointwise; trailing "
    "layers (`bn relu`) follow each of the two",
)
GDC = OpSpec(
    "gdc",
    (BIAS,),
    (),
    "global depthwise convolution: a depthwise conv whose kernel is the whole H×W map",
)


def build(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.Conv:
    if op == "gdc":
        k = (shape.h, shape.w)
        out_shape = b.shape(windowed, head.span, shape, shape.c, k, (1, 1), (0, 0, 0, 0), (1, 1))
        return ir.Conv(
            head, shape, out_shape, "gdc", shape.c, k, (1, 1), (0, 0, 0, 0), (1, 1), shape.c,
            v["bias"],
        )  # fmt: skip
    if op == "pwconv":
        v = {**v, "kernel": (1, 1), "padding": (0, 0), "dilation": (1, 1)}
    if op == "dwconv":
        groups, out = shape.c, shape.c * v["multiplier"]
    else:
        groups, out = v["group"], shape.c if v["out"] is AUTO else v["out"]
    pad = padding(v, shape)
    args = (shape, out, v["kernel"], v["stride"], pad, v["dilation"])
    try:  # inline: the commonest layer of every compile
        out_shape = windowed(*args)
    except ShapeError:  # the builder reports it where it is written and abandons the line
        out_shape = b.shape(windowed, head.span, *args)
    return ir.Conv(
        head, shape, out_shape, op, out, v["kernel"], v["stride"], pad, v["dilation"], groups,
        v["bias"], v.get("padding") == "same",
    )  # fmt: skip


def weights(node: ir.Conv) -> int:
    return node.out * (node.in_shape.c // node.groups) * node.kernel[0] * node.kernel[1]


def cost(node: ir.Conv) -> tuple[int, int]:
    # weights(node), inline: the commonest layer of every compile
    w = node.out * (node.in_shape.c // node.groups) * node.kernel[0] * node.kernel[1]
    out = node.out_shape
    return w + (node.out if node.bias else 0), w * out.h * out.w


def check(node: ir.Conv) -> tuple[Problem, ...]:
    """A group convolution's groups must divide its input and its output channels."""
    g, c = node.groups, node.in_shape.c
    if node.kind not in ("conv", "pwconv") or g == 1:
        return ()
    if c % g:
        return (
            (
                f"{node.kind} input channels ({c}) are not divisible by group={g}",
                arg_span(node.src, "group"),
                f"groups dividing {c}: {divisors(c)}",
                "group-divisibility",
            ),
        )
    if node.out % g:  # one diagnostic per conv
        return (
            (
                f"{node.kind} output channels ({node.out}) are not divisible by group={g}",
                arg_span(node.src, "out"),
                f"groups dividing {node.out}: {divisors(node.out)}",
                "group-divisibility",
            ),
        )
    return ()


def dense_ratio(node: ir.Conv) -> float | None:
    if node.groups == 1:
        return None
    return weights(node) / (node.out * node.in_shape.c * node.kernel[0] * node.kernel[1])


def label(node: ir.Conv) -> str:
    """`conv 3×3 /2 group=3`: the op with kernel, stride, dilation and groups where they
    matter."""
    parts = [node.kind, pair_text(node.kernel)]
    if node.stride != (1, 1):
        s = node.stride
        parts.append("/" + (str(s[0]) if s[0] == s[1] else pair_text(s)))
    if node.dilation != (1, 1):
        parts.append(f"dilation {pair_text(node.dilation)}")
    if node.groups > 1 and not node.depthwise and node.kind != "gdc":
        parts.append(f"group={node.groups}")
    return " ".join(parts)


def attrs(node: ir.Conv) -> tuple[tuple[str, Any], ...]:
    return (
        ("kernel", node.kernel),
        ("stride", node.stride),
        ("dilation", node.dilation),
        ("groups", node.groups),
    )


def sepconv_ratio(node: ir.SepConv) -> float:
    dw, pw = (n for _, n in node.body.children if isinstance(n, ir.Conv))
    return (weights(dw) + weights(pw)) / (pw.out * dw.in_shape.c * dw.kernel[0] * dw.kernel[1])


KIND = LayerKind(
    ir.Conv,
    (*SPECS, GDC),
    build,
    cost,
    check,
    dense_ratio,
    label,
    weighted=True,
    attrs=attrs,
    spatial=True,
    fresh=True,
)
# expanded by the elaborator into its dwconv and pwconv (elaborate/composites), which carry
# the weights and the cost
SEPCONV_KIND = LayerKind(ir.SepConv, (SEPCONV,), None, dense_ratio=sepconv_ratio)
