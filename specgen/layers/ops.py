"""The layer vocabulary: every built-in layer, its arguments, their types, defaults and ranges.

Binding a written layer line to its `OpSpec` gives plain values, or EvalErrors that name the
argument.  This table is the single source for the language reference's layer list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import limits
from ..errors import Span, did_you_mean
from ..ir import format_value
from ..language import syntax as S
from ..language.expr import VARIES, Compiled, EvalError, Value, as_int, compile_expr

REQUIRED = object()
AUTO = object()  # filled in from context: padding from the kernel, bias from a following bn


@dataclass(frozen=True, slots=True)
class ArgSpec:
    name: str
    kind: str  # pair | int | float | bool | padding (a pair, four sizes or `same`) | choice
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    doc: str = ""
    # words written as bare names (`padding=same`, `gate=hsigmoid`): the language has no
    # strings, so an enumerated choice is a name that is matched, never evaluated
    choices: tuple[str, ...] = ()


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
    return ArgSpec("kernel", "pair", default, 1, limits.MAX_SPATIAL, "kernel size, `3x3` or `3`")


_STRIDE = ArgSpec("stride", "pair", 1, 1, limits.MAX_SPATIAL, "stride")
_PADDING = ArgSpec(
    "padding",
    "padding",
    AUTO,
    0,
    limits.MAX_SPATIAL,
    "zero padding: one size, [h, w], [top, bottom, left, right] or `same` (TensorFlow's "
    "rule); default (k-1)/2·dilation",
    ("same",),
)
# PyTorch and Keras both default a pool's stride to its kernel size
_POOL_STRIDE = ArgSpec(
    "stride", "pair", AUTO, 1, limits.MAX_SPATIAL, "stride; default: the kernel size"
)
_CEIL_MODE = ArgSpec(
    "ceil_mode", "bool", False, doc="round the output size up, as PyTorch's ceil_mode"
)
# an enumerated choice's spellings -> its canonical name
ALIASES = {"hardsigmoid": "hsigmoid"}
_SE_ACTS = ("relu", "relu6", "silu", "hswish", "gelu")
_SE_GATES = ("sigmoid", "hsigmoid", "hardsigmoid")
_DILATION = ArgSpec("dilation", "pair", 1, 1, limits.MAX_SPATIAL, "dilation")
_BIAS = ArgSpec("bias", "bool", AUTO, doc="add a bias; default: yes unless a bn follows")
_OUT = ArgSpec(
    "out", "int", AUTO, 1, limits.MAX_CHANNELS, "output channels; default: the input channels"
)

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
    "softmax": "e^x / Σ e^x over the channels",
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
                ArgSpec("group", "int", 1, 1, limits.MAX_CHANNELS, "groups"),
                _BIAS,
            ),
            ("kernel",),
            _CONV_DOC,
        ),
        OpSpec(
            "pwconv",
            (_OUT, _STRIDE, ArgSpec("group", "int", 1, 1, limits.MAX_CHANNELS, "groups"), _BIAS),
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
                ArgSpec(
                    "multiplier",
                    "int",
                    1,
                    1,
                    limits.MAX_CHANNELS,
                    "output channels per input channel",
                ),
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
                ArgSpec(
                    "M", "int", REQUIRED, 1, limits.MAX_CHANNELS, "channels per primary partition"
                ),
                ArgSpec("L", "int", REQUIRED, 1, limits.MAX_CHANNELS, "primary partitions"),
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
            (ArgSpec("group", "int", REQUIRED, 1, limits.MAX_CHANNELS, "groups"),),
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
        OpSpec(
            "maxpool", (_kernel(), _POOL_STRIDE, _PADDING, _CEIL_MODE), ("kernel",), "max pooling"
        ),
        OpSpec(
            "avgpool",
            (_kernel(), _POOL_STRIDE, _PADDING, _CEIL_MODE),
            ("kernel",),
            "average pooling (padding counts as zeros, except `padding=same`'s, as in TensorFlow)",
        ),
        OpSpec(
            "adaptiveavgpool",
            (ArgSpec("size", "pair", REQUIRED, 1, limits.MAX_SPATIAL, "output size, `6x6`"),),
            ("size",),
            "average pooling to a given output size (PyTorch's AdaptiveAvgPool2d)",
        ),
        OpSpec(
            "se",
            (
                ArgSpec("squeeze", "int", REQUIRED, 1, limits.MAX_CHANNELS, "squeeze channels"),
                ArgSpec(
                    "act", "choice", "relu", doc="activation after the squeeze", choices=_SE_ACTS
                ),
                ArgSpec("gate", "choice", "sigmoid", doc="gate of the scale", choices=_SE_GATES),
            ),
            ("squeeze",),
            "squeeze-and-excitation: global average pool, 1×1 conv to `squeeze` channels, act, "
            "1×1 conv back, gate, times the input",
        ),
        OpSpec("gap", (), (), "global average pooling to C×1×1"),
        OpSpec("gmp", (), (), "global max pooling to C×1×1"),
        OpSpec("flatten", (), (), "C×H×W → (C·H·W)×1×1"),
        OpSpec(
            "fc",
            (
                ArgSpec("out", "int", REQUIRED, 1, limits.MAX_CHANNELS, "outputs"),
                ArgSpec("bias", "bool", True),
            ),
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


def _check_range(spec: ArgSpec, what: str, value: Value, span: Span, *values: float) -> None:
    """Refuse values outside [low, high]; "between" only for floats with both bounds.  The
    value is formatted only for the message (this runs for every argument of every layer)."""
    low, high = spec.low, spec.high
    if (low is None or min(values) >= low) and (high is None or max(values) <= high):
        return

    def fmt(bound: float) -> str:
        return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"

    both = spec.kind == "float" and low is not None and high is not None
    code = "range"
    if low is not None and min(values) < low:
        bound = f"between {fmt(low)} and {fmt(high)}" if both else f"at least {fmt(low)}"
    else:  # above `high`
        bound = f"between {fmt(low)} and {fmt(high)}" if both else f"at most {fmt(high)}"
        code = "range" if both else "limit"  # sizes: what the frameworks' integers hold
    shown = repr(value) if spec.kind == "float" else format_value(value)
    raise EvalError(f"{what} must be {bound}, got {shown}", span, code=code)


def _convert(spec: ArgSpec, value: Value, span: Span, op: str) -> Value:
    """A written value as the argument's type, range-checked (the upper bounds keep sizes
    within what the frameworks' integer types hold)."""
    what = f"{op} {spec.name}"
    kind = spec.kind
    if kind == "padding" and isinstance(value, tuple) and len(value) == 4:
        sides = tuple(as_int(v, span, what) for v in value)
        _check_range(spec, what, value, span, *sides)
        return sides
    if kind == "padding" and isinstance(value, tuple) and len(value) != 2:
        raise EvalError(
            f"{what} needs one, two or four sizes, got {format_value(value)}",
            span,
            "four sizes are [top, bottom, left, right]",
        )
    if kind in ("pair", "padding"):
        if isinstance(value, tuple):
            if len(value) != 2:
                raise EvalError(f"{what} needs one or two sizes, got {format_value(value)}", span)
            pair = (as_int(value[0], span, what), as_int(value[1], span, what))
        else:
            v = as_int(value, span, what)
            pair = (v, v)
        _check_range(spec, what, value, span, *pair)
        return pair
    if kind == "int":
        v = value if type(value) is int else as_int(value, span, what)
        _check_range(spec, what, v, span, v)
        return v
    if kind == "bool":
        if value in (0, 1) and not isinstance(value, float):
            return bool(value)
        raise EvalError(f"{what} must be true or false, got {format_value(value)}", span)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvalError(f"{what} must be a number, got {format_value(value)}", span)
    _check_range(spec, what, value, span, value)
    return float(value)


