"""Evaluation of integer expressions over parameters, with exact-division and size checks.

Values are int, float, bool, tuple (lists and `3x3` sizes) and `ir.Table` ({key: value}).
Every mistake raises `EvalError` with the span of the offending sub-expression.
"""

from __future__ import annotations

import math
import threading
from collections import ChainMap
from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any

from .. import limits
from ..errors import Span, did_you_mean
from ..ir import Table, format_value
from ..values import measure
from . import syntax as S

Value = Any
CONSTANTS = {"true": True, "false": False}


class EvalError(Exception):
    def __init__(self, message: str, span: Span, hint: str | None = None, code: str = "expr"):
        super().__init__(message)
        self.message, self.span, self.hint, self.code = message, span, hint, code


# ---- the budget of evaluation steps ------------------------------------------------------


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


def truth(value: Value) -> bool:
    """Python's truth: false, 0 and empty lists and tables are false."""
    if isinstance(value, Table):
        return bool(value.domain())
    return bool(value)


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


# ---- compiled expressions ----------------------------------------------------------------

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
    if t is S.ListExpr:
        return list(node.items)
    if t is S.MapExpr:
        return [e for pair in node.pairs for e in pair]
    raise AssertionError(f"unknown expression node {t.__name__}")


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


_NUMBERS = frozenset((int, float))


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
    S.ListExpr: _compile_list,
    S.MapExpr: _compile_map,
}
_FIXED = {S.BinOp, S.Neg, S.BoolOp, S.Not, S.Cond, S.Index}  # a fixed number of operands
