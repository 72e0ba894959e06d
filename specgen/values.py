"""Spec values that are not plain numbers, how any value is written back in .conv syntax, and
how a value given from Python becomes one (`from_python`, `given_value`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import limits


def format_value(value: Any) -> str:
    """A spec value as it would be written in a .conv file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple | list):  # a list: `Network.params` gives lists
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Table):
        return (
            "{" + ", ".join(f"{format_value(k)}: {format_value(v)}" for k, v in value.items) + "}"
        )
    return str(value)


@dataclass(frozen=True, slots=True)
class Table:
    """A `{key: value}` literal: a frozen, hashable lookup table."""

    items: tuple[tuple[Any, Any], ...]

    def get(self, key: Any) -> Any:
        for k, v in self.items:
            if k == key and isinstance(k, bool) == isinstance(key, bool):
                return v
        raise KeyError(key)

    def domain(self) -> list[Any]:
        return [k for k, _ in self.items]


class ValueProblem(Exception):
    """A Python value that cannot become a spec value; the message says why."""


def measure(value: Any, budget: int) -> tuple[int, int]:
    """(items, depth) of `value`: items nested ones included, shared ones counted each time
    they appear, and lists and tables nested inside one another.  The walk stops past
    `budget` items, so a hostile value costs at most the budget."""
    total = deepest = 0
    todo = [(value, 0)]
    while todo:
        v, depth = todo.pop()
        t = type(v)
        if t is tuple:
            items = v
        elif t is Table:
            items = [x for pair in v.items for x in pair]
            total -= len(v.items)  # a key and its value are one item
        else:
            continue
        total += len(items)
        deepest = max(deepest, depth + 1)
        if total > budget:
            break
        todo.extend((item, depth + 1) for item in items)
    return total, deepest


def from_python(value: Any, max_items: int, max_depth: int) -> Any:
    """A value given from Python (a parameter override) as a spec value of exactly the
    built-in types, re-created from its value.

    This is the one boundary through which caller objects enter the compiler: an `int` or
    `float` subclass with a hostile `__str__`/`__repr__`/`__format__` comes out as a plain
    `int`/`float`, so nothing but numbers re-created from their values can ever reach
    generated code.  numpy scalars are accepted; lists, tuples, dicts and other mappings
    become lists and tables.  Raises `ValueProblem` for anything else, for self-containing
    values, and past `max_items` items or `max_depth` levels of nesting.
    """
    t = type(value)
    if t is bool or t is int or t is float:  # the common case, before any set-up
        return value
    return _Converter(max_items, max_depth).convert(value, 0)


def given_value(value: Any, default: Any) -> Any:
    """A parameter value given from Python or the CLI, as a spec value of its declared
    default's type: the one conversion a given value goes through (`from_python`, numbers
    within `limits.MAX_INT`, then the type of `default`).

    The declared default's type governs: `--set wa=36` on `wa=24.48` is the float 36.0 (as
    an int, `/` would refuse 36 / 24 as inexact), 2.0 on `depth=50` the int 2; a bool is
    neither a number nor taken for one.  Raises `ValueProblem` with the rest of the sentence
    "parameter `NAME` ...": "got ..." or "expects a value like ..., got ...".
    """
    t = type(value)
    if t is type(default) and (t is int or t is float) and abs(value) <= limits.MAX_INT:
        return value  # the common case of a search loop, before any set-up (NaN goes on)
    try:
        value = from_python(value, limits.MAX_LIST, limits.MAX_VALUE_DEPTH)
    except ValueProblem as problem:
        raise ValueProblem(f"got {problem}") from None
    if not _in_range(value):
        raise ValueProblem("got a number that is too large or not finite (limit 2**53)")
    if not fits(default, value):
        raise ValueProblem(
            f"expects a value like {format_value(default)}, got {format_value(value)}"
        )
    if isinstance(default, float) and type(value) is int:
        return float(value)
    if isinstance(default, int) and isinstance(value, float):
        return int(value)
    return value


