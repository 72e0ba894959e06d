"""The Keras 3 target's per-layer code: the lines that apply one layer (`LAYER_CODE`, one
entry per leaf IR node type), and the pieces several layers are made of (padding, channel
shuffle, hard sigmoid), all with Keras' own layers.

The builder functions and their data flow (blocks, residuals, concat, split) are laid out by
`keras3.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import ir
from ..errors import Diagnostic, SpecError
from ..names import NameTable
from . import keras3_norm, keras3_pool
from .common import BodyWriter, fits, nhwc, num, size

_ACTS = {
    "relu": "layers.ReLU({name})",
    "relu6": "layers.ReLU(max_value=6.0, {name})",
    "sigmoid": 'layers.Activation("sigmoid", {name})',
    "tanh": 'layers.Activation("tanh", {name})',
    "silu": 'layers.Activation("silu", {name})',
    "gelu": 'layers.Activation("gelu", {name})',
    "hswish": 'layers.Activation("hard_swish", {name})',
    # Keras' own "hard_sigmoid" has been 0.2·x + 0.5 (tf.keras) and x/6 + 0.5 (early Keras 3):
    # a small layer computes PyTorch's relu6(x + 3) / 6 on every version
    "hsigmoid": "",  # see LayerWriter.hard_sigmoid
    "softmax": "layers.Softmax({name})",
}


def keras_name(path: str) -> str:
    """The Keras layer name of a PyTorch module path: `unit1.conv1` -> `unit1-conv1`."""
    return path.replace(".", "-")


class LayerWriter(BodyWriter):
    """The lines of one builder function, at the level of layers: layer names, statements,
    and the pieces several layers share.  `gen` is the module's generator (its name table,
    `split_groups`, and the block calls being written, for located errors); `prefix` is the
    variable holding the block's name (None outside blocks)."""

    def __init__(self, gen: Any, lines: list[str], prefix: str | None, depth: int):
        super().__init__(lines, NameTable(parent=gen.table), depth, gen.wrap)
        self.gen, self.prefix = gen, prefix

    def label(self, local: str) -> str:
        """The `name=` value of a layer: `f"{name}-conv1"` in a block, `"conv1"` outside."""
        local = keras_name(local)
        return f'f"{{{self.prefix}}}-{local}"' if self.prefix else f'"{local}"'

    def indexed(self, local: str, suffix: str, tail: str = "") -> str:
        """An f-string name with the loop index: `f"{name}-conv1-g{i}"` (then `tail`)."""
        local = keras_name(local)
        return (
            f'f"{{{self.prefix}}}-{local}{suffix}{{i}}{tail}"'
            if self.prefix
            else f'f"{local}{suffix}{{i}}{tail}"'
        )

    def emit(self, out: str, ctor: str, arg: str, comment: str = "") -> None:
        """`out = ctor(arg)`; `comment` (a shape) is kept only where black keeps one line."""
        line = f"{out} = {ctor}({arg})"
        self.add(line, comment if comment and fits(f"{line}  # {comment}", self.depth) else "")

    def leaf(self, path: str, node: ir.Node, arg: str, out: str, rank: int) -> int:
        """Append the lines of one layer (see LAYER_CODE); return the new rank."""
        code = LAYER_CODE.get(type(node))
        if code is None:
            raise AssertionError(f"no Keras layer for {type(node).__name__}")
        return code(self, path, node, arg, out, rank)

    def refuse(self, node: ir.Node, message: str, hint: str) -> None:
        """A spec the Keras target cannot write exactly: a located error, as for any mistake."""
        diagnostic = Diagnostic(message, node.src.span, hint, tuple(self.gen.stack), "keras")
        raise SpecError([diagnostic], self.gen.net.source)

    @staticmethod
    def flat(h: int, w: int, c: int, label: str) -> str:
        """A Reshape to (H·W, C, 1): channels become an axis that Cropping2D can crop."""
        return f"layers.Reshape(({num(h * w)}, {num(c)}, 1), name={label})"

    @staticmethod
    def channel_crop(before: str | int, after: str | int) -> str:
        """Cropping2D's argument keeping channels [before, C - after) of a `flat` map."""
        before = num(before) if isinstance(before, int) else before
        after = num(after) if isinstance(after, int) else after
        return f"((0, 0), ({before}, {after}))"

    def shuffle(self, path: str, groups: int, shape: ir.Shape, arg: str, out: str) -> None:
        """(g, C/g) -> (C/g, g) channel interleaving: Reshape, Permute, Reshape; the last
        layer is named `path`."""
        h, w, c = num(shape.h), num(shape.w), num(shape.c)
        split = f"layers.Reshape(({h}, {w}, {num(groups)}, {num(shape.c // groups)}), name={self.label(path + '.groups')})"
        self.emit(out, split, arg)
        self.emit(out, f"layers.Permute((1, 2, 4, 3), name={self.label(path + '.swap')})", out)
        self.emit(
            out, f"layers.Reshape(({h}, {w}, {c}), name={self.label(path)})", out, nhwc(shape)
        )

    def hard_sigmoid(self, path: str, arg: str, out: str) -> None:
        """PyTorch's relu6(x + 3) / 6: (x - (-3)) / sqrt(36), then clipped to [0, 1]; bit for
        bit on TensorFlow and PyTorch, within one ulp on JAX (XLA multiplies by the reciprocal).
        Keras' own "hard_sigmoid" has differed by version and backend."""
        shift = self.label(path + ".shift")
        self.emit(out, f"layers.Normalization(mean=-3.0, variance=36.0, name={shift})", arg)
        self.emit(out, f"layers.ReLU(max_value=1.0, name={self.label(path)})", out)

    def activation(self, kind: str, path: str, arg: str, out: str) -> None:
        """One of `se`'s activations (the layer-free ones of _ACTS, or the hard sigmoid)."""
        if kind == "hsigmoid":
            self.hard_sigmoid(path, arg, out)
        else:
            self.emit(out, _ACTS[kind].format(name=f"name={self.label(path)}"), arg)

    def pad(self, path: str, padding: ir.Pad, arg: str, out: str) -> str:
        """Zeros around the map: `(h, w)` when both sides of each axis agree, else
        `((top, bottom), (left, right))`."""
        if padding == (0, 0, 0, 0):
            return arg
        pair = ir.symmetric(padding)
        top, bottom, left, right = padding
        sides = f"(({num(top)}, {num(bottom)}), ({num(left)}, {num(right)}))"
        amount = size(pair) if pair is not None else sides
        self.emit(out, f"layers.ZeroPadding2D({amount}, name={self.label(path + '.pad')})", arg)
        return out

    def edge_pad(self, path: str, padding: ir.Pad, shape: ir.Shape, arg: str, out: str) -> str:
        """What PyTorch's -inf padding means before a max pool, with Keras' own layers: copies
        of the edge rows and columns (Cropping2D, Concatenate).  Exact: padding is at most half
        the kernel (the elaborator checks it) and the last window starts inside the input, so
        every window holds the real row or column its copies repeat, and its maximum is the
        maximum over its positions inside the input, as with -inf."""
        if padding == (0, 0, 0, 0):
            return arg
        top, bottom, left, right = padding
        cur = arg
        axes = (
            (1, "top", "bottom", top, bottom, shape.h),
            (2, "left", "right", left, right, shape.w),
        )
        for axis, first, last, before, after, length in axes:
            if not before and not after:
                continue
            edges = {}
            for side, count, crop in (
                (first, before, (0, length - 1)),
                (last, after, (length - 1, 0)),
            ):
                if count:
                    edges[side] = self.names.fresh("edge", True)
                    span = f"({num(crop[0])}, {num(crop[1])})"
                    cropping = f"({span}, (0, 0))" if axis == 1 else f"((0, 0), {span})"
                    label = self.label(f"{path}.pad.{side}")
                    self.emit(edges[side], f"layers.Cropping2D({cropping}, name={label})", cur)
            parts = [edges.get(first)] * before + [cur] + [edges.get(last)] * after
            label = self.label(
                path + ".pad" + ("" if axis == 2 or not (left or right) else ".rows")
            )
            self.emit(
                out, f"layers.Concatenate(axis={axis}, name={label})", f"[{', '.join(parts)}]"
            )
            cur = out
        return cur


