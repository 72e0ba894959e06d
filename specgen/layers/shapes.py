"""Shape rules: the output C×H×W of every layer, from its arguments and its input shape.

Elaboration calls these as it expands the network (the values of `in` and the kernel of `gdc`
depend on shapes), so every IR node is built with its shapes known.  They raise `ShapeError`
when a window does not fit its (padded) input.
"""

from __future__ import annotations

from .. import limits
from ..ir import Pad, Pair, Shape


class ShapeError(Exception):
    def __init__(self, message: str, code: str = "shape"):
        super().__init__(message)
        self.message, self.code = message, code


def window(
    size: int,
    kernel: int,
    stride: int,
    before: int,
    after: int,
    dilation: int,
    ceil_mode: bool = False,
) -> int:
    """PyTorch's output size for a sliding window, with `before`/`after` padding.

    In ceil mode the size is rounded up, but the last window must start inside the input or
    its leading padding (PyTorch's rule, pooling_output_shape)."""
    room = size + before + after - dilation * (kernel - 1) - 1
    out = (room + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and out > 0 and (out - 1) * stride >= size + before:
        out -= 1
    return out


def windowed(
    shape: Shape,
    out_c: int,
    kernel: Pair,
    stride: Pair,
    padding: Pad,
    dilation: Pair,
    ceil_mode: bool = False,
) -> Shape:
    top, bottom, left, right = padding
    if ceil_mode:
        h = window(shape.h, kernel[0], stride[0], top, bottom, dilation[0], True)
        w = window(shape.w, kernel[1], stride[1], left, right, dilation[1], True)
    else:  # `window` inline: every convolution of every compile comes here
        h = (shape.h + top + bottom - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
        w = (shape.w + left + right - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    if h <= 0 or w <= 0:
        span_h = dilation[0] * (kernel[0] - 1) + 1
        span_w = dilation[1] * (kernel[1] - 1) + 1
        raise ShapeError(
            f"the {span_h}x{span_w} window is larger than its padded "
            f"{shape.h + top + bottom}x{shape.w + left + right} input",
            "kernel-too-large",
        )
    return checked(Shape(out_c, h, w))


def same_padding(shape: Shape, kernel: Pair, stride: Pair, dilation: Pair) -> Pad:
    """TensorFlow's `same` padding: output ceil(H/s); total padding
    max((ceil(H/s) - 1)·s + (k-1)·d + 1 - H, 0), the odd row or column at the bottom/right."""

    def axis(size: int, k: int, s: int, d: int) -> tuple[int, int]:
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        return total // 2, total - total // 2

    return axis(shape.h, kernel[0], stride[0], dilation[0]) + axis(
        shape.w, kernel[1], stride[1], dilation[1]
    )


def ceil_extra(size: int, kernel: int, stride: int, padding: int, out: int) -> int:
    """Rows (or columns) a ceil-mode window reaches past the padded input: what Keras, which
    has no ceil mode, must pad at the bottom/right to give the same output."""
    return max((out - 1) * stride + kernel - (size + 2 * padding), 0)


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
