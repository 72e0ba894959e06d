"""Each layer line's module constructor in the family code: the spec's arguments as Python
expressions (not numbers), so that one line serves every member of the family.

The rules are those of the layer kinds' `build` (specgen/layers) and of the per-point
constructors (`pytorch_layers`): the default padding keeps H×W at stride 1, the bias is off
before a BatchNorm, `dwconv` has groups = input channels, a pool's stride defaults to its
kernel.  Arguments the family code cannot write (TensorFlow's `same`, an asymmetric padding,
`gdc`, whose kernel is the input's size) raise Untranslatable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...language import syntax as S
from ...layers import AUTO
from ..common import num
from ..pytorch_layers import _ACTS, _SE_CLASSES
from .pyexpr import NeedsSize, PyExpr, Untranslatable, may_be_float, may_be_list


@dataclass
class Made:
    """One module of a line: its base name (`conv`, `bn`), constructor, and the channels and
    rank after it."""

    base: str
    ctor: str
    channels: str
    rank: int
    helper: str | None = None  # the template helper it needs (`shuffle`, `igc`, `se`)
    block: Any = None  # a block call: the block's class
    flatten: bool = False  # an `fc` on a map, in an nn.Sequential: its input is flattened
    skip: bool = False  # no module: a layer that does no work (`identity`)
    # a sliding window's (kernel, stride, padding, dilation, ceil_mode), as Python text: what
    # the output's H×W follows from; "(1, 1)" etc. for a layer that sets it
    window: tuple[str, str, str, str, str] | None = None
    size: str | None = None
    # the layer as a bare nn.Parameter of the class, multiplying its input, where its name is
    # a plain attribute of a class with a forward (torchvision's ConvNeXt `layer_scale`)
    parameter: str | None = None


class LineArgs:
    """A layer's arguments as Python text: written ones translated, the others its defaults."""

    def __init__(self, plan: Any, py: PyExpr):
        self.plan, self.py = plan, py
        self.helpers = py.used  # the file's helpers a constructor needs
        self.kinds = {spec.name: spec.kind for spec in plan.spec.args}
        self.floaty: Any = getattr(py, "floaty", lambda name: False)
        self.pairy: Any = getattr(py, "pairy", lambda name: False)
        self.written = {spec.name: expr for spec, expr in plan.assign}

    def text(self, name: str) -> str | None:
        """The argument as Python, or None when it takes the kind's AUTO default."""
        if name in self.written:
            e = self.written[name]
            if type(e) is S.Dims and len(set(e.values)) == 1:  # `3x3`: PyTorch takes 3
                return num(e.values[0])
            text = self.py(e)
            kind = self.kinds.get(name)
            if kind in ("int", "pair", "padding") and may_be_float(e, self.floaty):
                self.helpers.add("whole")
                return f"whole({text})"
            return text
        value = self.plan.base.get(name)
        if value is AUTO or value is None:
            return None
        return literal(value)

    def same(self) -> bool:
        """Whether the line says `padding=same` (TensorFlow's, which the input's size sets)."""
        return self.plan.base.get("padding") == "same"

    def static(self, name: str) -> Any:
        """The argument's value where it is a literal or a default (else Untranslatable)."""
        if name in self.written:
            e = self.written[name]
            if type(e) is S.Num:
                return e.value
            if type(e) is S.Name and e.name in ("true", "false"):
                return e.name == "true"
            if type(e) is S.Dims:
                return e.values
            raise Untranslatable(f"`{name}` must be written as a literal here")
        return self.plan.base.get(name)


