"""The built-in functions of expressions (`min`, `round`, `make_divisible`, `range`, `zip`,
...), with their argument checks."""

from __future__ import annotations

import math
from typing import Any

from ... import limits
from ...errors import Span, did_you_mean
from ...values import Table, format_value
from .. import syntax as S
from .budget import _items, _length, _spend
from .operands import EvalError, Value, _kind, _number, as_int, truth


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """Round `value` to a multiple of `divisor`, never below 90% of it (MobileNet V2/V3 rule)."""
    min_value = divisor if min_value is None else min_value
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def _arity(name: str, span: Span, args: list[Value], lo: int, hi: int) -> None:
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        noun = "argument" if want == "1" else "arguments"
        raise EvalError(f"{name}() takes {want} {noun}, got {len(args)}", span)


def _call(node: S.Call, args: list[Value]) -> Value:
    name, span = node.func, node.span
    if name in ("min", "max"):
        items = list(args[0]) if len(args) == 1 and isinstance(args[0], tuple) else args
        _spend(len(items), span)
        if not items:
            raise EvalError(f"{name}() needs at least one value", span)
        nums = [_number(v, span) for v in items]
        return min(nums) if name == "min" else max(nums)
    if name in _UNARY:
        _arity(name, span, args, 1, 1)
        x = _number(args[0], span, "the argument")
        if name == "int":
            return int(x)
        if name == "sqrt" and x < 0:
            raise EvalError(f"sqrt() of a negative number ({x!r})", span)
        if name == "exp" and x > 36:  # e**36.7 > 2**53
            raise EvalError(f"exp({x!r}) is too large (limit 2**53)", span, code="limit")
        return _UNARY[name](x)
    if name == "round":  # Python's: halves to even; with digits, a float
        _arity(name, span, args, 1, 2)
        x = _number(args[0], span, "the argument")
        if len(args) == 1:
            return round(x)
        digits = as_int(args[1], span, "the number of digits")
        if not -20 <= digits <= 20:
            raise EvalError(f"round(): {digits} digits is out of range (-20 to 20)", span)
        return float(round(x, digits))
    if name == "log":
        _arity(name, span, args, 1, 2)
        x = _number(args[0], span, "the argument")
        base = _number(args[1], span, "the base") if len(args) == 2 else math.e
        if x <= 0 or base <= 0 or base == 1:
            shown = ", ".join(format_value(a) for a in args)
            raise EvalError(
                f"log({shown}) is not defined", span, "log needs x > 0, base > 0, base ≠ 1"
            )
        return math.log(x) / math.log(base) if len(args) == 2 else math.log(x)
    if name == "range":
        _arity(name, span, args, 1, 3)
        bounds = [as_int(a, span, "a range() argument") for a in args]
        if len(bounds) == 3 and bounds[2] == 0:
            raise EvalError("range() step must not be zero", span)
        r = range(*bounds)
        if len(r) > limits.MAX_LIST:
            raise EvalError(
                f"range() of {len(r)} items (limit {limits.MAX_LIST})", span, code="limit"
            )
        return tuple(r)
    if name in ("zip", "enumerate", "unique", "count", "sorted", "reversed"):
        return _list_function(name, args, span)
    if name == "make_divisible":
        _arity(name, span, args, 2, 3)
        x = _number(args[0], span, "the value")
        d = as_int(args[1], span, "the divisor")
        if d <= 0:
            raise EvalError("make_divisible(): the divisor must be positive", span)
        low = as_int(args[2], span, "min_value") if len(args) == 3 else None
        return make_divisible(x, d, low)
    if name in ("all", "any"):  # Python's truth of every item / of some item
        _arity(name, span, args, 1, 1)
        items = iterable(args[0], span, name)
        _spend(len(items), span)
        return all(map(truth, items)) if name == "all" else any(map(truth, items))
    if name in ("len", "sum"):
        _arity(name, span, args, 1, 1)
        if not isinstance(args[0], tuple):
            raise EvalError(f"{name}() takes a list", span)
        if name == "len":
            return len(args[0])
        _spend(len(args[0]), span)
        return sum(_number(v, span) for v in args[0])
    if name in ("choice", "uniform", "loguniform"):
        raise EvalError(
            f"{name}() declares a search domain; it is written only after a network "
            "parameter's name",
            span,
            f"e.g. `network net(g: {name}(...) = ...)`",
            code="unknown-name",
        )
    raise EvalError(
        f"unknown function `{name}`",
        span,
        did_you_mean(name, FUNCTIONS) or f"functions: {', '.join(sorted(FUNCTIONS))}",
        code="unknown-name",
    )


# the one-argument numeric functions (`int` is handled first: the most common call)
_UNARY = {
    "int": int,
    "floor": lambda x: int(math.floor(x)),
    "ceil": lambda x: int(math.ceil(x)),
    "abs": abs,
    "float": float,
    "exp": math.exp,
    "sqrt": math.sqrt,
}

FUNCTIONS = (
    "min", "max", "int", "float", "round", "floor", "ceil", "abs", "sqrt", "exp", "log",
    "make_divisible", "len", "sum", "range", "zip", "enumerate", "unique", "count", "sorted",
    "reversed", "all", "any",
)  # fmt: skip


def iterable(value: Value, span: Span, name: str) -> tuple:
    """The items of a list, or the keys of a table, as Python iterates them."""
    if isinstance(value, tuple):
        return value
    if isinstance(value, Table):
        return tuple(value.domain())
    what = "`for` needs a list or a table" if name == "for" else f"{name}() takes a list"
    raise EvalError(f"{what}, not {_kind(value)} {format_value(value)}", span)


def _key(value: Value) -> Any:
    """A hashable identity under which `true` and 1 differ (as table keys do)."""
    if isinstance(value, tuple):
        return tuple(_key(v) for v in value)
    return (type(value) is bool, value if not isinstance(value, Table) else id(value))


def _list_function(name: str, args: list[Value], span: Span) -> Value:
    # the items walked: unique() and count() compare nested items, the others only the top
    walk = _items if name in ("unique", "count") else _length
    _spend(sum(walk(a) for a in args), span)
    if name == "zip":
        if not args:
            raise EvalError("zip() needs at least one list", span)
        lists = [iterable(a, span, name) for a in args]
        return tuple(zip(*lists, strict=False))
    if name == "enumerate":
        _arity(name, span, args, 1, 2)
        start = as_int(args[1], span, "enumerate()'s start") if len(args) == 2 else 0
        return tuple((start + i, v) for i, v in enumerate(iterable(args[0], span, name)))
    if name in ("sorted", "reversed"):
        _arity(name, span, args, 1, 1)
        items = iterable(args[0], span, name)
        if name == "reversed":
            return items[::-1]
        return tuple(sorted(_number(v, span, "a sorted() item") for v in items))
    if name == "unique":  # distinct items in first-seen order
        _arity(name, span, args, 1, 1)
        seen: dict[Any, Value] = {}
        for v in iterable(args[0], span, name):
            seen.setdefault(_key(v), v)
        return tuple(seen.values())
    # count(xs): how often each of unique(xs) occurs; count(xs, v): how often v occurs
    _arity(name, span, args, 1, 2)
    items = iterable(args[0], span, name)
    if len(args) == 2:
        want = _key(args[1])
        return sum(1 for v in items if _key(v) == want)
    counts: dict[Any, int] = {}
    for v in items:
        k = _key(v)
        counts[k] = counts.get(k, 0) + 1
    return tuple(counts.values())