# ---- one function per leaf node type: (writer, path, node, arg, out, rank) -> new rank -------


def _conv(w: LayerWriter, path: str, node: ir.Conv, arg: str, out: str, rank: int) -> int:
    if node.stride != (1, 1) and node.dilation != (1, 1):
        w.refuse(
            node,
            "Keras' convolutions take a stride or a dilation above 1, not both: the Keras "
            "target cannot write this conv",
            "stride with dilation 1, or dilate at stride 1 and pool (PyTorch allows both)",
        )
    same = node.same or same_padding(node)
    if not same:
        arg = w.pad(path, node.padding, arg, out)
    name = w.label(path)
    c, g = node.in_shape.c, node.groups
    opts = _conv_options(node.kernel, node.stride, node.dilation)
    if same:
        opts += ', padding="same"'
    bias = "" if node.bias else ", use_bias=False"
    shape = nhwc(node.out_shape)
    if g > 1 and g == c:
        mult = "" if node.out == c else f", depth_multiplier={num(node.out // c)}"
        w.emit(out, f"layers.DepthwiseConv2D({opts}{mult}{bias}, name={name})", arg, shape)
    elif g > 1 and w.gen.split_groups:
        _split_group_conv(w, path, node, arg, out, same, f"{opts}{bias}")
    else:
        groups = f", groups={num(g)}" if g > 1 else ""
        w.emit(
            out,
            f"layers.Conv2D({num(node.out)}, {opts}{groups}{bias}, name={name})",
            arg,
            shape,
        )
    return 4


