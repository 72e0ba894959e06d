"""The operands of expressions: their values, the error every mistake raises, and the checks
of operands.

Values are int, float, bool, tuple (lists and `3x3` sizes) and `values.Table` ({key: value}).
"""

from __future__ import annotations

from typing import Any

from ... import limits
from ...errors import Span
from ...values import Table, format_value

Value = Any
CONSTANTS = {"true": True, "false": False}


class EvalError(Exception):
    def __init__(self, message: str, span: Span, hint: str | None = None, code: str = "expr"):
        super().__init__(message)
        self.message, self.span, self.hint, self.code = message, span, hint, code


_NUMBERS = frozenset((int, float))


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


def truth(value: Value) -> bool:
    """Python's truth: false, 0 and empty lists and tables are false."""
    if isinstance(value, Table):
        return bool(value.domain())
    return bool(value)
