"""The layer vocabulary: every built-in layer, its arguments, their types, defaults and ranges.

Binding a written layer line to its `OpSpec` gives plain values, or EvalErrors that name the
argument.  This table is the single source for the language reference's layer list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import syntax as S
from .errors import Span, did_you_mean
from .expr import CONSTANTS, EvalError, Value, as_int, evaluate
from .ir import format_value

REQUIRED = object()
AUTO = object()  # filled in from context: padding from the kernel, bias from a following bn


@dataclass(frozen=True, slots=True)
class ArgSpec:
    name: str
    kind: str  # pair | int | float | bool
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    doc: str = ""


@dataclass(frozen=True, slots=True)
class OpSpec:
    name: str
    args: tuple[ArgSpec, ...]
    positional: tuple[str, ...]
    doc: str
    trailing: bool = False  # may follow another layer on its line: `conv 3x3 bn relu`

    def arg(self, name: str) -> ArgSpec | None:
        for a in self.args:
            if a.name == name:
                return a
        return None


def _kernel(default=REQUIRED):
    return ArgSpec("kernel", "pair", default, 1, None, "kernel size, `3x3` or `3`")


_STRIDE = ArgSpec("stride", "pair", 1, 1, None, "stride")
_PADDING = ArgSpec("padding", "pair", AUTO, 0, None, "zero padding; default (k-1)/2·dilation")
_DILATION = ArgSpec("dilation", "pair", 1, 1, None, "dilation")
_BIAS = ArgSpec("bias", "bool", AUTO, doc="add a bias; default: yes unless a bn follows")
_OUT = ArgSpec("out", "int", AUTO, 1, None, "output channels; default: the input channels")

_CONV_DOC = "convolution; `group=g` makes it a group convolution"
_ACTS = {
    "relu": "max(x, 0)",
    "relu6": "min(max(x, 0), 6)",
    "prelu": "parametric ReLU, one learned slope per channel (initial 0.25)",
    "hswish": "x·relu6(x+3)/6 (hard swish)",
    "hsigmoid": "relu6(x+3)/6 (hard sigmoid)",
    "sigmoid": "1/(1+e^-x)",
    "silu": "x·sigmoid(x) (swish)",
    "tanh": "tanh(x)",
    "gelu": "x·Φ(x), exact",
}

OPS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in [
        OpSpec(
            "conv",
            (
                _kernel(),
                _OUT,
                _STRIDE,
                _PADDING,
                _DILATION,
                ArgSpec("group", "int", 1, 1, None, "groups"),
                _BIAS,
            ),
            ("kernel",),
            _CONV_DOC,
        ),
        OpSpec(
            "pwconv",
            (_OUT, _STRIDE, ArgSpec("group", "int", 1, 1, None, "groups"), _BIAS),
            ("out",),
            "pointwise (1×1) convolution",
        ),
        OpSpec(
            "dwconv",
            (
                _kernel(),
                _STRIDE,
                _PADDING,
                _DILATION,
                ArgSpec("multiplier", "int", 1, 1, None, "output channels per input channel"),
                _BIAS,
            ),
            ("kernel",),
            "depthwise convolution (groups = input channels)",
        ),
        OpSpec(
            "sepconv",
            (_kernel(), _OUT, _STRIDE, _PADDING, _DILATION),
            ("kernel",),
            "depthwise-separable convolution: k×k depthwise, then 1×1 pointwise; trailing "
            "layers (`bn relu`) follow each of the two",
        ),
        OpSpec(
            "gdc",
            (_BIAS,),
            (),
            "global depthwise convolution: a depthwise conv whose kernel is the whole H×W map",
        ),
        OpSpec(
            "igc",
            (
                _kernel((3, 3)),
                ArgSpec("M", "int", REQUIRED, 1, None, "channels per primary partition"),
                ArgSpec("L", "int", REQUIRED, 1, None, "primary partitions"),
                _STRIDE,
                _PADDING,
                _DILATION,
                _BIAS,
            ),
            ("kernel",),
            "interleaved group convolution (input and output M·L channels)",
        ),
        OpSpec(
            "shuffle",
            (ArgSpec("group", "int", REQUIRED, 1, None, "groups"),),
            ("group",),
            "channel shuffle: (g, C/g) → (C/g, g)",
        ),
        OpSpec(
            "bn",
            (
                ArgSpec("eps", "float", 1e-5, 0, None, "added to the variance"),
                ArgSpec("momentum", "float", 0.1, 0, 1, "running-statistics update (PyTorch)"),
            ),
            ("eps", "momentum"),
            "batch normalization",
            trailing=True,
        ),
        *(OpSpec(name, (), (), doc, trailing=True) for name, doc in _ACTS.items()),
        OpSpec(
            "leakyrelu",
            (ArgSpec("slope", "float", 0.01, 0, None, "negative slope"),),
            ("slope",),
            "max(x, 0) + slope·min(x, 0)",
            trailing=True,
        ),
        OpSpec("maxpool", (_kernel(), _STRIDE, _PADDING), ("kernel",), "max pooling"),
        OpSpec(
            "avgpool",
            (_kernel(), _STRIDE, _PADDING),
            ("kernel",),
            "average pooling (padding counts as zeros)",
        ),
        OpSpec("gap", (), (), "global average pooling to C×1×1"),
        OpSpec("gmp", (), (), "global max pooling to C×1×1"),
        OpSpec("flatten", (), (), "C×H×W → (C·H·W)×1×1"),
        OpSpec(
            "fc",
            (ArgSpec("out", "int", REQUIRED, 1, None, "outputs"), ArgSpec("bias", "bool", True)),
            ("out",),
            "fully connected layer; needs a 1×1 map (after gap or flatten)",
        ),
        OpSpec(
            "dropout",
            (ArgSpec("p", "float", 0.5, 0, 0.999999, "drop probability"),),
            ("p",),
            "dropout (no cost)",
            trailing=True,
        ),
        OpSpec("identity", (), (), "passes its input through"),
    ]
}

COMPOSITES = {
    "residual": "body(x) + shortcut(x); the shortcut is the identity unless a `shortcut:` is given",
    "add": "sum of branches that all see the input",
    "concat": "channel concatenation of branches that all see the input",
    "split": "split the channels into equal parts (or `sizes=[...]`), one per branch; concatenate",
    "branch": "groups several statements into one branch of add, concat or split",
    "shortcut": "the shortcut path of a residual",
}

KEYWORDS = {"network", "input", "let", "block", "layers", "x", "in", "true", "false"}


class Bound:
    """The values of one layer line, plus the trailing layers written after it."""

    __slots__ = ("values", "trailing", "explicit")

    def __init__(self) -> None:
        self.values: dict[str, Value] = {}
        self.explicit: set[str] = set()
        self.trailing: list[tuple[str, tuple[S.Expr, ...], Span]] = []


def _convert(spec: ArgSpec, value: Value, span: Span, op: str) -> Value:
    what = f"{op} {spec.name}"
    if spec.kind == "pair":
        if isinstance(value, tuple):
            if len(value) != 2:
                raise EvalError(f"{what} needs one or two sizes, got {format_value(value)}", span)
            pair = (as_int(value[0], span, what), as_int(value[1], span, what))
        else:
            v = as_int(value, span, what)
            pair = (v, v)
        if spec.low is not None and min(pair) < spec.low:
            raise EvalError(f"{what} must be at least {spec.low:g}, got {format_value(value)}", span, code="range")
        return pair
    if spec.kind == "int":
        v = as_int(value, span, what)
        if spec.low is not None and v < spec.low:
            raise EvalError(f"{what} must be at least {spec.low:g}, got {v}", span, code="range")
        return v
    if spec.kind == "bool":
        if value in (0, 1) and not isinstance(value, float):
            return bool(value)
        raise EvalError(f"{what} must be true or false, got {format_value(value)}", span)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvalError(f"{what} must be a number, got {format_value(value)}", span)
    if spec.low is not None and value < spec.low or spec.high is not None and value > spec.high:
        rng = f"between {spec.low:g} and {spec.high:g}" if spec.high is not None else f"at least {spec.low:g}"
        raise EvalError(f"{what} must be {rng}, got {value!r}", span, code="range")
    return float(value)


def bind(
    spec: OpSpec, args: tuple[S.Arg, ...], env: dict[str, Value], errors: list[EvalError]
) -> Bound:
    """Match written arguments to `spec`: positional in order, then keywords, then trailing
    layers.  Mistakes are appended to `errors` and the argument is skipped."""
    bound = Bound()
    values = bound.values
    positional = list(spec.positional)
    names = [a.name for a in spec.args]
    for arg in args:
        try:
            if isinstance(arg, S.KwArg):
                a = spec.arg(arg.name)
                if a is None:
                    hint = did_you_mean(arg.name, names) or (
                        f"{spec.name} takes {', '.join(names)}" if names else f"{spec.name} takes no arguments"
                    )
                    if arg.name in ("eps", "momentum") and spec.name != "bn":
                        hint = "configure a trailing BatchNorm as bn(eps, momentum)"
                    raise EvalError(f"{spec.name} has no argument `{arg.name}`", arg.name_span, hint, "unknown-argument")
                if arg.name in bound.explicit:
                    raise EvalError(f"`{arg.name}` is given twice", arg.span, code="duplicate-argument")
                values[arg.name] = _convert(a, evaluate(arg.value, env), arg.value.span, spec.name)
                bound.explicit.add(arg.name)
                continue
            trailing = _trailing(arg, env)
            if trailing is not None:
                bound.trailing.append(trailing)
                continue
            if isinstance(arg, S.Name) and (a := spec.arg(arg.name)) is not None and a.kind == "bool":
                values[arg.name] = True  # a bare flag: `conv 3x3 bias`
                bound.explicit.add(arg.name)
                continue
            if isinstance(arg, S.Name) and arg.name not in env and arg.name not in CONSTANTS:
                hint = did_you_mean(arg.name, [*OPS, *names, *(k for k in env if k != "in")])
                raise EvalError(
                    f"`{arg.name}` is not a layer, an argument of {spec.name} or a known name",
                    arg.span,
                    hint,
                    "unknown-name",
                )
            if bound.trailing:
                raise EvalError(
                    "positional arguments must come before trailing layers", arg.span, code="syntax"
                )
            while positional and positional[0] in bound.explicit:
                positional.pop(0)
            if not positional:
                raise EvalError(
                    f"{spec.name} takes no more positional arguments", arg.span, code="unknown-argument"
                )
            name = positional.pop(0)
            values[name] = _convert(spec.arg(name), evaluate(arg, env), arg.span, spec.name)
            bound.explicit.add(name)
        except EvalError as err:
            errors.append(err)
    return bound


def _trailing(arg: S.Arg, env: dict[str, Value]):
    """`bn`, `relu`, `leakyrelu(0.2)` written after a layer: (op, args, span), else None."""
    if isinstance(arg, S.Name) and arg.name in OPS and OPS[arg.name].trailing:
        return arg.name, (), arg.span
    if isinstance(arg, S.Call) and arg.func in OPS and OPS[arg.func].trailing:
        return arg.func, arg.args, arg.span
    return None


def defaults(spec: OpSpec, bound: Bound, errors: list[EvalError], span: Span) -> dict[str, Value]:
    """The bound values completed with defaults; a missing required argument is an error."""
    values = dict(bound.values)
    for a in spec.args:
        if a.name in values:
            continue
        if a.default is REQUIRED:
            errors.append(EvalError(f"{spec.name} needs `{a.name}=`", span, code="missing-argument"))
            values[a.name] = None
        else:
            values[a.name] = a.default if a.kind != "pair" or a.default is AUTO else _pair(a.default)
    return values


def _pair(v) -> tuple[int, int]:
    return v if isinstance(v, tuple) else (v, v)
