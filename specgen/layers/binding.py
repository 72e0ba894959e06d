"""Binding a written layer line to its `OpSpec`: positional and keyword arguments, bare flags
and trailing layers (`conv 3x3 bn relu`) matched once per program (`plan`), then evaluated
for each elaboration (`apply`), converted to the argument's type and range-checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import Span, did_you_mean
from ..language import syntax as S
from ..language.expr import VARIES, Compiled, EvalError, Value, as_int, compile_expr
from ..values import format_value
from .args import ALIASES, AUTO, REQUIRED, ArgSpec, OpSpec
from .registry import OPS


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
            sub = plan(OPS[arg.name], (), arg.span)
            errors.extend(sub.errors)  # `droppath` without its required `p`
            trailing.append((sub, arg.span))
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
