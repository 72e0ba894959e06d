"""Pooling: windowed `maxpool` / `avgpool` (`ir.Pool`), `adaptiveavgpool` to a given size
(`ir.AdaptivePool`), and global `gap` / `gmp` to C×1×1 (`ir.GlobalPool`).  No weights; their
comparisons and sums count no MACs (docs/cost.md)."""

from __future__ import annotations

from typing import Any

from .. import ir, limits
from ..language import syntax as S
from ..values import format_value
from .args import AUTO, CEIL_MODE, PADDING, POOL_STRIDE, REQUIRED, ArgSpec, OpSpec, kernel
from .kind import Builder, LayerKind, padding, pair_text, written_span
from .shapes import checked, windowed

SPECS = (
    OpSpec("maxpool", (kernel(), POOL_STRIDE, PADDING, CEIL_MODE), ("kernel",), "max pooling"),
    OpSpec(
        "avgpool",
        (kernel(), POOL_STRIDE, PADDING, CEIL_MODE),
        ("kernel",),
        "average pooling (padding counts as zeros, except `padding=same`'s, as in TensorFlow)",
    ),
)
ADAPTIVE = OpSpec(
    "adaptiveavgpool",
    (ArgSpec("size", "pair", REQUIRED, 1, limits.MAX_SPATIAL, "output size, `6x6`"),),
    ("size",),
    "average pooling to a given output size (PyTorch's AdaptiveAvgPool2d)",
)
GLOBAL = (
    OpSpec("gap", (), (), "global average pooling to C×1×1"),
    OpSpec("gmp", (), (), "global max pooling to C×1×1"),
)


def build(b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.Pool:
    """`maxpool` / `avgpool`: the stride defaults to the kernel (as in PyTorch and Keras);
    PyTorch's limits on padding and ceil_mode are checked where they are written."""
    k = v["kernel"]
    stride = k if v["stride"] is AUTO else v["stride"]
    pad = padding({**v, "dilation": (1, 1)}, shape, stride)
    top, bottom, left, right = pad
    if 2 * max(top, bottom) > k[0] or 2 * max(left, right) > k[1]:
        shown = f"{top}x{left}" if ir.symmetric(pad) else format_value(tuple(pad))
        b.error(f"{op} padding {shown} is more than half its kernel", head.span, code="range")
    ceil_mode = v["ceil_mode"]
    if ceil_mode and (v["padding"] == "same" or ir.symmetric(pad) is None):
        b.error(
            "ceil_mode needs a padding that is the same on both sides"
            + (" (same padding already covers the input)" if v["padding"] == "same" else ""),
            written_span(head, "ceil_mode"),
            "leave out ceil_mode, or give a symmetric padding",
            "range",
        )
        ceil_mode = False
    out_shape = b.shape(windowed, head.span, shape, shape.c, k, stride, pad, (1, 1), ceil_mode)
    return ir.Pool(
        head, shape, out_shape, op[:3], k, stride, pad, ceil_mode, v["padding"] == "same"
    )


def build_adaptive(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.AdaptivePool:
    out_shape = b.shape(checked, head.span, ir.Shape(shape.c, *v["size"]))
    return ir.AdaptivePool(head, shape, out_shape, v["size"])


def build_global(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.GlobalPool:
    return ir.GlobalPool(head, shape, ir.Shape(shape.c, 1, 1), "avg" if op == "gap" else "max")


def label(node: ir.Pool) -> str:
    text = f"{node.op} {pair_text(node.kernel)}"
    return text + (f" /{node.stride[0]}" if node.stride != (1, 1) else "")


def label_adaptive(node: ir.AdaptivePool) -> str:
    return f"adaptiveavgpool {pair_text(node.size)}"


def label_global(node: ir.GlobalPool) -> str:
    return "gap (global average pool)" if node.kind == "avg" else "gmp (global max pool)"


def attrs(node: ir.Pool) -> tuple[tuple[str, Any], ...]:
    return (("kernel", node.kernel), ("stride", node.stride))


def brief_adaptive(node: ir.AdaptivePool) -> tuple[str, ...]:
    """The output size, `6x6`."""
    return (f"{node.size[0]}x{node.size[1]}",)


KIND = LayerKind(ir.Pool, SPECS, build, label=label, attrs=attrs, spatial=True, fresh=True)
ADAPTIVE_KIND = LayerKind(
    ir.AdaptivePool,
    (ADAPTIVE,),
    build_adaptive,
    label=label_adaptive,
    brief=brief_adaptive,
    spatial=True,
    fresh=True,
)
GLOBAL_KIND = LayerKind(
    ir.GlobalPool, GLOBAL, build_global, label=label_global, spatial=True, fresh=True
)
