"""The tree-walking evaluator: the value of an expression node in an environment of names.

Every mistake raises `EvalError` with the span of the offending sub-expression; the work is
paid from the running compile's budget.
"""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Mapping
from itertools import islice

from ... import limits
from ...errors import Span, did_you_mean
from ...values import Table, format_value
from .. import syntax as S
from .budget import BUDGET, Budget, _items, _sized, _spend, size
from .functions import _call, iterable
from .operands import _NUMBERS, CONSTANTS, EvalError, Value, _check, _kind, _number, as_int, truth


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


_ORDER = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
_ORDER |= {">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _compare(op: str, a: Value, b: Value, span: Span) -> bool:
    """`==`/`!=` compare any two values (1 == 1.0; lists item by item; tables by identity),
    except a boolean with a number: booleans are not numbers, and `true == 1` would pass
    silently where a number was meant.  Orderings take numbers, or lists of numbers
    compared item by item."""
    ta, tb = type(a), type(b)
    if op == "==" or op == "!=":
        if ta is tuple or tb is tuple:
            _spend(_items(a) + _items(b), span)
        equal = _equal(op, a, b, span)
        return equal if op == "==" else not equal
    if ta is tuple and tb is tuple:
        _spend(len(a) + len(b), span)
        if all(type(v) in _NUMBERS for v in a + b):
            return _ORDER[op](a, b)
    elif ta in _NUMBERS and tb in _NUMBERS:
        return _ORDER[op](a, b)
    raise _incomparable(op, a, b, span)


def _equal(op: str, a: Value, b: Value, span: Span) -> bool:
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        if ta is not tb and (ta in _NUMBERS or tb in _NUMBERS):
            raise _incomparable(op, a, b, span)
        return a is b
    if ta is tuple and tb is tuple:
        return len(a) == len(b) and all(_equal(op, x, y, span) for x, y in zip(a, b, strict=True))
    if ta is Table or tb is Table:
        return a is b
    return a == b


def _incomparable(op: str, a: Value, b: Value, span: Span) -> EvalError:
    hint = None
    items = (a if type(a) is tuple else (a,)) + (b if type(b) is tuple else (b,))
    if any(type(v) is bool for v in items):
        hint = "booleans are not numbers: test the boolean itself (`if x`, `if not x`)"
    return EvalError(
        f"cannot compare {_kind(a)} {format_value(a)} with {_kind(b)} {format_value(b)} "
        f"using `{op}`",
        span,
        hint,
    )


def _comprehension(node: S.ListComp, env: Mapping[str, Value]):
    """The items of a comprehension, each iteration paid from the compile's budget: one step
    and the size of what it evaluates (its filters, then the next clause's iterable or the
    element), so a filter that keeps nothing cannot hide an unbounded amount of work."""
    budget = BUDGET.budget or Budget()
    found = _PLANS.get(id(node))
    if found is None:
        if len(_PLANS) >= 10_000:
            _PLANS.clear()
        clauses = node.clauses
        costs = tuple(
            1
            + sum(size(c) for c in clause.conds)
            + size(clauses[i + 1].iterable if i + 1 < len(clauses) else node.element)
            for i, clause in enumerate(clauses)
        )
        names = {name for clause in clauses for name in clause.targets}
        found = _PLANS[id(node)] = (node, costs, names)  # holding `node` keeps its id
    costs, names = found[1], found[2]
    if type(env) is not ChainMap or type(env.maps[0]) is not _Scope:
        scope = _Scope()
        yield from _clauses(node, 0, scope, ChainMap(scope, env), costs, budget)
        return
    # nested in another comprehension: its scope, its variables saved and put back after
    # (a ChainMap per level made every name lookup cost the depth of nesting)
    scope = env.maps[0]
    saved = {name: scope[name] for name in names if name in scope}
    try:
        yield from _clauses(node, 0, scope, env, costs, budget)
    finally:
        for name in names:
            scope.pop(name, None)
        scope.update(saved)


# id(comprehension) -> (it, the steps of an iteration of each clause, its variables)
_PLANS: dict[int, tuple[S.ListComp, tuple[int, ...], set[str]]] = {}


class _Scope(dict):
    """The variables of the comprehensions being evaluated (one dict however deep they
    nest)."""


def _clauses(
    node: S.ListComp,
    i: int,
    scope: dict[str, Value],
    local: ChainMap,
    costs: tuple[int, ...],
    budget: Budget,
):
    """The items of clauses i, i+1, ... of a comprehension (a generator function, not a
    recursive closure: that would be a reference cycle, garbage for the collector)."""
    if i == len(node.clauses):
        yield _evaluate(node.element, local)
        return
    clause, cost = node.clauses[i], costs[i]
    for item in iterable(_evaluate(clause.iterable, local), clause.iterable.span, "for"):
        budget.left -= cost
        if budget.left < 0:
            raise budget.exceeded(node.span)
        bind(scope, clause.targets, item, clause.span)
        if all(truth(_evaluate(c, local)) for c in clause.conds):
            yield from _clauses(node, i + 1, scope, local, costs, budget)


def bind(scope: dict[str, Value], targets: tuple[str, ...], item: Value, span: Span) -> None:
    """Assign a loop's item to its variables, unpacking a row (`for t, c, n, s in cfg`)."""
    if len(targets) == 1:
        scope[targets[0]] = item
        return
    if not isinstance(item, tuple) or len(item) != len(targets):
        raise EvalError(
            f"cannot unpack {format_value(item)} into {len(targets)} names "
            f"({', '.join(targets)})",
            span,
        )
    for name, value in zip(targets, item, strict=True):
        scope[name] = value


def _unknown(node: S.Name, env: Mapping[str, Value]) -> Value:
    """A name not in `env`: `true` / `false`, else the mistake."""
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


def _binop(node: S.BinOp, a: Value, b: Value) -> Value:
    """`a op b`, the operands already evaluated."""
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


def _called(node: S.Call, args: list[Value]) -> Value:
    result = _call(node, args)
    return _sized(result, node.span) if isinstance(result, tuple) else _check(result, node.span)


def _slice(node: S.Slice, target: Value, bounds: list[Value]) -> Value:
    """`target[start:stop:step]` with the bounds written (`bounds`, in order)."""
    if not isinstance(target, tuple):
        raise EvalError(f"only lists can be sliced, not {format_value(target)}", node.target.span)
    given = iter(bounds)
    parts = []
    for e, what in ((node.start, "a slice start"), (node.stop, "a slice stop"),
                    (node.step, "a slice step")):  # fmt: skip
        parts.append(None if e is None else as_int(next(given), e.span, what))
    if parts[2] == 0:
        raise EvalError("a slice step cannot be zero", node.step.span)
    return _sized(target[parts[0] : parts[1] : parts[2]], node.span)


def _index(node: S.Index, target: Value, key: Value) -> Value:
    if isinstance(target, Table):
        _spend(len(target.items), node.span)  # a lookup walks the entries
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


def _table(node: S.MapExpr, pairs) -> Table:
    """The table of `node`; `pairs` yields each (key, a function giving its value) in order,
    so keys and values are evaluated alternately, as written."""
    items = []
    seen = set()
    for (k, _), (key, value) in zip(node.pairs, pairs, strict=True):
        if isinstance(key, Table):
            raise EvalError("a table key must be a number or a list", k.span)
        typed = (isinstance(key, bool), key)  # true and 1 are different keys
        if typed in seen:
            raise EvalError(f"duplicate key {format_value(key)} in the table", k.span)
        seen.add(typed)
        items.append((key, value()))
    return _sized(Table(tuple(items)), node.span)


def evaluate(node: S.Expr, env: Mapping[str, Value]) -> Value:
    """The value of `node` where names are looked up in `env`, paid from the budget of the
    compile running (outside one, from a budget of its own)."""
    if BUDGET.budget is not None:
        return _evaluate(node, env)
    token = BUDGET.set(Budget())
    try:
        return _evaluate(node, env)
    finally:
        BUDGET.reset(token)


def _evaluate(node: S.Expr, env: Mapping[str, Value]) -> Value:
    t = type(node)
    if t is S.Num:
        return node.value
    if t is S.Name:
        try:
            return env[node.name]
        except KeyError:
            return _unknown(node, env)
    if t is S.BinOp:
        a = _evaluate(node.left, env)
        return _binop(node, a, _evaluate(node.right, env))
    if t is S.Neg:
        return -_number(_evaluate(node.operand, env), node.span)
    if t is S.Dims:
        return node.values
    if t is S.Call:
        return _called(node, [_evaluate(a, env) for a in node.args])
    if t is S.Compare:
        left = _evaluate(node.operands[0], env)
        for op, right_node in zip(node.ops, node.operands[1:], strict=True):
            right = _evaluate(right_node, env)
            if not _compare(op, left, right, right_node.span):
                return False
            left = right
        return True
    if t is S.BoolOp:
        left = _evaluate(node.left, env)
        if truth(left) == (node.op == "or"):  # short-circuit, as in Python
            return left
        return _evaluate(node.right, env)
    if t is S.Not:
        return not truth(_evaluate(node.operand, env))
    if t is S.Cond:
        chosen = node.then if truth(_evaluate(node.test, env)) else node.orelse
        return _evaluate(chosen, env)
    if t is S.ListComp:
        items = _comprehension(node, env)
        try:  # past MAX_LIST items the list is refused: no need to make the rest
            return _sized(tuple(islice(items, limits.MAX_LIST + 1)), node.span)
        finally:
            items.close()  # puts back the variables of an enclosing comprehension
    if t is S.Index:
        target = _evaluate(node.target, env)
        return _index(node, target, _evaluate(node.index, env))
    if t is S.Slice:
        target = _evaluate(node.target, env)
        return _slice(node, target, [_evaluate(e, env) for e in node.parts])
    if t is S.ListExpr:
        if len(node.items) > limits.MAX_LIST:
            raise EvalError("list is too long", node.span, code="limit")
        return _sized(tuple(_evaluate(i, env) for i in node.items), node.span)
    if t is S.MapExpr:
        if len(node.pairs) > limits.MAX_LIST:
            raise EvalError("table is too long", node.span, code="limit")
        return _table(
            node, ((_evaluate(k, env), lambda v=v: _evaluate(v, env)) for k, v in node.pairs)
        )
    raise AssertionError(f"unknown expression node {t.__name__}")
