"""The Keras 3 target: one self-contained module of functional-API builders (channels_last).

One builder function per distinct block instantiation (`unit(x, name)`, its layers named
`{name}-conv1`), and a network function returning a `keras.Model`.  Everything PyTorch does
implicitly is explicit: ZeroPadding2D + valid padding wherever PyTorch pads, BatchNorm epsilon
and momentum, per-channel PReLU, -inf padding before max pooling, PyTorch's (C, H, W) order
before `flatten`.  Each block ends in an Identity layer named after it, so its output can be
read by name.  `split_groups=True` writes group convolutions as slice → Conv2D per group →
Concatenate, for export paths that reject `groups`.

Only Keras' own layers are used (no custom class, no Lambda): a saved `.keras` file loads with
plain `keras.saving.load_model` in any process.  Channel shuffle is Reshape → Permute →
Reshape, a channel slice Reshape → Cropping2D → Reshape, the -inf padding of a max pool edge
copies (Cropping2D + Concatenate), PyTorch's hard sigmoid Normalization + ReLU, and adaptive
average pooling crops and poolings.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from .. import ir
from ..errors import Diagnostic, Frame, SpecError
from ..layers.shapes import ceil_extra
from ..names import NameTable
from . import register
from .common import (
    BodyWriter,
    block_keys,
    call_text,
    doc_info,
    fits,
    instance_key,
    instance_names,
    layout,
    num,
    render,
    run_source,
    size,
)

# module-level names of keras.py.j2 (and of its former helper layers, kept reserved so that
# generated names stay as they were), and the fixed locals of its functions
TEMPLATE_NAMES = frozenset(
    {"keras", "layers", "ops", "ChannelShuffle", "ChannelSlice", "ConstantPad2D"}
    | {"HardSigmoid", "AdaptiveAveragePooling2D", "x", "inputs", "name", "i"}
)
DEPTH = 1  # statements stand in functions
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
    "hsigmoid": "",  # see _Writer.hard_sigmoid
    "softmax": "layers.Softmax({name})",
}


def keras_name(path: str) -> str:
    """The Keras layer name of a PyTorch module path: `unit1.conv1` -> `unit1-conv1`."""
    return path.replace(".", "-")


def nhwc(shape: ir.Shape) -> str:
    """`HxWxC`, or `C` for an (N, C) tensor (after fc or flatten)."""
    if shape.flat:
        return num(shape.c)
    return f"{num(shape.h)}x{num(shape.w)}x{num(shape.c)}"


@dataclass
class _Function:
    name: str
    signature: str
    returns: str
    doc: str
    wrap: bool = True
    lines: list[str] = field(default_factory=list)
    out_rank: int = 4

    @property
    def header(self) -> str:
        """The `def` line(s), as black lays them out."""
        line = f"def {self.name}({self.signature}){self.returns}:"
        return "\n".join(layout(line, 0, wrap=self.wrap))


def _function_style(block: str, index: int | None) -> str:
    """`unit`, or `unit_1`, `unit_2`, ..."""
    return block if index is None else f"{block}_{index}"


class _Generator:
    """The functions of one module.  Its name table holds the templates' names, then the
    network function, then one function per block instantiation; each function's locals
    come from a table inside it."""

    def __init__(self, net: Any, split_groups: bool, wrap: bool = True):
        self.net = net
        self.split_groups = split_groups
        self.wrap = wrap
        self.functions: list[_Function] = []
        self.done: dict[tuple, _Function] = {}
        self.stack: list[Frame] = []  # the block calls being written, for located errors
        self.table = NameTable(TEMPLATE_NAMES)
        self.network_name = self.table.take(net.name)
        self.names = instance_names(block_keys(net), self.table, _function_style)

    def network(self) -> _Function:
        net = self.net
        s = net.input_shape
        doc = (
            f"{call_text(net.name, net.ir.params)}: {nhwc(s)} -> {nhwc(net.output_shape)} (NHWC)."
        )
        fn = _Function(self.network_name, "", " -> keras.Model", doc, self.wrap)
        writer = _Writer(self, fn, prefix=None)
        writer.add(
            f'inputs = keras.Input(shape=({num(s.h)}, {num(s.w)}, {num(s.c)}), name="input")'
        )
        out, _ = writer.seq(net.ir.body.children, "inputs", "x", 4)
        writer.add(f'return keras.Model(inputs, {out}, name="{net.name}")')
        self.functions.append(fn)
        return fn

    def block(self, node: ir.Block) -> _Function:
        key = instance_key(node)
        fn = self.done.get(key)
        if fn is None:
            doc = (
                f"{call_text(node.name, node.args)}: {nhwc(node.in_shape)} -> "
                f"{nhwc(node.out_shape)}; layers named `{{name}}-...`."
            )
            fn = _Function(self.names[key], "x, name: str", "", doc, self.wrap)
            writer = _Writer(self, fn, prefix="name")
            self.stack.append(Frame(node.name, node.args, node.src.span))
            try:
                out, rank = writer.seq(node.body.children, "x", "x", 4)
            finally:
                self.stack.pop()
            writer.add(f"return layers.Identity(name=name)({out})")
            fn.out_rank = rank
            self.functions.append(fn)
            self.done[key] = fn
        return fn


class _Writer(BodyWriter):
    """The lines of one builder function; `prefix` is the variable holding the block's name."""

    def __init__(self, gen: _Generator, fn: _Function, prefix: str | None):
        super().__init__(fn.lines, NameTable(parent=gen.table), DEPTH, gen.wrap)
        self.gen, self.fn, self.prefix = gen, fn, prefix

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
        self.add(line, comment if comment and fits(f"{line}  # {comment}", DEPTH) else "")

    # ---- BodyWriter --------------------------------------------------------------------
    def layer(self, name: str, node: ir.Node, arg: str, out: str, rank: int, owned: bool) -> int:
        t = type(node)
        if t is ir.Block:
            fn = self.gen.block(node)
            block_name = f'f"{{{self.prefix}}}-{name}"' if self.prefix else f'"{name}"'
            self.add(f"{out} = {fn.name}({arg}, {block_name})", nhwc(node.out_shape))
            return fn.out_rank
        if t is ir.SepConv:
            cur = arg
            for child_name, child in node.body.children:
                self.leaf(f"{name}.{child_name}", child, cur, out, 4)
                cur = out
            self.emit(out, f"layers.Identity(name={self.label(name)})", cur)
            return 4
        return self.leaf(name, node, arg, out, rank)

    def to_map(self, var: str, out: str, shape: ir.Shape) -> None:
        self.emit(out, f"layers.Reshape((1, 1, {num(shape.c)}))", var)

    def merge(self, kind: str, name: str, out: str, parts: list[str], node: ir.Node) -> None:
        layer = "layers.Add" if kind == "add" else "layers.Concatenate"
        if len(parts) == 1:
            self.add(f"{out} = {parts[0]}")
            return
        self.emit(
            out, f"{layer}(name={self.label(name)})", f"[{', '.join(parts)}]", nhwc(node.out_shape)
        )

    def composite(self, name: str, node: ir.Node, cur: str, out: str, rank: int):
        if type(node) is ir.Split:
            self.split_shape = node.in_shape  # `split` below slices this map
        return super().composite(name, node, cur, out, rank)

    def split(self, name: str, parts: list[str], var: str, sizes: tuple[int, ...]) -> None:
        """Each part: the map as (H·W, C, 1), cropped to its channels, reshaped back."""
        shape = self.split_shape
        rows = self.names.fresh("rows")
        self.emit(rows, self.flat(shape.h, shape.w, shape.c, self.label(f"{name}.rows")), var)
        start = 0
        for i, (part, width) in enumerate(zip(parts, sizes, strict=True), 1):
            crop = f"layers.Cropping2D({self.channel_crop(start, shape.c - start - width)}, name={self.label(f'{name}.part{i}.crop')})"
            self.emit(part, crop, rows)
            label = self.label(f"{name}.part{i}")
            dims = f"({num(shape.h)}, {num(shape.w)}, {num(width)})"
            self.emit(part, f"layers.Reshape({dims}, name={label})", part)
            start += width

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

    # ---- layers ------------------------------------------------------------------------
    def leaf(self, path: str, node: ir.Node, arg: str, out: str, rank: int) -> int:
        t = type(node)
        name = self.label(path)
        shape = nhwc(node.out_shape)
        if t is ir.Conv:
            same = node.same or same_padding(node)
            if not same:
                arg = self.pad(path, node.padding, arg, out)
            self.conv(path, node, arg, out, same)
            return 4
        if t is ir.IGC:
            arg = self.pad(path, node.padding, arg, out)
            g = node.M * node.L
            opts = _conv_options(node.kernel, node.stride, node.dilation)
            self.emit(
                out,
                f"layers.Conv2D({num(g)}, {opts}, groups={num(node.L)}, use_bias=False, name={self.label(path + '.primary')})",
                arg,
            )
            self.shuffle(path + ".interleave", node.L, node.out_shape, out, out)
            bias = "" if node.bias else ", use_bias=False"
            self.emit(
                out,
                f"layers.Conv2D({num(g)}, 1, groups={num(node.M)}{bias}, name={self.label(path + '.secondary')})",
                out,
            )
            self.shuffle(path, node.M, node.out_shape, out, out)
            return 4
        if t is ir.Shuffle:
            self.shuffle(path, node.groups, node.out_shape, arg, out)
            return 4
        if t is ir.BatchNorm:
            momentum = num(round(1 - node.momentum, 12))
            ctor = f"layers.BatchNormalization(epsilon={num(node.eps)}, momentum={momentum}, name={name})"
            self.emit(out, ctor, arg, shape if rank == 4 else num(node.out_shape.c))
            return rank
        if t is ir.Act:
            if node.kind == "prelu":
                axes = "shared_axes=[1, 2], " if rank == 4 else ""
                ctor = f"layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25), {axes}name={name})"
            elif node.kind == "leakyrelu":
                ctor = f"layers.LeakyReLU(negative_slope={num(node.slope)}, name={name})"
            elif node.kind == "hsigmoid":
                self.hard_sigmoid(path, arg, out)
                return rank
            else:
                ctor = _ACTS[node.kind].format(name=f"name={name}")
            self.emit(out, ctor, arg)
            return rank
        if t is ir.Pool:
            self.pool(path, node, arg, out)
            return 4
        if t is ir.AdaptivePool:
            self.adaptive(path, node, arg, out)
            return 4
        if t is ir.SE:
            self.squeeze_excitation(path, node, arg, out)
            return 4
        if t is ir.GlobalPool:
            cls = (
                "layers.GlobalAveragePooling2D"
                if node.kind == "avg"
                else "layers.GlobalMaxPooling2D"
            )
            self.emit(out, f"{cls}(keepdims=True, name={name})", arg, shape)
            return 4
        if t is ir.Flatten:
            if rank == 4 and (node.in_shape.h, node.in_shape.w) != (1, 1):
                # PyTorch flattens (C, H, W); a channels_last map is (H, W, C)
                self.emit(
                    out, f"layers.Permute((3, 1, 2), name={self.label(path + '.nchw')})", arg
                )
                arg = out
            self.emit(out, f"layers.Flatten(name={name})", arg, num(node.out_shape.c))
            return 2
        if t is ir.Linear:
            if rank == 4:
                self.emit(out, f"layers.Flatten(name={self.label(path + '.flatten')})", arg)
                arg = out
            bias = "" if node.bias else ", use_bias=False"
            self.emit(out, f"layers.Dense({num(node.out)}{bias}, name={name})", arg, num(node.out))
            return 2
        if t is ir.Dropout:
            self.emit(out, f"layers.Dropout({num(node.p)}, name={name})", arg)
            return rank
        if t is ir.Identity:
            self.emit(out, f"layers.Identity(name={name})", arg)
            return rank
        raise AssertionError(f"no Keras layer for {t.__name__}")

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

    def pool(self, path: str, node: ir.Pool, arg: str, out: str) -> None:
        """Keras pads `same` as TensorFlow does (the odd row at the bottom/right, left out of
        an average).  Anything else is padded first: -inf before a max, zeros before an
        average (PyTorch counts them).  Keras has no ceil mode: the rows a ceil-mode window
        reaches past the input are padded at the bottom/right too, which is exact for a max;
        an average would count them where PyTorch does not, so that case is refused."""
        name = self.label(path)
        cls = "layers.MaxPooling2D" if node.kind == "max" else "layers.AveragePooling2D"
        opts = f"pool_size={size(node.kernel)}, strides={size(node.stride)}"
        if node.same:
            opts += ', padding="same"'
        else:
            padding = node.padding
            if node.ceil_mode:
                top, bottom, left, right = padding
                o = node.out_shape
                extra_h = ceil_extra(node.in_shape.h, node.kernel[0], node.stride[0], top, o.h)
                extra_w = ceil_extra(node.in_shape.w, node.kernel[1], node.stride[1], left, o.w)
                if node.kind == "avg" and (extra_h or extra_w):
                    self.refuse(
                        node,
                        "Keras has no ceil_mode, and this avgpool's last window reaches past "
                        "its padded input, where PyTorch leaves those positions out of the "
                        "average: the Keras target cannot compute it exactly",
                        "drop ceil_mode, or choose sizes whose windows fit (then ceil_mode "
                        "changes nothing)",
                    )
                padding = (top, bottom + extra_h, left, right + extra_w)
            if node.kind == "max":
                arg = self.edge_pad(path, padding, node.in_shape, arg, out)
            else:
                arg = self.pad(path, padding, arg, out)
        self.emit(out, f"{cls}({opts}, name={name})", arg, nhwc(node.out_shape))

    def adaptive(self, path: str, node: ir.AdaptivePool, arg: str, out: str) -> None:
        """The identity when the size is the input's, an AveragePooling2D when it divides the
        input (then PyTorch's windows are that pooling's), else PyTorch's windows one by one."""
        name = self.label(path)
        (h, w), (oh, ow) = (node.in_shape.h, node.in_shape.w), node.size
        if (h, w) == (oh, ow):
            self.emit(out, f"layers.Identity(name={name})", arg, nhwc(node.out_shape))
        elif h % oh == 0 and w % ow == 0:
            pool = size((h // oh, w // ow))
            self.emit(
                out, f"layers.AveragePooling2D({pool}, name={name})", arg, nhwc(node.out_shape)
            )
        else:
            cur = arg
            for axis, size_in, size_out in ((1, h, oh), (2, w, ow)):
                last = axis == 2 or w == ow
                label = self.label(path if last else path + ".rows")
                cur = self.adaptive_axis(path, axis, size_in, size_out, cur, out, label)
            if cur != out:
                self.emit(out, f"layers.Identity(name={name})", cur)

    def adaptive_axis(
        self, path: str, axis: int, size_in: int, size_out: int, arg: str, out: str, label: str
    ) -> str:
        """PyTorch's adaptive windows along one axis (1: rows, 2: columns): output i averages
        positions floor(i·n/o) to ceil((i+1)·n/o); nothing when the sizes agree, one pooling
        when o divides n, else a crop and a pooling per window, concatenated."""
        if size_in == size_out:
            return arg
        if size_in % size_out == 0:
            k = num(size_in // size_out)
            pool = f"({k}, 1)" if axis == 1 else f"(1, {k})"
            self.emit(out, f"layers.AveragePooling2D({pool}, name={label})", arg)
            return out
        windows = [
            (i * size_in // size_out, -(-(i + 1) * size_in // size_out)) for i in range(size_out)
        ]
        listed = ", ".join(f"({num(a)}, {num(b)})" for a, b in windows)
        start, stop = self.names.fresh("start"), self.names.fresh("stop")
        span = f"({start}, {num(size_in)} - {stop})"
        cropping = f"({span}, (0, 0))" if axis == 1 else f"((0, 0), {span})"
        pool = f"({stop} - {start}, 1)" if axis == 1 else f"(1, {stop} - {start})"
        kind = "row" if axis == 1 else "col"
        crop = (
            f"layers.Cropping2D({cropping}, name={self.indexed(path, f'-{kind}', '-crop')})({arg})"
        )
        window = f"layers.AveragePooling2D({pool}, name={self.indexed(path, f'-{kind}')})({crop})"
        items = f"[{window} for i, ({start}, {stop}) in enumerate(({listed}))]"
        self.emit(out, f"layers.Concatenate(axis={axis}, name={label})", items)
        return out

    def squeeze_excitation(self, path: str, node: ir.SE, arg: str, out: str) -> None:
        """torchvision's SqueezeExcitation as layers named after its modules (`se1-fc1`, ...),
        so that weights transfer by name; the product is the layer named after the se."""
        scale = self.names.fresh("scale")
        self.emit(
            scale,
            f"layers.GlobalAveragePooling2D(keepdims=True, name={self.label(path + '.avgpool')})",
            arg,
        )
        fc1 = self.label(path + ".fc1")
        self.emit(scale, f"layers.Conv2D({num(node.squeeze)}, 1, name={fc1})", scale)
        self.activation(node.act, path + ".activation", scale, scale)
        fc2 = self.label(path + ".fc2")
        self.emit(scale, f"layers.Conv2D({num(node.in_shape.c)}, 1, name={fc2})", scale)
        self.activation(node.gate, path + ".scale_activation", scale, scale)
        self.emit(
            out,
            f"layers.Multiply(name={self.label(path)})",
            f"[{arg}, {scale}]",
            nhwc(node.out_shape),
        )

    def activation(self, kind: str, path: str, arg: str, out: str) -> None:
        """One of `se`'s activations (the layer-free ones of _ACTS, or the hard sigmoid)."""
        if kind == "hsigmoid":
            self.hard_sigmoid(path, arg, out)
        else:
            self.emit(out, _ACTS[kind].format(name=f"name={self.label(path)}"), arg)

    def refuse(self, node: ir.Node, message: str, hint: str) -> None:
        """A spec the Keras target cannot write exactly: a located error, as for any mistake."""
        diagnostic = Diagnostic(message, node.src.span, hint, tuple(self.gen.stack), "keras")
        raise SpecError([diagnostic], self.gen.net.source)

    def conv(self, path: str, node: ir.Conv, arg: str, out: str, same: bool) -> None:
        name = self.label(path)
        c, g = node.in_shape.c, node.groups
        opts = _conv_options(node.kernel, node.stride, node.dilation)
        if same:
            opts += ', padding="same"'
        bias = "" if node.bias else ", use_bias=False"
        shape = nhwc(node.out_shape)
        if g > 1 and g == c:
            mult = "" if node.out == c else f", depth_multiplier={num(node.out // c)}"
            self.emit(out, f"layers.DepthwiseConv2D({opts}{mult}{bias}, name={name})", arg, shape)
        elif g > 1 and self.gen.split_groups:
            cin, cout = c // g, node.out // g
            h, w = node.in_shape.h, node.in_shape.w
            if not same:  # padded by ZeroPadding2D first
                top, bottom, left, right = node.padding
                h, w = h + top + bottom, w + left + right
            rows = self.names.fresh("rows")
            self.emit(rows, self.flat(h, w, c, self.label(path + ".rows")), arg)
            crop = self.channel_crop(f"i * {num(cin)}", f"({num(g - 1)} - i) * {num(cin)}")
            piece = (
                f"layers.Reshape(({num(h)}, {num(w)}, {num(cin)}), name={self.indexed(path, '-in')})"
                f"(layers.Cropping2D({crop}, name={self.indexed(path, '-in', '-crop')})({rows}))"
            )
            part = f"layers.Conv2D({num(cout)}, {opts}{bias}, name={self.indexed(path, '-g')})({piece})"
            self.emit(
                out,
                f"layers.Concatenate(name={name})",
                f"[{part} for i in range({num(g)})]",
                shape,
            )
        else:
            groups = f", groups={num(g)}" if g > 1 else ""
            self.emit(
                out,
                f"layers.Conv2D({num(node.out)}, {opts}{groups}{bias}, name={name})",
                arg,
                shape,
            )


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


@dataclass(frozen=True)
class _KerasDoc:
    title: str
    version: str
    source: str
    input_nhwc: str
    output_nhwc: str
    params: str
    macs: str
    flat: bool


class KerasEmitter:
    name = "keras"

    def emit(
        self, net: Any, *, format: bool = True, split_groups: bool = False
    ) -> str:  # noqa: A002
        """The module's source, black-formatted (`format=False` writes every statement on one
        line); `split_groups` writes group convs as per-group Conv2D."""
        return self._emit(net, split_groups, format)[0]

    def _emit(self, net: Any, split_groups: bool, wrap: bool) -> tuple[str, str]:
        """(source, name of the network function)."""
        gen = _Generator(net, split_groups, wrap)
        gen.network()
        d = doc_info(net)
        doc = _KerasDoc(
            d.title,
            d.version,
            d.source,
            nhwc(net.input_shape),
            nhwc(net.output_shape),
            d.params,
            d.macs,
            d.flat,
        )
        code = render("keras.py.j2", doc=doc, functions=gen.functions)
        return code, gen.network_name

    def build(self, net: Any, *, split_groups: bool = False) -> Any:
        """A `keras.Model` of the network, built from the generated source in memory."""
        code, entry = self._emit(net, split_groups, wrap=False)
        namespace = run_source(code, f"specgen_generated_keras.{net.name}", "<specgen keras>")
        # keras.Model maps its graph recursively, a couple of Python frames per layer: a
        # deep network would hit the default limit of 1000 (`relu x 1000`).  Python 3.11+
        # keeps Python-to-Python calls off the C stack, so a higher limit is safe.
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 1000 + 4 * code.count("\n")))
        try:
            return namespace[entry]()
        finally:
            sys.setrecursionlimit(old)


KERAS = register(KerasEmitter())