@dataclass(frozen=True, slots=True)
class Plan:
    """How one written layer line binds to its `OpSpec`, worked out once per program.

    `assign` pairs each written value with the argument it sets; `base` holds the defaults of
    the rest; `trailing` holds the plans of the layers written after it (`bn relu`).
    """

    spec: OpSpec
    assign: tuple[tuple[ArgSpec, S.Expr], ...]
    base: dict[str, Any]
    explicit: frozenset[str]
    trailing: tuple[tuple[Plan, Span], ...]
    errors: tuple[EvalError, ...]
    complete: bool  # every required argument is given: the layer can be built despite errors
    # `assign` compiled: per argument whose value depends on names, (name, its compiled
    # expression, kind, low, high, ArgSpec, span); the others are converted once, into `base`
    binders: tuple[tuple[str, Compiled, str, float, float, ArgSpec, Span], ...] = ()


def plan(spec: OpSpec, args: tuple[S.Arg, ...], span: Span) -> Plan:
    """Match written arguments to `spec`: positional in order, keywords by name, bare flags
    (`bias`), then trailing layers.  Mistakes are kept in `errors`; the argument is skipped."""
    errors: list[EvalError] = []
    assign: list[tuple[ArgSpec, S.Expr]] = []
    explicit: set[str] = set()
    chosen: dict[str, str] = {}  # enumerated choices, fixed here: `padding=same`, `act=silu`
    trailing: list[tuple[Plan, Span]] = []
    positional = list(spec.positional)
    names = [a.name for a in spec.args]
    for arg in args:
        if isinstance(arg, S.KwArg):
            a = spec.arg(arg.name)
            if a is not None and a.name not in explicit and (a.choices or a.kind == "choice"):
                word = arg.value.name if isinstance(arg.value, S.Name) else None
                if word in a.choices:
                    chosen[a.name] = ALIASES.get(word, word)
                    explicit.add(a.name)
                    continue
                if a.kind == "choice":
                    shown = f"`{word}`" if word is not None else "an expression"
                    errors.append(
                        EvalError(
                            f"{spec.name} {a.name} must be one of {', '.join(a.choices)}, "
                            f"got {shown}",
                            arg.value.span,
                            (did_you_mean(word, a.choices) if word is not None else None)
                            or "write the name itself, e.g. "
                            f"`{a.name}={a.choices[0]}` (it is not evaluated)",
                            "expr",
                        )
                    )
                    continue  # the default stands in, so the rest of the line is checked
            if a is None:
                hint = did_you_mean(arg.name, names) or (
                    f"{spec.name} takes {', '.join(names)}"
                    if names
                    else f"{spec.name} takes no arguments"
                )
                if arg.name in ("eps", "momentum") and spec.name != "bn":
                    hint = "configure a trailing BatchNorm as bn(eps, momentum)"
                errors.append(
                    EvalError(
                        f"{spec.name} has no argument `{arg.name}`",
                        arg.name_span,
                        hint,
                        "unknown-argument",
                    )
                )
            elif arg.name in explicit:
                errors.append(
                    EvalError(f"`{arg.name}` is given twice", arg.span, code="duplicate-argument")
                )
            else:
                assign.append((a, arg.value))
                explicit.add(arg.name)
            continue
        if isinstance(arg, S.Name) and arg.name in OPS and OPS[arg.name].trailing:
            trailing.append((plan(OPS[arg.name], (), arg.span), arg.span))
            continue
        if isinstance(arg, S.Call) and arg.func in OPS and OPS[arg.func].trailing:
            sub = plan(OPS[arg.func], arg.args, arg.span)
            errors.extend(sub.errors)
            trailing.append((sub, arg.span))
            continue
        if isinstance(arg, S.Name) and (a := spec.arg(arg.name)) is not None and a.kind == "bool":
            assign.append((a, S.Name("true", arg.span)))  # a bare flag: `conv 3x3 bias`
            explicit.add(arg.name)
            continue
        if trailing:
            if isinstance(arg, S.Name | S.Call):
                name = arg.name if isinstance(arg, S.Name) else arg.func
                hint = did_you_mean(name, [o for o in OPS if OPS[o].trailing])
                message = f"unknown layer `{name}` after {spec.name}"
                errors.append(EvalError(message, arg.span, hint, "unknown-layer"))
            else:
                message = "positional arguments must come before trailing layers"
                errors.append(EvalError(message, arg.span, code="syntax"))
            continue
        while positional and positional[0] in explicit:
            positional.pop(0)
        if not positional:
            hint = did_you_mean(arg.name, [*OPS, *names]) if isinstance(arg, S.Name) else None
            what = (
                f"`{arg.name}` is not a layer or an argument of {spec.name}"
                if isinstance(arg, S.Name)
                else (
                    f"{spec.name} takes no arguments"
                    if not spec.args
                    else f"{spec.name} takes no more positional arguments"
                )
            )
            errors.append(EvalError(what, arg.span, hint, "unknown-argument"))
            continue
        name = positional.pop(0)
        assign.append((spec.arg(name), arg))
        explicit.add(name)
    base: dict[str, Any] = dict(chosen)
    complete = all(p.complete for p, _ in trailing)
    for a in spec.args:
        if a.name in explicit:
            continue
        if a.default is REQUIRED:
            errors.append(
                EvalError(f"{spec.name} needs `{a.name}=`", span, code="missing-argument")
            )
            complete = False
        else:
            base[a.name] = a.default if a.kind != "pair" or a.default is AUTO else _pair(a.default)
    binders = []
    for a, expr in assign:
        fn, constant = compile_expr(expr)
        if constant is not VARIES:
            try:  # a written constant (`3x3`, `stride=2`) is converted once, here
                base[a.name] = _convert(a, constant, expr.span, spec.name)
                continue
            except EvalError:
                pass  # reported at every elaboration, in its place among the arguments
        low = -math.inf if a.low is None else a.low
        high = math.inf if a.high is None else a.high
        binders.append((a.name, fn, a.kind, low, high, a, expr.span))
    return Plan(
        spec,
        tuple(assign),
        base,
        frozenset(explicit),
        tuple(trailing),
        tuple(errors),
        complete,
        tuple(binders),
    )


def apply(p: Plan, env: dict[str, Value]) -> dict[str, Any]:
    """The argument values of a planned layer in `env`; raises EvalError on the first bad one."""
    values = dict(p.base)
    for name, fn, kind, low, high, a, span in p.binders:
        value = fn(env)
        # the common case inline: an int within range, as an int or a square size
        if type(value) is int and low <= value <= high:
            if kind == "int":
                values[name] = value
                continue
            if kind == "pair" or kind == "padding":
                values[name] = (value, value)
                continue
        values[name] = _convert(a, value, span, p.spec.name)
    return values


def _pair(v) -> tuple[int, int]:
    return v if isinstance(v, tuple) else (v, v)