def literal(value: Any) -> str:
    """A default value as Python: numbers, pairs (as one number when square), strings."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return num(value)
    if isinstance(value, tuple):
        if len(value) == 2 and value[0] == value[1]:
            return num(value[0])
        return f"({', '.join(num(v) for v in value)})"
    raise Untranslatable(f"no Python form for the default {value!r}")


def conv(op: str, a: LineArgs, channels: str, bias: str, size: str | None) -> Made:
    """conv / pwconv / dwconv / gdc: nn.Conv2d."""
    if op == "gdc":
        if size is None:
            raise NeedsSize("`gdc` takes the input's size as its kernel")
        tail = "" if bias == "True" else f", bias={bias}"
        ctor = f"nn.Conv2d({channels}, {channels}, kernel_size={size}, groups={channels}{tail})"
        return Made(op, ctor, channels, 4, size="(1, 1)")
    kernel = "1" if op == "pwconv" else a.text("kernel")
    if op == "dwconv":
        multiplier = a.text("multiplier")
        out = channels if multiplier in (None, "1") else f"{channels} * {multiplier}"
        groups = channels
    else:
        out = a.text("out") or channels
        groups = a.text("group")
    args = [channels, out, f"kernel_size={kernel}"]
    stride = a.text("stride")
    if stride not in (None, "1"):
        args.append(f"stride={stride}")
    dilation = a.text("dilation") if op != "pwconv" else None
    padding = _padding(a, kernel, dilation) if op != "pwconv" else None
    if padding not in (None, "0"):
        args.append(f"padding={padding}")
    if dilation not in (None, "1"):
        args.append(f"dilation={dilation}")
    if groups not in (None, "1"):
        args.append(f"groups={groups}")
    if bias != "True":
        args.append(f"bias={bias}")
    window = (kernel, stride or "1", padding or "0", dilation or "1", "False")
    return Made(op, f"nn.Conv2d({', '.join(args)})", out, 4, window=window)


def _padding(a: LineArgs, kernel: str, dilation: str | None) -> str | None:
    """The written padding, or the one that keeps H×W at stride 1 for odd kernels:
    dilation · (k - 1) // 2 (`shapes.auto_padding`)."""
    if a.same():
        raise Untranslatable("`padding=same` on a convolution")
    written = a.written.get("padding")
    if written is not None:
        if type(written) is S.ListExpr and len(written.items) == 4:
            raise Untranslatable("a padding of four sizes is padded in forward")
        return a.text("padding")
    d = None if dilation in (None, "1") else dilation
    if kernel.isdigit():
        k = int(kernel)
        if d is None or k == 1:
            return num((k - 1) // 2)
        if d.isidentifier() or d.isdigit():
            return f"{d} * {num(k - 1)} // 2"
    if kernel.startswith("(") and kernel.endswith(")") and d is None:
        sizes = [int(v) for v in kernel[1:-1].split(", ")]
        return f"({', '.join(num((k - 1) // 2) for k in sizes)})"
    written_kernel = a.written.get("kernel")
    pair = written_kernel is not None and may_be_list(written_kernel, a.pairy)
    if kernel.isidentifier() and d is None and not pair:  # `dwconv k`, k an int
        return f"({kernel} - 1) // 2"
    a.helpers.add("auto_padding")  # pairs, or a dilation: the helper works per axis
    return f"auto_padding({kernel}, {dilation or 1})"


def igc(a: LineArgs, channels: str, bias: str) -> Made:
    kernel = a.text("kernel")
    m, l_ = a.text("M"), a.text("L")
    args = [f"M={m}", f"L={l_}", f"kernel_size={kernel}"]
    stride = a.text("stride")
    if stride not in (None, "1"):
        args.append(f"stride={stride}")
    dilation = a.text("dilation")
    padding = _padding(a, kernel, dilation)
    if padding not in (None, "0"):
        args.append(f"padding={padding}")
    if dilation not in (None, "1"):
        args.append(f"dilation={dilation}")
    if bias == "True":
        args.append("bias=True")
    elif bias != "False":
        args.append(f"bias={bias}")
    window = (kernel, stride or "1", padding or "0", dilation or "1", "False")
    ctor = f"InterleavedGroupConv({', '.join(args)})"
    return Made("igc", ctor, f"{m} * {l_}", 4, "igc", window=window)


def batchnorm(a: LineArgs, channels: str, rank: int) -> Made:
    args = [channels]
    eps, momentum = a.text("eps"), a.text("momentum")
    if eps not in (None, "1e-05"):
        args.append(f"eps={eps}")
    if momentum not in (None, "0.1"):
        args.append(f"momentum={momentum}")
    cls = "nn.BatchNorm1d" if rank == 2 else "nn.BatchNorm2d"
    return Made("bn", f"{cls}({', '.join(args)})", channels, rank)


def activation(op: str, a: LineArgs, channels: str, rank: int, inplace: bool) -> Made:
    ctor = _ACTS[op].format(
        inplace="inplace=True" if inplace else "",
        inplace_kw=", inplace=True" if inplace else "",
        slope=f"negative_slope={a.text('slope')}" if op == "leakyrelu" else "",
        channels=channels,
    )
    return Made(op, ctor, channels, rank)


def pool(op: str, a: LineArgs, channels: str) -> Made:
    cls = "nn.MaxPool2d" if op == "maxpool" else "nn.AvgPool2d"
    kernel = a.text("kernel")
    stride = a.text("stride") or kernel
    args = [f"kernel_size={kernel}", f"stride={stride}"]
    if a.same():
        if op != "maxpool":
            raise Untranslatable("`padding=same` on an average pool")
        # TensorFlow's padding, which depends on the input's size: padded in forward
        ctor = f"{cls}({', '.join(args)})"
        return Made(op, ctor, channels, 4, window=(kernel, stride, "same", "1", "False"))
    padding = _padding(a, kernel, None)
    if padding != "0":
        args.append(f"padding={padding}")
    ceil = a.text("ceil_mode")
    if ceil not in (None, "False"):
        args.append(f"ceil_mode={ceil}")
    window = (kernel, stride, padding, "1", ceil or "False")
    return Made(op, f"{cls}({', '.join(args)})", channels, 4, window=window)


def se(a: LineArgs, channels: str) -> Made:
    args = [channels, a.text("squeeze")]
    act, gate = a.static("act"), a.static("gate")
    if act != "relu":
        args.append(f"activation={_SE_CLASSES[act]}")
    if gate != "sigmoid":
        args.append(f"scale_activation={_SE_CLASSES[gate]}")
    return Made("se", f"SqueezeExcitation({', '.join(args)})", channels, 4, "se")


def linear(a: LineArgs, channels: str) -> Made:
    """nn.Linear; on a map, its input is flattened: `channels` is then C·H·W."""
    out = a.text("out")
    bias = a.text("bias")
    tail = "" if bias in (None, "True") else f", bias={bias}"
    return Made("fc", f"nn.Linear({channels}, {out}{tail})", out, 2)


def normalisation(op: str, a: LineArgs, channels: str, rank: int) -> Made:
    """`layernorm`, `linear`, `layerscale`, `grn`: on a map, the template's classes (channels
    last inside); LayerNorm and Linear on an (N, C) tensor are PyTorch's own."""
    if op == "layerscale":
        init = a.text("init")
        made = Made(op, f"LayerScale({channels}, {init})", channels, 4, "layerscale")
        made.parameter = f"nn.Parameter(torch.full(({channels}, 1, 1), {init}))"
        return made
    if op == "grn":
        eps = a.text("eps")
        tail = "" if eps in (None, "1e-06") else f", eps={eps}"
        return Made(op, f"GlobalResponseNorm({channels}{tail})", channels, 4, "grn")
    if op == "layernorm":
        eps = a.text("eps")
        tail = "" if eps in (None, "1e-05") else f", eps={eps}"
        cls = "nn.LayerNorm" if rank == 2 else "LayerNorm2d"
        return Made(op, f"{cls}({channels}{tail})", channels, rank, None if rank == 2 else op)
    out, bias = a.text("out"), a.text("bias")
    tail = "" if bias in (None, "True") else f", bias={bias}"
    cls = "nn.Linear" if rank == 2 else "Linear2d"
    return Made(op, f"{cls}({channels}, {out}{tail})", out, rank, None if rank == 2 else op)


def layer(
    op: str,
    a: LineArgs,
    channels: str,
    rank: int,
    bias: str,
    inplace: bool,
    size: str | None = None,
) -> Made:
    """The module of one layer of a line, given the channels, rank and (where followed) the
    H×W of its input."""
    if op in ("conv", "pwconv", "dwconv", "gdc"):
        return conv(op, a, channels, bias, size)
    if op == "flatten":
        return Made(op, "nn.Flatten()", channels, 2)
    if op == "igc":
        return igc(a, channels, bias)
    if op == "shuffle":
        return Made(op, f"ChannelShuffle({a.text('group')})", channels, 4, "shuffle")
    if op == "slice":
        out = a.text("out")
        return Made(op, f"ChannelSlice({a.text('start')}, {out})", out, rank, "slice")
    if op == "bn":
        return batchnorm(a, channels, rank)
    if op in _ACTS:
        return activation(op, a, channels, rank, inplace)
    if op in ("maxpool", "avgpool"):
        return pool(op, a, channels)
    if op == "adaptiveavgpool":
        out = a.text("size")
        square = f"({out}, {out})" if out.isdigit() else f"pair({out})"
        return Made(op, f"nn.AdaptiveAvgPool2d({out})", channels, 4, size=square)
    if op == "gap":
        return Made(op, "nn.AdaptiveAvgPool2d(1)", channels, 4, size="(1, 1)")
    if op == "gmp":
        return Made(op, "nn.AdaptiveMaxPool2d(1)", channels, 4, size="(1, 1)")
    if op == "se":
        return se(a, channels)
    if op == "fc":
        return linear(a, channels)
    if op == "dropout":
        return Made(op, f"nn.Dropout(p={a.text('p')})", channels, rank)
    if op == "droppath":
        return Made(op, f"DropPath({a.text('p')})", channels, rank, "droppath")
    if op in ("layernorm", "linear", "layerscale", "grn"):
        return normalisation(op, a, channels, rank)
    if op == "identity":
        return Made(op, "nn.Identity()", channels, rank)
    raise Untranslatable(f"no family form for `{op}`")