def fits(default: Any, value: Any) -> bool:
    """Whether a parameter whose declared default is `default` can take `value`: a boolean
    only booleans, a number only numbers (whole ones where the default is an int), a list
    only lists, a table only tables."""
    if _kind(default) != _kind(value):
        return False
    return not (
        isinstance(default, int)
        and not isinstance(default, bool)
        and isinstance(value, float)
        and not value.is_integer()
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _in_range(value: Any) -> bool:
    """Every number in `value` finite and within 2**53 (lists and tables included)."""
    if isinstance(value, tuple):
        return all(_in_range(v) for v in value)
    if isinstance(value, Table):
        return all(_in_range(k) and _in_range(v) for k, v in value.items)
    if isinstance(value, float):
        return value == value and abs(value) <= limits.MAX_INT
    return isinstance(value, bool) or abs(value) <= limits.MAX_INT


class _Converter:
    """The walk of `from_python`.  Methods, not recursive closures: those are reference
    cycles, garbage left by every compile for the collector."""

    __slots__ = ("budget", "max_items", "max_depth", "active")

    def __init__(self, max_items: int, max_depth: int) -> None:
        self.budget = self.max_items = max_items
        self.max_depth = max_depth
        self.active: set[int] = set()

    def convert(self, v: Any, depth: int) -> Any:
        t = type(v)
        if t is bool or t is int or t is float:
            return v
        if getattr(getattr(v, "dtype", None), "kind", None) == "b":  # numpy's bool
            return bool(v)  # bool() always returns exactly True or False
        if isinstance(v, int):
            return int.__int__(v)  # the exact int value, whatever the subclass overrides
        if isinstance(v, float):
            return float.__float__(v)
        if isinstance(v, str | bytes | bytearray):
            raise ValueProblem(f"a value that is not a number, list or table ({type(v).__name__})")
        if hasattr(type(v), "__index__") and not isinstance(v, list | tuple | dict):
            return _exact(v, int)  # numpy integers
        if isinstance(v, list | tuple | dict | Table) or _is_mapping(v):
            if depth >= self.max_depth:
                raise ValueProblem(f"lists and tables nested more than {self.max_depth} deep")
            if id(v) in self.active:
                raise ValueProblem("a list or table that contains itself")
            self.active.add(id(v))
            try:
                return self.container(v, depth + 1)
            finally:
                self.active.discard(id(v))
        if _is_real(v):
            return _exact(v, float)  # numpy floats and other real numbers
        raise ValueProblem(f"a value that is not a number, list or table ({type(v).__name__})")

    def take(self, n: int) -> None:
        self.budget -= n
        if self.budget < 0:
            raise ValueProblem(f"more than {self.max_items} items in its lists and tables")

    def container(self, v: Any, depth: int) -> Any:
        convert = self.convert
        if isinstance(v, list):
            self.take(list.__len__(v))
            return tuple(convert(item, depth) for item in list.__iter__(v))
        if isinstance(v, tuple):
            self.take(tuple.__len__(v))
            return tuple(convert(item, depth) for item in tuple.__iter__(v))
        if isinstance(v, Table):
            pairs = v.items
        elif isinstance(v, dict):
            pairs = dict.items(v)
        else:
            try:
                if len(v) > self.max_items:
                    raise ValueProblem(f"more than {self.max_items} items in its lists and tables")
                pairs = list(v.items())
            except ValueProblem:
                raise
            except Exception as err:  # a caller's mapping that fails to list itself
                raise ValueProblem(
                    f"a mapping that could not be read ({type(err).__name__})"
                ) from None
        self.take(len(pairs))
        items = []
        for key, item in pairs:
            key = convert(key, depth)
            if type(key) is Table:
                raise ValueProblem("a table key must be a number or a list")
            items.append((key, convert(item, depth)))
        return Table(tuple(items))


def _exact(v: Any, kind: type) -> Any:
    """`int(v)` or `float(v)` of a number-like object, as exactly that built-in type."""
    try:
        result = int.__int__(int(v)) if kind is int else float.__float__(float(v))
    except Exception as err:  # a caller's number that fails to convert itself
        raise ValueProblem(f"a {type(v).__name__} that could not be read as a number") from err
    return result


def _is_mapping(v: Any) -> bool:
    from collections.abc import Mapping

    return isinstance(v, Mapping)


def _is_real(v: Any) -> bool:
    import numbers

    return isinstance(v, numbers.Real)


def plain(value: Any) -> Any:
    """A value as Python callers and JSON see it: lists, not tuples."""
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value