def _split_group_conv(
    w: LayerWriter, path: str, node: ir.Conv, arg: str, out: str, same: bool, options: str
) -> None:
    """A group conv as slice → Conv2D per group → Concatenate (`split_groups=True`)."""
    c, g = node.in_shape.c, node.groups
    cin, cout = c // g, node.out // g
    h, wd = node.in_shape.h, node.in_shape.w
    if not same:  # padded by ZeroPadding2D first
        top, bottom, left, right = node.padding
        h, wd = h + top + bottom, wd + left + right
    rows = w.names.fresh("rows")
    w.emit(rows, w.flat(h, wd, c, w.label(path + ".rows")), arg)
    crop = w.channel_crop(f"i * {num(cin)}", f"({num(g - 1)} - i) * {num(cin)}")
    piece = (
        f"layers.Reshape(({num(h)}, {num(wd)}, {num(cin)}), name={w.indexed(path, '-in')})"
        f"(layers.Cropping2D({crop}, name={w.indexed(path, '-in', '-crop')})({rows}))"
    )
    part = f"layers.Conv2D({num(cout)}, {options}, name={w.indexed(path, '-g')})({piece})"
    w.emit(
        out,
        f"layers.Concatenate(name={w.label(path)})",
        f"[{part} for i in range({num(g)})]",
        nhwc(node.out_shape),
    )


def _igc(w: LayerWriter, path: str, node: ir.IGC, arg: str, out: str, rank: int) -> int:
    if node.stride != (1, 1) and node.dilation != (1, 1):
        w.refuse(
            node,
            "Keras' convolutions take a stride or a dilation above 1, not both: the Keras "
            "target cannot write this igc's primary conv",
            "stride with dilation 1, or dilate at stride 1 and pool (PyTorch allows both)",
        )
    arg = w.pad(path, node.padding, arg, out)
    g = node.M * node.L
    opts = _conv_options(node.kernel, node.stride, node.dilation)
    w.emit(
        out,
        f"layers.Conv2D({num(g)}, {opts}, groups={num(node.L)}, use_bias=False, name={w.label(path + '.primary')})",
        arg,
    )
    w.shuffle(path + ".interleave", node.L, node.out_shape, out, out)
    bias = "" if node.bias else ", use_bias=False"
    w.emit(
        out,
        f"layers.Conv2D({num(g)}, 1, groups={num(node.M)}{bias}, name={w.label(path + '.secondary')})",
        out,
    )
    w.shuffle(path, node.M, node.out_shape, out, out)
    return 4


