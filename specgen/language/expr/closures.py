"""Expressions compiled to closures: the same values and errors as `evaluate`, without
dispatching on node types at every evaluation (a search evaluates the same expressions for
every candidate)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ... import limits
from ...values import Table
from .. import syntax as S
from .budget import BUDGET, Budget, _operands, _sized, size
from .evaluator import _binop, _called, _compare, _index, _slice, _table, _unknown, evaluate
from .operands import _NUMBERS, EvalError, Value, _number, truth

Compiled = Callable[[Mapping[str, Value]], Value]
VARIES = object()  # what `compile_expr` gives as the constant of an expression that reads names
_MAX = limits.MAX_INT


def compile_expr(node: S.Expr) -> tuple[Compiled, Any]:
    """`node` as a function of the environment, and its value when it reads no name (else
    `VARIES`).

    The function gives exactly what `evaluate(node, env)` gives — the same value or the same
    EvalError — without dispatching on node types at every call: an architecture search
    evaluates the same few hundred expressions for every candidate.  Sub-expressions that
    read no name are evaluated here, once; a table is never such a constant, because tables
    compare by identity and each evaluation must make a new one.
    """
    t = type(node)
    if t is S.Num or t is S.Dims:
        value = node.value if t is S.Num else node.values
        return (lambda env: value), value
    if t is S.Name:
        return _compile_name(node), VARIES
    if t is S.ListComp:
        return (lambda env: evaluate(node, env)), VARIES  # rare: evaluated as written
    parts = [compile_expr(c) for c in _operands(node)]
    if all(c is not VARIES for _, c in parts):
        try:
            value = evaluate(node, {})
        except EvalError:
            pass  # raised again at every evaluation, as written
        else:
            if t is S.MapExpr and not _holds_table(value.items):
                items = value.items
                return (lambda env: Table(items)), VARIES  # a new table, the same items
            if not _holds_table(value):
                return (lambda env: value), value
    fns = [f for f, _ in parts]
    return _COMPILERS[t](node, *fns) if t in _FIXED else _COMPILERS[t](node, fns), VARIES


def compile_priced(node: S.Expr) -> tuple[Compiled, int]:
    """`compile_expr(node)`'s function, and the steps each of its evaluations is charged: the
    nodes of `node` and the work done once here on its constant parts, as if they were
    evaluated every time (so the cost of an evaluation does not depend on whether an
    earlier compile of the same text compiled it).  The constant parts are evaluated from a
    budget of their own; past it, the cost exceeds any compile's budget."""
    budget = Budget()
    token = BUDGET.set(budget)
    try:
        fn = compile_expr(node)[0]
    finally:
        BUDGET.reset(token)
    return fn, size(node) + limits.MAX_STEPS - budget.left


def _holds_table(value: Value) -> bool:
    todo = [value]
    while todo:
        v = todo.pop()
        if type(v) is Table:
            return True
        if type(v) is tuple:
            todo.extend(v)
    return False


def _compile_name(node: S.Name) -> Compiled:
    name = node.name

    def fn(env):
        try:
            return env[name]
        except KeyError:
            return _unknown(node, env)

    return fn


