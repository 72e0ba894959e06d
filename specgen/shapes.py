"""Shape rules: the output C×H×W of every layer, from its arguments and its input shape.

Elaboration calls these as it expands the network (the values of `in` and the kernel of `gdc`
depend on shapes), so every IR node is built with its shapes known.  They raise `ShapeError`
when a window does not fit its (padded) input.
"""

from __future__ import annotations

from . import limits
from .ir import Pair, Shape


class ShapeError(Exception):
    def __init__(self, message: str, code: str = "shape"):
        super().__init__(message)
        self.message, self.code = message, code


def window(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """PyTorch's output size for a sliding window (floor mode)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def windowed(
    shape: Shape, out_c: int, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> Shape:
    h = window(shape.h, kernel[0], stride[0], padding[0], dilation[0])
    w = window(shape.w, kernel[1], stride[1], padding[1], dilation[1])
    if h <= 0 or w <= 0:
        span_h = dilation[0] * (kernel[0] - 1) + 1
        span_w = dilation[1] * (kernel[1] - 1) + 1
        raise ShapeError(
            f"the {span_h}x{span_w} window is larger than its padded "
            f"{shape.h + 2 * padding[0]}x{shape.w + 2 * padding[1]} input",
            "kernel-too-large",
        )
    return checked(Shape(out_c, h, w))


def auto_padding(kernel: Pair, dilation: Pair) -> Pair:
    """`same` padding for stride 1 and odd kernels: (k-1)/2·dilation."""
    return (dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2)


def checked(shape: Shape) -> Shape:
    if shape.c <= 0:
        raise ShapeError(f"a layer would have {shape.c} channels", "non-positive")
    if shape.c > limits.MAX_CHANNELS:
        raise ShapeError(f"{shape.c} channels exceed the limit of {limits.MAX_CHANNELS}", "limit")
    if max(shape.h, shape.w) > limits.MAX_SPATIAL:
        raise ShapeError(
            f"a {shape.h}x{shape.w} map exceeds the limit of {limits.MAX_SPATIAL}", "limit"
        )
    return shape