def _shuffle(w: LayerWriter, path: str, node: ir.Shuffle, arg: str, out: str, rank: int) -> int:
    w.shuffle(path, node.groups, node.out_shape, arg, out)
    return 4


def _batchnorm(
    w: LayerWriter, path: str, node: ir.BatchNorm, arg: str, out: str, rank: int
) -> int:
    momentum = num(round(1 - node.momentum, 12))
    ctor = f"layers.BatchNormalization(epsilon={num(node.eps)}, momentum={momentum}, name={w.label(path)})"
    w.emit(out, ctor, arg, nhwc(node.out_shape) if rank == 4 else num(node.out_shape.c))
    return rank


def _act(w: LayerWriter, path: str, node: ir.Act, arg: str, out: str, rank: int) -> int:
    name = w.label(path)
    if node.kind == "prelu":
        axes = "shared_axes=[1, 2], " if rank == 4 else ""
        ctor = (
            f"layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25), {axes}name={name})"
        )
    elif node.kind == "leakyrelu":
        ctor = f"layers.LeakyReLU(negative_slope={num(node.slope)}, name={name})"
    elif node.kind == "hsigmoid":
        w.hard_sigmoid(path, arg, out)
        return rank
    elif node.kind == "gelu_tanh":
        keras3_norm.gelu_tanh(
            w, lambda part: w.label(f"{path}.{part}" if part else path), arg, out
        )
        return rank
    else:
        ctor = _ACTS[node.kind].format(name=f"name={name}")
    w.emit(out, ctor, arg)
    return rank


def _se(w: LayerWriter, path: str, node: ir.SE, arg: str, out: str, rank: int) -> int:
    """torchvision's SqueezeExcitation as layers named after its modules (`se1-fc1`, ...),
    so that weights transfer by name; the product is the layer named after the se."""
    scale = w.names.fresh("scale")
    w.emit(
        scale,
        f"layers.GlobalAveragePooling2D(keepdims=True, name={w.label(path + '.avgpool')})",
        arg,
    )
    fc1 = w.label(path + ".fc1")
    w.emit(scale, f"layers.Conv2D({num(node.squeeze)}, 1, name={fc1})", scale)
    w.activation(node.act, path + ".activation", scale, scale)
    fc2 = w.label(path + ".fc2")
    w.emit(scale, f"layers.Conv2D({num(node.in_shape.c)}, 1, name={fc2})", scale)
    w.activation(node.gate, path + ".scale_activation", scale, scale)
    w.emit(
        out, f"layers.Multiply(name={w.label(path)})", f"[{arg}, {scale}]", nhwc(node.out_shape)
    )
    return 4


def _flatten(w: LayerWriter, path: str, node: ir.Flatten, arg: str, out: str, rank: int) -> int:
    if rank == 4 and (node.in_shape.h, node.in_shape.w) != (1, 1):
        # PyTorch flattens (C, H, W); a channels_last map is (H, W, C)
        w.emit(out, f"layers.Permute((3, 1, 2), name={w.label(path + '.nchw')})", arg)
        arg = out
    w.emit(out, f"layers.Flatten(name={w.label(path)})", arg, num(node.out_shape.c))
    return 2


def _linear(w: LayerWriter, path: str, node: ir.Linear, arg: str, out: str, rank: int) -> int:
    if rank == 4:
        w.emit(out, f"layers.Flatten(name={w.label(path + '.flatten')})", arg)
        arg = out
    bias = "" if node.bias else ", use_bias=False"
    w.emit(out, f"layers.Dense({num(node.out)}{bias}, name={w.label(path)})", arg, num(node.out))
    return 2


