"""Each layer of a line as Keras code in the family form: the spec's arguments as Python
expressions, the layers those of the per-point target (`keras3_layers`), so that names,
weights and outputs agree member by member.

What Keras lacks is written with its own layers, as there: PyTorch's symmetric padding as
ZeroPadding2D before a valid conv (`padding="same"` only where it is the same padding), a
max pool's -inf padding as edge copies, channel shuffle as Reshape/Permute/Reshape.  Where a
layer's Keras form depends on the input's size (`gdc`'s kernel, a shuffle's reshape), the
code reads it off the tensor (`x.shape`), which the functional API knows while it builds.
"""

from __future__ import annotations

from typing import Protocol

from ..common import num
from ..family.layers import LineArgs, _padding
from ..family.pyexpr import Untranslatable
from ..keras3_layers import _ACTS
from ..keras3_norm import gelu_tanh


class Writer(Protocol):
    helpers: set[str]

    def emit(self, out: str, ctor: str, arg: str) -> None: ...


class Label:
    """A layer's name as the inside of an f-string (`conv1`, `conv{convs}`, `{path[0]}`),
    and how the code writes it, with the block's `name` before it where there is one."""

    def __init__(self, piece: str, prefix: str | None):
        self.piece, self.prefix = piece, prefix

    def __call__(self, suffix: str = "") -> str:
        content = self.piece + suffix
        if self.prefix is not None:
            return f'f"{{{self.prefix}}}-{content}"'
        if content.startswith("{") and content.endswith("}") and content.count("{") == 1:
            return content[1:-1]  # a local holding the name
        return f'f"{content}"' if "{" in content else f'"{content}"'


def _literal(text: str | None) -> bool:
    return text is None or text.replace(".", "", 1).isdigit() or _is_tuple_literal(text)


def _is_tuple_literal(text: str) -> bool:
    inner = text[1:-1].split(", ") if text.startswith("(") and text.endswith(")") else []
    return bool(inner) and all(p.isdigit() for p in inner)


def _use_bias(bias: str) -> str:
    if bias == "True":
        return ""
    return ", use_bias=False" if bias == "False" else f", use_bias={bias}"


def _window(a: LineArgs, kernel: str, with_dilation: bool = True) -> tuple[str, str, str]:
    """(options text, stride text, dilation text) of a sliding window."""
    stride = a.text("stride") or "1"
    dilation = (a.text("dilation") or "1") if with_dilation else "1"
    opts = kernel
    if stride != "1":
        opts += f", strides={stride}"
    if dilation != "1":
        opts += f", dilation_rate={dilation}"
    return opts, stride, dilation


def _same_at_stride_1(kernel: str, stride: str, padding: str, dilation: str) -> bool:
    """Whether PyTorch's padding is Keras' `same` here (stride 1, d·(k-1)/2 on each side),
    decided from literals: per-point code writes it so, and so does this."""
    sizes = [_pair(t) for t in (kernel, padding, dilation)]
    if stride != "1" or None in sizes:
        return False
    return all(
        p > 0 and d * (k - 1) % 2 == 0 and p == d * (k - 1) // 2
        for k, p, d in zip(*sizes, strict=True)
    )


def _pair(text: str) -> tuple[int, int] | None:
    """A literal size (`3`, `(5, 3)`) as (height, width); None for an expression."""
    if text.isdigit():
        return (int(text), int(text))
    if _is_tuple_literal(text):
        values = tuple(int(p) for p in text[1:-1].split(", "))
        return values if len(values) == 2 else None
    return None


