"""Evaluation of integer expressions over parameters, with exact-division and size checks.

Values are int, float, bool, tuple (lists and `3x3` sizes) and `ir.Table` ({key: value}).
Every mistake raises `EvalError` with the span of the offending sub-expression.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from . import limits
from . import syntax as S
from .errors import Span, did_you_mean
from .ir import Table, format_value
from .values import measure

Value = Any
CONSTANTS = {"true": True, "false": False}


class EvalError(Exception):
    def __init__(self, message: str, span: Span, hint: str | None = None, code: str = "expr"):
        super().__init__(message)
        self.message, self.span, self.hint, self.code = message, span, hint, code


def _sized(value: Value, span: Span) -> Value:
    """`value` (a new list or table), refused if it holds more than MAX_LIST items counting
    nested ones (lists of lists that share their items would otherwise grow exponentially)
    or nests deeper than MAX_VALUE_DEPTH (every walk over values stays shallow)."""
    items, depth = measure(value, limits.MAX_LIST)
    what = "table" if type(value) is Table else "list"
    if items > limits.MAX_LIST:
        message = f"{what} has more than {limits.MAX_LIST} items (nested items included)"
        raise EvalError(message, span, code="limit")
    if depth > limits.MAX_VALUE_DEPTH:
        message = f"lists and tables nested more than {limits.MAX_VALUE_DEPTH} deep"
        raise EvalError(message, span, code="limit")
    return value


def _check(value: Value, span: Span) -> Value:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > limits.MAX_INT:
            raise EvalError(f"value {value} is too large (limit 2**53)", span, code="limit")
    elif isinstance(value, float) and (value != value or abs(value) > limits.MAX_INT):
        raise EvalError(f"value {value} is too large (limit 2**53)", span, code="limit")
    return value


def _number(value: Value, span: Span, what: str = "operand") -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvalError(f"{what} must be a number, not {_kind(value)} {format_value(value)}", span)
    return value


def _kind(value: Value) -> str:
    if isinstance(value, bool):
        return "the boolean"
    if isinstance(value, tuple):
        return "the list"
    if isinstance(value, Table):
        return "the table"
    return "the value"


def as_int(value: Value, span: Span, what: str) -> int:
    """`value` as an int; floats are accepted only when they are whole numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvalError(
            f"{what} must be an integer, not {_kind(value)} {format_value(value)}", span
        )
    if isinstance(value, float):
        if not value.is_integer():
            raise EvalError(
                f"{what} must be an integer, not {value!r}",
                span,
                "round it with int(...), round(...) or make_divisible(..., 8)",
            )
        return int(value)
    return value


def _div(a, b, span: Span, op: str) -> Value:
    if b == 0:
        raise EvalError("division by zero", span)
    if op == "/":
        if isinstance(a, int) and isinstance(b, int):
            q, r = divmod(a, b)
            if r:
                raise EvalError(
                    f"{a} / {b} does not divide exactly ({a} = {b}·{q} + {r})",
                    span,
                    "use `//` to round down, or choose values that divide",
                    code="inexact-division",
                )
            return q
        return a / b
    if isinstance(a, int) and isinstance(b, int):
        return a // b if op == "//" else a % b
    q = a / b
    if not math.isfinite(q):
        raise EvalError(f"{a} {op} {b} is too large (limit 2**53)", span, code="limit")
    return float(math.floor(q)) if op == "//" else a % b


def _pow(a, b, span: Span) -> Value:
    if abs(b) > limits.MAX_EXPONENT:
        raise EvalError(
            f"exponent {b} is too large (limit {limits.MAX_EXPONENT})", span, code="limit"
        )
    if a == 0 and b < 0:
        raise EvalError("division by zero", span)
    if a < 0 and not float(b).is_integer():
        raise EvalError(f"{a} ** {b} is not a real number", span)
    if abs(a) > 1 and b > 0 and b * math.log2(abs(a)) > 53:
        raise EvalError(f"{a} ** {b} is too large (limit 2**53)", span, code="limit")
    try:
        return a**b  # int ** negative int is a float
    except (OverflowError, ZeroDivisionError):
        raise EvalError(f"{a} ** {b} is too large (limit 2**53)", span, code="limit") from None


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """Round `value` to a multiple of `divisor`, never below 90% of it (MobileNet V2/V3 rule)."""
    min_value = divisor if min_value is None else min_value
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def _call(node: S.Call, args: list[Value]) -> Value:
    name, span = node.func, node.span

    def arity(lo: int, hi: int) -> None:
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            noun = "argument" if want == "1" else "arguments"
            raise EvalError(f"{name}() takes {want} {noun}, got {len(args)}", span)

    if name in ("min", "max"):
        items = list(args[0]) if len(args) == 1 and isinstance(args[0], tuple) else args
        if not items:
            raise EvalError(f"{name}() needs at least one value", span)
        nums = [_number(v, span) for v in items]
        return min(nums) if name == "min" else max(nums)
    if name in ("int", "round", "floor", "ceil", "abs"):
        arity(1, 1)
        x = _number(args[0], span, "the argument")
        return {
            "int": lambda: int(x),
            "round": lambda: int(math.floor(x + 0.5)),
            "floor": lambda: int(math.floor(x)),
            "ceil": lambda: int(math.ceil(x)),
            "abs": lambda: abs(x),
        }[name]()
    if name == "make_divisible":
        arity(2, 3)
        x = _number(args[0], span, "the value")
        d = as_int(args[1], span, "the divisor")
        if d <= 0:
            raise EvalError("make_divisible(): the divisor must be positive", span)
        low = as_int(args[2], span, "min_value") if len(args) == 3 else None
        return make_divisible(x, d, low)
    if name in ("len", "sum"):
        arity(1, 1)
        if not isinstance(args[0], tuple):
            raise EvalError(f"{name}() takes a list", span)
        return len(args[0]) if name == "len" else sum(_number(v, span) for v in args[0])
    raise EvalError(
        f"unknown function `{name}`",
        span,
        did_you_mean(name, FUNCTIONS) or f"functions: {', '.join(sorted(FUNCTIONS))}",
        code="unknown-name",
    )


