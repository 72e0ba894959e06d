"""The budget of evaluation steps one compile may spend, and the size checks of the lists
and tables evaluation builds (both bound the work of hostile input)."""

from __future__ import annotations

import threading

from ... import limits
from ...errors import Span
from ...values import Table, measure
from .. import syntax as S
from .operands import EvalError, Value


class Budget:
    """The evaluation steps left to one compile (`limits.MAX_STEPS`).  Every kind of work
    draws on the same budget: budgets of their own, one per loop statement and one per
    comprehension, multiplied (a comprehension in a `for` ran 100,000 × 100,000 times)."""

    __slots__ = ("left", "over")

    def __init__(self, steps: int = limits.MAX_STEPS) -> None:
        self.left = steps
        self.over: Span | None = None  # where the budget first ran out

    def spend(self, n: int, span: Span) -> None:
        """Take `n` steps; raises the `limit` EvalError, at `span`, past the budget."""
        self.left -= n
        if self.left < 0:
            raise self.exceeded(span)

    def exceeded(self, span: Span) -> EvalError:
        if self.over is None:
            self.over = span
        return EvalError(
            f"evaluating the spec takes more than {limits.MAX_STEPS} steps",
            span,
            "loops, comprehensions, the lists they build and block calls share one budget "
            "per compile (see Limits in docs/language.md)",
            code="limit",
        )


class _Running(threading.local):
    """The budget of the compile running in this thread (`budget`; None outside any).  Not
    an argument: the list-building helpers are reached from everywhere; per thread: threads
    compiling at once each have their own.  (A ContextVar's set and reset cost ~4 us a
    compile, 4 % of a search loop's.)"""

    budget: Budget | None = None

    def set(self, budget: Budget | None) -> Budget | None:
        """Make `budget` the running one; returns the one to `reset` to after."""
        previous, self.budget = self.budget, budget
        return previous

    def reset(self, previous: Budget | None) -> None:
        self.budget = previous


BUDGET = _Running()


def _spend(n: int, span: Span) -> None:
    budget = BUDGET.budget
    if budget is not None:
        budget.spend(n, span)


def size(node: S.Expr) -> int:
    """The steps one evaluation of `node` costs besides the lists it builds: one a node, a
    few more for a call and for a comprehension (a step is ~1 us of the costliest work).
    A comprehension counts only its first iterable here; its iterations are counted as
    they run."""
    t = type(node)
    if t is S.Num or t is S.Name or t is S.Dims:
        return 1
    if t is S.ListComp:
        return 4 + size(node.clauses[0].iterable)
    return (2 if t is S.Call else 1) + sum(size(c) for c in _operands(node))


def _length(value: Value) -> int:
    """Items of a list or table, not counting nested ones."""
    t = type(value)
    return len(value) if t is tuple else len(value.items) if t is Table else 0


def _items(value: Value) -> int:
    """Items of a list or table, nested ones included (what walking all of it costs)."""
    return measure(value, limits.MAX_LIST)[0] if type(value) in (tuple, Table) else 0


def _sized(value: Value, span: Span) -> Value:
    """`value` (a new list or table), refused if it holds more than MAX_LIST items counting
    nested ones (lists of lists that share their items would otherwise grow exponentially)
    or nests deeper than MAX_VALUE_DEPTH (every walk over values stays shallow)."""
    items, depth = measure(value, limits.MAX_LIST)
    _spend(items + 1, span)
    what = "table" if type(value) is Table else "list"
    if items > limits.MAX_LIST:
        message = f"{what} has more than {limits.MAX_LIST} items (nested items included)"
        raise EvalError(message, span, code="limit")
    if depth > limits.MAX_VALUE_DEPTH:
        message = f"lists and tables nested more than {limits.MAX_VALUE_DEPTH} deep"
        raise EvalError(message, span, code="limit")
    return value


def _operands(node: S.Expr) -> list[S.Expr]:
    t = type(node)
    if t is S.BinOp or t is S.BoolOp:
        return [node.left, node.right]
    if t is S.Neg or t is S.Not:
        return [node.operand]
    if t is S.Call:
        return list(node.args)
    if t is S.Compare:
        return list(node.operands)
    if t is S.Cond:
        return [node.test, node.then, node.orelse]
    if t is S.Index:
        return [node.target, node.index]
    if t is S.Slice:
        return [node.target, *node.parts]
    if t is S.ListExpr:
        return list(node.items)
    if t is S.MapExpr:
        return [e for pair in node.pairs for e in pair]
    raise AssertionError(f"unknown expression node {t.__name__}")