def _compile_binop(node: S.BinOp, left: Compiled, right: Compiled) -> Compiled:
    op = node.op
    # the common case inline: two numbers, a result within 2**53 (NaN fails the range test)
    if op == "+":

        def fn(env):
            a = left(env)
            b = right(env)
            if type(a) in _NUMBERS and type(b) in _NUMBERS and -_MAX <= (r := a + b) <= _MAX:
                return r
            return _binop(node, a, b)

    elif op == "-":

        def fn(env):
            a = left(env)
            b = right(env)
            if type(a) in _NUMBERS and type(b) in _NUMBERS and -_MAX <= (r := a - b) <= _MAX:
                return r
            return _binop(node, a, b)

    elif op == "*":

        def fn(env):
            a = left(env)
            b = right(env)
            if type(a) in _NUMBERS and type(b) in _NUMBERS and -_MAX <= (r := a * b) <= _MAX:
                return r
            return _binop(node, a, b)

    elif op == "/":

        def fn(env):
            a = left(env)
            b = right(env)
            if type(a) is int and type(b) is int and b > 0:
                q, r = divmod(a, b)
                if not r and -_MAX <= q <= _MAX:
                    return q
            return _binop(node, a, b)

    elif op == "//":

        def fn(env):
            a = left(env)
            b = right(env)
            if type(a) is int and type(b) is int and b > 0 and -_MAX <= (q := a // b) <= _MAX:
                return q
            return _binop(node, a, b)

    else:

        def fn(env):
            a = left(env)
            return _binop(node, a, right(env))

    return fn


def _compile_neg(node: S.Neg, operand: Compiled) -> Compiled:
    span = node.span
    return lambda env: -_number(operand(env), span)


def _compile_call(node: S.Call, args: list[Compiled]) -> Compiled:
    return lambda env: _called(node, [f(env) for f in args])


def _compile_compare(node: S.Compare, operands: list[Compiled]) -> Compiled:
    if len(node.ops) == 1:
        op, span = node.ops[0], node.operands[1].span
        first, second = operands

        def one(env):
            return _compare(op, first(env), second(env), span)

        return one
    rest = list(zip(node.ops, operands[1:], (o.span for o in node.operands[1:]), strict=True))
    first = operands[0]

    def chain(env):
        left = first(env)
        for op, right_fn, span in rest:
            right = right_fn(env)
            if not _compare(op, left, right, span):
                return False
            left = right
        return True

    return chain


def _compile_boolop(node: S.BoolOp, left: Compiled, right: Compiled) -> Compiled:
    stop = node.op == "or"

    def fn(env):
        value = left(env)
        if truth(value) == stop:  # short-circuit, as in Python
            return value
        return right(env)

    return fn


def _compile_not(node: S.Not, operand: Compiled) -> Compiled:
    return lambda env: not truth(operand(env))


def _compile_cond(node: S.Cond, test: Compiled, then: Compiled, orelse: Compiled) -> Compiled:
    return lambda env: then(env) if truth(test(env)) else orelse(env)


def _compile_index(node: S.Index, target: Compiled, index: Compiled) -> Compiled:
    def fn(env):
        value = target(env)
        return _index(node, value, index(env))

    return fn


def _compile_slice(node: S.Slice, fns: list[Compiled]) -> Compiled:
    target, bounds = fns[0], fns[1:]
    return lambda env: _slice(node, target(env), [f(env) for f in bounds])


def _compile_list(node: S.ListExpr, items: list[Compiled]) -> Compiled:
    span = node.span
    if len(items) > limits.MAX_LIST:

        def too_long(env):
            raise EvalError("list is too long", span, code="limit")

        return too_long
    return lambda env: _sized(tuple([f(env) for f in items]), span)


def _compile_map(node: S.MapExpr, fns: list[Compiled]) -> Compiled:
    if len(node.pairs) > limits.MAX_LIST:

        def too_long(env):
            raise EvalError("table is too long", node.span, code="limit")

        return too_long
    pairs = list(zip(fns[::2], fns[1::2], strict=True))
    return lambda env: _table(node, ((k(env), lambda v=v: v(env)) for k, v in pairs))


_COMPILERS: dict[type, Callable[..., Compiled]] = {
    S.BinOp: _compile_binop,
    S.Neg: _compile_neg,
    S.Call: _compile_call,
    S.Compare: _compile_compare,
    S.BoolOp: _compile_boolop,
    S.Not: _compile_not,
    S.Cond: _compile_cond,
    S.Index: _compile_index,
    S.Slice: _compile_slice,
    S.ListExpr: _compile_list,
    S.MapExpr: _compile_map,
}
_FIXED = {S.BinOp, S.Neg, S.BoolOp, S.Not, S.Cond, S.Index}  # a fixed number of operands