FUNCTIONS = ("min", "max", "int", "round", "floor", "ceil", "abs", "make_divisible", "len", "sum")


def evaluate(node: S.Expr, env: Mapping[str, Value]) -> Value:
    """The value of `node` where names are looked up in `env`."""
    t = type(node)
    if t is S.Num:
        return node.value
    if t is S.Name:
        try:
            return env[node.name]
        except KeyError:
            if node.name in CONSTANTS:
                return CONSTANTS[node.name]
            if node.name == "in":
                raise EvalError(
                    "`in` is defined only inside `layers:` and block bodies",
                    node.span,
                    code="unknown-name",
                ) from None
            raise EvalError(
                f"unknown name `{node.name}`",
                node.span,
                did_you_mean(node.name, [k for k in env if not k.startswith(" ")]),
                code="unknown-name",
            ) from None
    if t is S.BinOp:
        a = evaluate(node.left, env)
        b = evaluate(node.right, env)
        op = node.op
        if op == "+" and isinstance(a, tuple) and isinstance(b, tuple):
            if len(a) + len(b) > limits.MAX_LIST:  # refused before the copy is made
                return _sized(a + b[: limits.MAX_LIST + 1 - len(a)], node.span)
            return _sized(a + b, node.span)
        a = _number(a, node.left.span)
        b = _number(b, node.right.span)
        if op == "+":
            return _check(a + b, node.span)
        if op == "-":
            return _check(a - b, node.span)
        if op == "*":
            return _check(a * b, node.span)
        if op == "**":
            return _check(_pow(a, b, node.span), node.span)
        return _check(_div(a, b, node.span, op), node.span)
    if t is S.Neg:
        return -_number(evaluate(node.operand, env), node.span)
    if t is S.Dims:
        return node.values
    if t is S.Call:
        return _check(_call(node, [evaluate(a, env) for a in node.args]), node.span)
    if t is S.Index:
        target = evaluate(node.target, env)
        key = evaluate(node.index, env)
        if isinstance(target, Table):
            try:
                return target.get(key)
            except KeyError:
                keys = ", ".join(format_value(k) for k in target.domain())
                raise EvalError(
                    f"no entry for {format_value(key)} in the table",
                    node.index.span,
                    f"keys: {keys}" if keys else "the table is empty",
                ) from None
        if isinstance(target, tuple):
            i = as_int(key, node.index.span, "a list index")
            if not -len(target) <= i < len(target):
                raise EvalError(
                    f"index {i} is out of range for a list of {len(target)}", node.index.span
                )
            return target[i]
        raise EvalError(
            f"only lists and tables can be indexed, not {format_value(target)}", node.target.span
        )
    if t is S.ListExpr:
        if len(node.items) > limits.MAX_LIST:
            raise EvalError("list is too long", node.span, code="limit")
        return _sized(tuple(evaluate(i, env) for i in node.items), node.span)
    if t is S.MapExpr:
        if len(node.pairs) > limits.MAX_LIST:
            raise EvalError("table is too long", node.span, code="limit")
        items = []
        seen = set()
        for k, v in node.pairs:
            key = evaluate(k, env)
            if isinstance(key, Table):
                raise EvalError("a table key must be a number or a list", k.span)
            typed = (isinstance(key, bool), key)  # true and 1 are different keys
            if typed in seen:
                raise EvalError(f"duplicate key {format_value(key)} in the table", k.span)
            seen.add(typed)
            items.append((key, evaluate(v, env)))
        return _sized(Table(tuple(items)), node.span)
    raise AssertionError(f"unknown expression node {t.__name__}")
