"""Evaluation of integer expressions over parameters, with exact-division and size checks.

Values are int, float, bool, tuple (lists and `3x3` sizes) and `values.Table` ({key: value}).
Every mistake raises `EvalError` with the span of the offending sub-expression.

The concerns live in modules of their own: `operands` (values, `EvalError`, operand checks),
`budget` (the steps a compile may spend), `functions` (the built-ins), `evaluator` (the
tree walk) and `closures` (expressions compiled to functions); their public names are all
importable from here.
"""

from .budget import BUDGET, Budget, size
from .closures import VARIES, Compiled, compile_expr, compile_priced
from .evaluator import bind, evaluate
from .functions import FUNCTIONS, iterable, make_divisible
from .operands import CONSTANTS, EvalError, Value, as_int, truth

__all__ = [
    "BUDGET",
    "CONSTANTS",
    "FUNCTIONS",
    "VARIES",
    "Budget",
    "Compiled",
    "EvalError",
    "Value",
    "as_int",
    "bind",
    "compile_expr",
    "compile_priced",
    "evaluate",
    "iterable",
    "make_divisible",
    "size",
    "truth",
]