def _slice(w: LayerWriter, path: str, node: ir.ChannelSlice, arg: str, out: str, rank: int) -> int:
    """Channels start .. start+out-1: the channels as the columns of (H·W, C, 1) rows (one
    row for an (N, C) tensor), cropped by Cropping2D, reshaped back."""
    c, start, keep = node.in_shape.c, node.start, node.out_shape.c
    h, wd = (node.in_shape.h, node.in_shape.w) if rank == 4 else (1, 1)
    w.emit(out, w.flat(h, wd, c, w.label(path + ".rows")), arg)
    crop = w.channel_crop(start, c - start - keep)
    w.emit(out, f"layers.Cropping2D({crop}, name={w.label(path + '.crop')})", out)
    dims = f"({num(h)}, {num(wd)}, {num(keep)})" if rank == 4 else f"({num(keep)},)"
    w.emit(out, f"layers.Reshape({dims}, name={w.label(path)})", out)
    return rank


def _dropout(w: LayerWriter, path: str, node: ir.Dropout, arg: str, out: str, rank: int) -> int:
    w.emit(out, f"layers.Dropout({num(node.p)}, name={w.label(path)})", arg)
    return rank


def _droppath(w: LayerWriter, path: str, node: ir.DropPath, arg: str, out: str, rank: int) -> int:
    """Keras' Dropout with one draw per sample (its noise broadcast over the rest): the
    same distribution as PyTorch's DropPath, from Keras' own random stream."""
    noise = "(None, 1, 1, 1)" if rank == 4 else "(None, 1)"
    w.emit(out, f"layers.Dropout({num(node.p)}, noise_shape={noise}, name={w.label(path)})", arg)
    return rank


def _identity(w: LayerWriter, path: str, node: ir.Identity, arg: str, out: str, rank: int) -> int:
    w.emit(out, f"layers.Identity(name={w.label(path)})", arg)
    return rank


# The code of each leaf layer type, called as `code(writer, path, node, arg, out, rank)`:
# it appends to `writer` (a LayerWriter) the statements applying `node` to the variable
# `arg`, its result in the variable `out`, its layers named after the module path `path`
# (`unit1.conv1` -> `{name}-conv1`); `rank` is the input's (4: a map, 2: an (N, C) tensor).
# Returns the output's rank.
LAYER_CODE: dict[type[ir.Node], Callable[[LayerWriter, str, Any, str, str, int], int]] = {
    ir.Conv: _conv,
    ir.IGC: _igc,
    ir.Shuffle: _shuffle,
    ir.ChannelSlice: _slice,
    ir.BatchNorm: _batchnorm,
    ir.LayerNorm: keras3_norm.layernorm,
    ir.LayerScale: keras3_norm.layerscale,
    ir.GRN: keras3_norm.grn,
    ir.Act: _act,
    ir.Pool: keras3_pool.pool,
    ir.AdaptivePool: keras3_pool.adaptive_pool,
    ir.SE: _se,
    ir.GlobalPool: keras3_pool.global_pool,
    ir.Flatten: _flatten,
    ir.Linear: _linear,
    ir.PointLinear: keras3_norm.point_linear,
    ir.Dropout: _dropout,
    ir.DropPath: _droppath,
    ir.Identity: _identity,
}


def same_padding(node: ir.Conv) -> bool:
    """Whether Keras' `padding="same"` is exactly PyTorch's padding here: at stride 1 it pads
    d·(k-1)/2 on every side, symmetric when d·(k-1) is even.  (At stride 2 it may pad the
    bottom and right only, so there PyTorch's padding is written out with ZeroPadding2D;
    a conv written `padding=same` is TensorFlow's rule and uses it at every stride.)"""
    padding = ir.symmetric(node.padding)
    if node.stride != (1, 1) or padding is None or padding == (0, 0):
        return False
    return all(
        d * (k - 1) % 2 == 0 and p == d * (k - 1) // 2
        for k, p, d in zip(node.kernel, padding, node.dilation, strict=True)
    )


def _conv_options(
    kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> str:
    opts = [size(kernel)]
    if stride != (1, 1):
        opts.append(f"strides={size(stride)}")
    if dilation != (1, 1):
        opts.append(f"dilation_rate={size(dilation)}")
    return ", ".join(opts)
