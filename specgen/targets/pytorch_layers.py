"""The PyTorch target's per-layer code: the constructor expression of each layer's module
(`LAYER_CODE`, one entry per leaf IR node type) and the padding a module cannot do itself.

The classes, their attributes and their `forward` data flow are laid out by `pytorch.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import ir
from .common import num, size

# activations a deploy-form conv runs in its own kernel (DeployConv2d's `activation`)
FUSED_ACTS = frozenset({"relu", "relu6"})
_ACTS = {
    "relu": "nn.ReLU({inplace})",
    "relu6": "nn.ReLU6({inplace})",
    "leakyrelu": "nn.LeakyReLU({slope}{inplace_kw})",
    "prelu": "nn.PReLU({channels})",
    "hswish": "nn.Hardswish({inplace})",
    "hsigmoid": "nn.Hardsigmoid({inplace})",
    "sigmoid": "nn.Sigmoid()",
    "silu": "nn.SiLU({inplace})",
    "tanh": "nn.Tanh()",
    "gelu": "nn.GELU()",
    "gelu_tanh": 'nn.GELU(approximate="tanh")',
    "softmax": "nn.Softmax(dim=1)",
}
# the classes `se`'s activation and gate are made of (torchvision's `activation=` and
# `scale_activation=`; ReLU and Sigmoid are its defaults)
_SE_CLASSES = {
    "relu": "nn.ReLU",
    "relu6": "nn.ReLU6",
    "silu": "nn.SiLU",
    "hswish": "nn.Hardswish",
    "gelu": "nn.GELU",
    "sigmoid": "nn.Sigmoid",
    "hsigmoid": "nn.Hardsigmoid",
}


def conv_args(node: ir.Conv | ir.IGC) -> list[str]:
    """Keyword arguments shared by Conv2d and InterleavedGroupConv; defaults left out."""
    args = [f"kernel_size={size(node.kernel)}"]
    if node.stride != (1, 1):
        args.append(f"stride={size(node.stride)}")
    padding = ir.symmetric(node.padding)  # else padded in forward (see `padded`)
    if padding is not None and padding != (0, 0):
        args.append(f"padding={size(padding)}")
    if node.dilation != (1, 1):
        args.append(f"dilation={size(node.dilation)}")
    return args


# ---- one constructor per leaf node type: (node, rank, inplace, fused) -> expression ---------


def _conv(node: ir.Conv, rank: int, inplace: bool, fused: str | None) -> str:
    args = [num(node.in_shape.c), num(node.out), *conv_args(node)]
    if node.groups != 1:
        args.append(f"groups={num(node.groups)}")
    if not node.bias:
        args.append("bias=False")
    if fused is None:
        return f"nn.Conv2d({', '.join(args)})"
    if fused != "none":
        args.append(f'activation="{fused}"')
    return f"DeployConv2d({', '.join(args)})"


def _igc(node: ir.IGC, rank: int, inplace: bool, fused: str | None) -> str:
    args = [f"M={num(node.M)}", f"L={num(node.L)}", *conv_args(node)]
    if node.bias:
        args.append("bias=True")
    return f"InterleavedGroupConv({', '.join(args)})"


def _shuffle(node: ir.Shuffle, rank: int, inplace: bool, fused: str | None) -> str:
    return f"ChannelShuffle({num(node.groups)})"


def _slice(node: ir.ChannelSlice, rank: int, inplace: bool, fused: str | None) -> str:
    return f"ChannelSlice({num(node.start)}, {num(node.out_shape.c)})"


def _batchnorm(node: ir.BatchNorm, rank: int, inplace: bool, fused: str | None) -> str:
    args = [num(node.in_shape.c)]
    if node.eps != 1e-5:
        args.append(f"eps={num(node.eps)}")
    if node.momentum != 0.1:
        args.append(f"momentum={num(node.momentum)}")
    return f"nn.BatchNorm{'1' if rank == 2 else '2'}d({', '.join(args)})"


def _layernorm(node: ir.LayerNorm, rank: int, inplace: bool, fused: str | None) -> str:
    eps = "" if node.eps == 1e-5 else f", eps={num(node.eps)}"
    return f"{'nn.LayerNorm' if rank == 2 else 'LayerNorm2d'}({num(node.in_shape.c)}{eps})"


def _layerscale(node: ir.LayerScale, rank: int, inplace: bool, fused: str | None) -> str:
    return f"LayerScale({num(node.in_shape.c)}, {num(node.init)})"


def _grn(node: ir.GRN, rank: int, inplace: bool, fused: str | None) -> str:
    eps = "" if node.eps == 1e-6 else f", eps={num(node.eps)}"
    return f"GlobalResponseNorm({num(node.in_shape.c)}{eps})"


def _act(node: ir.Act, rank: int, inplace: bool, fused: str | None) -> str:
    return _ACTS[node.kind].format(
        inplace="inplace=True" if inplace else "",
        inplace_kw=", inplace=True" if inplace else "",
        slope=f"negative_slope={num(node.slope)}",
        channels=num(node.in_shape.c),
    )


def _pool(node: ir.Pool, rank: int, inplace: bool, fused: str | None) -> str:
    """MaxPool2d / AvgPool2d; an average over a `same` padding leaves the padding out of its
    count (count_include_pad=False), as TensorFlow does."""
    cls = "nn.MaxPool2d" if node.kind == "max" else "nn.AvgPool2d"
    args = [f"kernel_size={size(node.kernel)}", f"stride={size(node.stride)}"]
    padding = ir.symmetric(node.padding)  # else padded in forward (see `padded`)
    if padding is not None and padding != (0, 0):
        args.append(f"padding={size(padding)}")
        if node.same and node.kind == "avg":
            args.append("count_include_pad=False")
    if node.ceil_mode:
        args.append("ceil_mode=True")
    return f"{cls}({', '.join(args)})"


def _adaptive_pool(node: ir.AdaptivePool, rank: int, inplace: bool, fused: str | None) -> str:
    return f"nn.AdaptiveAvgPool2d({size(node.size)})"


def _se(node: ir.SE, rank: int, inplace: bool, fused: str | None) -> str:
    args = [num(node.in_shape.c), num(node.squeeze)]
    if node.act != "relu":
        args.append(f"activation={_SE_CLASSES[node.act]}")
    if node.gate != "sigmoid":
        args.append(f"scale_activation={_SE_CLASSES[node.gate]}")
    return f"SqueezeExcitation({', '.join(args)})"


def _global_pool(node: ir.GlobalPool, rank: int, inplace: bool, fused: str | None) -> str:
    return "nn.AdaptiveAvgPool2d(1)" if node.kind == "avg" else "nn.AdaptiveMaxPool2d(1)"


def _flatten(node: ir.Flatten, rank: int, inplace: bool, fused: str | None) -> str:
    return "nn.Flatten()"


def _linear(node: ir.Linear, rank: int, inplace: bool, fused: str | None) -> str:
    bias = "" if node.bias else ", bias=False"
    return f"nn.Linear({num(node.in_shape.numel)}, {num(node.out)}{bias})"


def _point_linear(node: ir.PointLinear, rank: int, inplace: bool, fused: str | None) -> str:
    bias = "" if node.bias else ", bias=False"
    cls = "nn.Linear" if rank == 2 else "Linear2d"
    return f"{cls}({num(node.in_shape.c)}, {num(node.out)}{bias})"


def _dropout(node: ir.Dropout, rank: int, inplace: bool, fused: str | None) -> str:
    return f"nn.Dropout(p={num(node.p)})"


def _droppath(node: ir.DropPath, rank: int, inplace: bool, fused: str | None) -> str:
    return f"DropPath({num(node.p)})"


def _identity(node: ir.Identity, rank: int, inplace: bool, fused: str | None) -> str:
    return "nn.Identity()"


# The module constructor of each leaf layer type, called as `code(node, rank, inplace,
# fused)`: `rank` is that of its input (4: a map, 2: an (N, C) tensor), `inplace` whether an
# activation may overwrite its input, `fused` (convs of the deploy form only) what the conv's
# DeployConv2d fuses ("none", or one of FUSED_ACTS).  Returns the expression, e.g.
# `nn.Conv2d(3, 16, kernel_size=3, padding=1)`.
LAYER_CODE: dict[type[ir.Node], Callable[[Any, int, bool, str | None], str]] = {
    ir.Conv: _conv,
    ir.IGC: _igc,
    ir.Shuffle: _shuffle,
    ir.ChannelSlice: _slice,
    ir.BatchNorm: _batchnorm,
    ir.LayerNorm: _layernorm,
    ir.LayerScale: _layerscale,
    ir.GRN: _grn,
    ir.Act: _act,
    ir.Pool: _pool,
    ir.AdaptivePool: _adaptive_pool,
    ir.SE: _se,
    ir.GlobalPool: _global_pool,
    ir.Flatten: _flatten,
    ir.Linear: _linear,
    ir.PointLinear: _point_linear,
    ir.Dropout: _dropout,
    ir.DropPath: _droppath,
    ir.Identity: _identity,
}


def module_ctor(node: ir.Node, rank: int, inplace: bool, fused: str | None = None) -> str:
    """The constructor expression of one layer (see LAYER_CODE); `fused` (deploy form only):
    a conv's DeployConv2d, with the activation after it when one of FUSED_ACTS ("none" else)."""
    code = LAYER_CODE.get(type(node))
    if code is None:
        raise AssertionError(f"no PyTorch module for {type(node).__name__}")
    return code(node, rank, inplace, fused)


def pad_sides(pad: ir.Pad) -> str:
    """F.pad's order: (left, right, top, bottom)."""
    top, bottom, left, right = pad
    return f"({num(left)}, {num(right)}, {num(top)}, {num(bottom)})"


def padded(node: ir.Node, arg: str) -> str:
    """`arg`, padded first where the module cannot pad it itself (an asymmetric padding):
    zeros before a conv or an average, -inf before a max (what PyTorch's padding means)."""
    t = type(node)
    if t not in (ir.Conv, ir.IGC, ir.Pool) or ir.symmetric(node.padding) is not None:
        return arg
    value = ', value=float("-inf")' if t is ir.Pool and node.kind == "max" else ""
    return f"nn.functional.pad({arg}, {pad_sides(node.padding)}{value})"
