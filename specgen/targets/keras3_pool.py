"""The Keras 3 target's pooling layers: max and average pools (PyTorch's padding and ceil
mode in Keras' layers), adaptive average pooling and the global pools.

Each function has LAYER_CODE's signature (see keras3_layers); `w` is its LayerWriter.
"""

from __future__ import annotations

from typing import Any

from .. import ir
from ..layers.shapes import ceil_extra
from .common import nhwc, num, size


def pool(w: Any, path: str, node: ir.Pool, arg: str, out: str, rank: int) -> int:
    """Keras pads `same` as TensorFlow does (the odd row at the bottom/right, left out of
    an average).  Anything else is padded first: -inf before a max, zeros before an
    average (PyTorch counts them).  Keras has no ceil mode: the rows a ceil-mode window
    reaches past the input are padded at the bottom/right too, which is exact for a max;
    an average would count them where PyTorch does not, so that case is refused."""
    name = w.label(path)
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
                w.refuse(
                    node,
                    "Keras has no ceil_mode, and this avgpool's last window reaches past "
                    "its padded input, where PyTorch leaves those positions out of the "
                    "average: the Keras target cannot compute it exactly",
                    "drop ceil_mode, or choose sizes whose windows fit (then ceil_mode "
                    "changes nothing)",
                )
            padding = (top, bottom + extra_h, left, right + extra_w)
        if node.kind == "max":
            arg = w.edge_pad(path, padding, node.in_shape, arg, out)
        else:
            arg = w.pad(path, padding, arg, out)
    w.emit(out, f"{cls}({opts}, name={name})", arg, nhwc(node.out_shape))
    return 4


def adaptive_pool(w: Any, path: str, node: ir.AdaptivePool, arg: str, out: str, rank: int) -> int:
    """The identity when the size is the input's, an AveragePooling2D when it divides the
    input (then PyTorch's windows are that pooling's), else PyTorch's windows one by one."""
    name = w.label(path)
    (h, wd), (oh, ow) = (node.in_shape.h, node.in_shape.w), node.size
    if (h, wd) == (oh, ow):
        w.emit(out, f"layers.Identity(name={name})", arg, nhwc(node.out_shape))
    elif h % oh == 0 and wd % ow == 0:
        pool = size((h // oh, wd // ow))
        w.emit(out, f"layers.AveragePooling2D({pool}, name={name})", arg, nhwc(node.out_shape))
    else:
        cur = arg
        for axis, size_in, size_out in ((1, h, oh), (2, wd, ow)):
            last = axis == 2 or wd == ow
            label = w.label(path if last else path + ".rows")
            cur = adaptive_axis(w, path, axis, size_in, size_out, cur, out, label)
        if cur != out:
            w.emit(out, f"layers.Identity(name={name})", cur)
    return 4


def adaptive_axis(
    w: Any,
    path: str,
    axis: int,
    size_in: int,
    size_out: int,
    arg: str,
    out: str,
    label: str,
) -> str:
    """PyTorch's adaptive windows along one axis (1: rows, 2: columns): output i averages
    positions floor(i·n/o) to ceil((i+1)·n/o); nothing when the sizes agree, one pooling
    when o divides n, else a crop and a pooling per window, concatenated."""
    if size_in == size_out:
        return arg
    if size_in % size_out == 0:
        k = num(size_in // size_out)
        pool = f"({k}, 1)" if axis == 1 else f"(1, {k})"
        w.emit(out, f"layers.AveragePooling2D({pool}, name={label})", arg)
        return out
    windows = [
        (i * size_in // size_out, -(-(i + 1) * size_in // size_out)) for i in range(size_out)
    ]
    listed = ", ".join(f"({num(a)}, {num(b)})" for a, b in windows)
    start, stop = w.names.fresh("start"), w.names.fresh("stop")
    span = f"({start}, {num(size_in)} - {stop})"
    cropping = f"({span}, (0, 0))" if axis == 1 else f"((0, 0), {span})"
    pool = f"({stop} - {start}, 1)" if axis == 1 else f"(1, {stop} - {start})"
    kind = "row" if axis == 1 else "col"
    crop = f"layers.Cropping2D({cropping}, name={w.indexed(path, f'-{kind}', '-crop')})({arg})"
    window = f"layers.AveragePooling2D({pool}, name={w.indexed(path, f'-{kind}')})({crop})"
    items = f"[{window} for i, ({start}, {stop}) in enumerate(({listed}))]"
    w.emit(out, f"layers.Concatenate(axis={axis}, name={label})", items)
    return out


def global_pool(w: Any, path: str, node: ir.GlobalPool, arg: str, out: str, rank: int) -> int:
    cls = "layers.GlobalAveragePooling2D" if node.kind == "avg" else "layers.GlobalMaxPooling2D"
    w.emit(out, f"{cls}(keepdims=True, name={w.label(path)})", arg, nhwc(node.out_shape))
    return 4