def _auto_padding(a: LineArgs, kernel: str, dilation: str) -> str:
    """The written padding, or the one that keeps H×W at stride 1 (the PyTorch family
    code's rule); a kernel held in a variable may be a pair: `auto_padding` works per axis."""
    k, d = _pair(kernel), _pair(dilation)
    if k is not None and d is not None and "padding" not in a.written:  # literals: a number
        pads = [dd * (kk - 1) // 2 for kk, dd in zip(k, d, strict=True)]
        return num(pads[0]) if pads[0] == pads[1] else f"({num(pads[0])}, {num(pads[1])})"
    if kernel.isidentifier() and "padding" not in a.written:
        a.helpers |= {"auto_padding", "pair"}
        return (
            f"auto_padding({kernel})" if dilation == "1" else f"auto_padding({kernel}, {dilation})"
        )
    padding = _padding(a, kernel, None if dilation == "1" else dilation)
    if "auto_padding" in a.helpers:
        a.helpers.add("pair")
    return padding


def pad_then(w: Writer, padding: str, label: Label, arg: str, out: str) -> str:
    """Zeros around the map before a valid window (nothing for a literal 0)."""
    if padding == "0":
        return arg
    if _literal(padding):
        w.emit(out, f"layers.ZeroPadding2D({padding}, name={label('-pad')})", arg)
    else:
        w.helpers.add("pad")
        w.emit(out, "pad", f"{arg}, {padding}, {label('-pad')}")
    return out


def conv(w: Writer, op: str, a: LineArgs, label: Label, arg: str, out: str, bias: str) -> None:
    """conv / pwconv / dwconv / gdc."""
    name = f", name={label()}"
    if op == "gdc":  # the kernel is the input's size
        w.emit(out, f"layers.DepthwiseConv2D({arg}.shape[1:3]{_use_bias(bias)}{name})", arg)
        return
    kernel = "1" if op == "pwconv" else a.text("kernel")
    opts, stride, dilation = _window(a, kernel, op != "pwconv")
    if stride != "1" and dilation != "1":  # Keras refuses both: the per-point code says so
        raise Untranslatable("a stride and a dilation together")
    if a.same():
        opts += ', padding="same"'
    elif op != "pwconv":
        padding = _auto_padding(a, kernel, dilation)
        if _same_at_stride_1(kernel, stride, padding, dilation):
            opts += ', padding="same"'
        else:
            arg = pad_then(w, padding, label, arg, out)
    if op == "dwconv":
        multiplier = a.text("multiplier")
        mult = "" if multiplier in (None, "1") else f", depth_multiplier={multiplier}"
        w.emit(out, f"layers.DepthwiseConv2D({opts}{mult}{_use_bias(bias)}{name})", arg)
        return
    groups = a.text("group")
    groups = "" if groups in (None, "1") else f", groups={groups}"
    filters = a.text("out") or f"{arg}.shape[-1]"
    w.emit(out, f"layers.Conv2D({filters}, {opts}{groups}{_use_bias(bias)}{name})", arg)


def igc(w: Writer, a: LineArgs, label: Label, arg: str, out: str, bias: str) -> None:
    if a.same():
        raise Untranslatable("`padding=same` on `igc`")
    kernel = a.text("kernel")
    dilation = a.text("dilation") or "1"
    args = [arg, a.text("M"), a.text("L"), kernel]
    stride = a.text("stride") or "1"
    if stride != "1" and dilation != "1":
        raise Untranslatable("a stride and a dilation together")
    if stride != "1":
        args.append(f"strides={stride}")
    padding = _auto_padding(a, kernel, dilation)
    if padding != "0":
        args.append(f"padding={padding}")
    if dilation != "1":
        args.append(f"dilation={dilation}")
    if bias != "False":
        args.append(f"use_bias={bias}")
    w.helpers |= {"igc", "shuffle", "pad"}
    w.emit(out, "interleaved_group_conv", ", ".join(args) + f", name={label()}")


def batchnorm(w: Writer, a: LineArgs, label: Label, arg: str, out: str) -> None:
    eps = a.text("eps") or "1e-05"
    momentum = a.text("momentum") or "0.1"
    try:  # Keras keeps 1 - PyTorch's momentum of the old statistics
        keep = num(round(1 - float(momentum), 12))
    except ValueError:
        keep = f"1 - {momentum}"
    ctor = f"layers.BatchNormalization(epsilon={eps}, momentum={keep}, name={label()})"
    w.emit(out, ctor, arg)


def activation(w: Writer, op: str, a: LineArgs, label: Label, arg: str, out: str, rank: int):
    name = label()
    if op == "hsigmoid":
        w.helpers.add("hard_sigmoid")
        w.emit(out, "hard_sigmoid", f"{arg}, {name}")
        return
    if op == "prelu":  # a helper: one slope per channel, PyTorch's 0.25 at first
        w.helpers.add("prelu")
        ctor = f"prelu({name})" if rank == 4 else f"prelu({name}, shared_axes=None)"
    elif op == "leakyrelu":
        ctor = f"layers.LeakyReLU(negative_slope={a.text('slope')}, name={name})"
    else:
        ctor = _ACTS[op].format(name=f"name={name}")
    w.emit(out, ctor, arg)


def pool(w: Writer, op: str, a: LineArgs, label: Label, arg: str, out: str) -> None:
    kernel = a.text("kernel")
    stride = a.text("stride") or kernel
    opts = f"pool_size={kernel}, strides={stride}"
    if a.same():
        cls = "layers.MaxPooling2D" if op == "maxpool" else "layers.AveragePooling2D"
        w.emit(out, f'{cls}({opts}, padding="same", name={label()})', arg)
        return
    padding = _auto_padding(a, kernel, "1")
    ceil = a.text("ceil_mode") or "False"
    if op == "avgpool":
        if ceil != "False":  # PyTorch leaves the positions past the input out of the mean
            raise Untranslatable("an average pool in ceil mode")
        arg = pad_then(w, padding, label, arg, out)
        w.emit(out, f"layers.AveragePooling2D({opts}, name={label()})", arg)
    elif padding == "0" and ceil == "False":
        w.emit(out, f"layers.MaxPooling2D({opts}, name={label()})", arg)
    else:
        w.helpers |= {"max_pool", "pair"}
        tail = "" if ceil == "False" else f", ceil_mode={ceil}"
        w.emit(out, "max_pool", f"{arg}, {kernel}, {stride}, {padding}{tail}, name={label()}")


_SE_KINDS = {"relu", "relu6", "sigmoid", "hsigmoid", "hswish", "silu", "tanh", "gelu"}


def se(w: Writer, a: LineArgs, label: Label, arg: str, out: str) -> None:
    act, gate = a.static("act"), a.static("gate")
    if act not in _SE_KINDS or gate not in _SE_KINDS:
        raise Untranslatable("a squeeze-and-excitation activation without a Keras name")
    args = [arg, a.text("squeeze")]
    if act != "relu":
        args.append(f'activation="{act}"')
    if gate != "sigmoid":
        args.append(f'gate="{gate}"')
    w.helpers |= {"se", "hard_sigmoid"}
    w.emit(out, "squeeze_excitation", ", ".join(args) + f", name={label()}")


def normalisation(w: Writer, op: str, a: LineArgs, label: Label, arg: str, out: str) -> None:
    """The layers of keras3_norm, with the spec's arguments as Python text."""
    if op == "layernorm":
        eps = a.text("eps") or "1e-05"
        w.emit(out, f"layers.LayerNormalization(epsilon={eps}, name={label()})", arg)
    elif op == "linear":
        bias_text = a.text("bias")
        tail = "" if bias_text in (None, "True") else f", use_bias={bias_text}"
        w.emit(out, f"layers.Dense({a.text('out')}{tail}, name={label()})", arg)
    elif op == "layerscale":  # a learned factor per channel: a 1x1 depthwise conv
        init = f"keras.initializers.Constant({a.text('init')})"
        ctor = f"layers.DepthwiseConv2D(1, use_bias=False, depthwise_initializer={init}, name={label()})"
        w.emit(out, ctor, arg)
    elif op == "grn":
        w.helpers.add("grn")
        eps = a.text("eps")
        tail = "" if eps in (None, "1e-06") else f"epsilon={eps}, "
        w.emit(out, f"GlobalResponseNorm({tail}name={label()})", arg)
    else:
        gelu_tanh(w, lambda part: label(f"-{part}" if part else ""), arg, out)


def layer(
    w: Writer,
    op: str,
    a: LineArgs,
    label: Label,
    arg: str,
    out: str,
    rank: int,
    unit: bool,
    bias: str,
) -> int:
    """Append the lines applying one layer of a line to `arg` into `out`; returns the
    output's rank (2 after `fc` and `flatten`).  `unit`: the map is known to be 1×1."""
    if op in ("conv", "pwconv", "dwconv", "gdc"):
        conv(w, op, a, label, arg, out, bias)
    elif op == "igc":
        igc(w, a, label, arg, out, bias)
    elif op == "shuffle":
        w.helpers.add("shuffle")
        w.emit(out, "channel_shuffle", f"{arg}, {a.text('group')}, {label()}")
    elif op == "slice":
        w.helpers |= {"slice", "math"}
        w.emit(out, "channel_slice", f"{arg}, {a.text('start')}, {a.text('out')}, {label()}")
    elif op == "bn":
        batchnorm(w, a, label, arg, out)
    elif op in _ACTS or op in ("prelu", "leakyrelu"):
        activation(w, op, a, label, arg, out, rank)
    elif op in ("maxpool", "avgpool"):
        pool(w, op, a, label, arg, out)
    elif op == "adaptiveavgpool":
        w.helpers |= {"adaptive", "pair"}
        w.emit(out, "adaptive_avg_pool", f"{arg}, {a.text('size')}, {label()}")
    elif op in ("gap", "gmp"):
        cls = "GlobalAveragePooling2D" if op == "gap" else "GlobalMaxPooling2D"
        w.emit(out, f"layers.{cls}(keepdims=True, name={label()})", arg)
    elif op == "se":
        se(w, a, label, arg, out)
    elif op == "flatten":
        if rank == 4 and not unit:  # PyTorch flattens (C, H, W); the map is (H, W, C)
            w.emit(out, f"layers.Permute((3, 1, 2), name={label('-nchw')})", arg)
            arg = out
        w.emit(out, f"layers.Flatten(name={label()})", arg)
        return 2
    elif op == "fc":
        if rank == 4:
            w.emit(out, f"layers.Flatten(name={label('-flatten')})", arg)
            arg = out
        bias_text = a.text("bias")
        tail = "" if bias_text in (None, "True") else f", use_bias={bias_text}"
        w.emit(out, f"layers.Dense({a.text('out')}{tail}, name={label()})", arg)
        return 2
    elif op == "dropout":
        w.emit(out, f"layers.Dropout({a.text('p')}, name={label()})", arg)
    elif op == "droppath":  # one draw per sample, broadcast over the rest
        noise = "(None, 1, 1, 1)" if rank == 4 else "(None, 1)"
        w.emit(out, f"layers.Dropout({a.text('p')}, noise_shape={noise}, name={label()})", arg)
    elif op == "identity":
        w.emit(out, f"layers.Identity(name={label()})", arg)
    elif op in ("layernorm", "linear", "layerscale", "grn", "gelu_tanh"):
        normalisation(w, op, a, label, arg, out)
    else:
        raise Untranslatable(f"no Keras family form for `{op}`")
    return rank
