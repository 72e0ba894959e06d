"""Spec expressions as Python source, for the family code: the same values in Python's own
syntax, with the few rules where the language differs from Python kept by small helpers
(`divide` for the exact `/` of two ints, `make_divisible`, `unique`, `count`)."""

from __future__ import annotations

from collections.abc import Callable

from ...language import syntax as S
from ...targets.common import num

# Python's precedence, lowest first (the levels this translation writes)
_COND, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY, _POW, _ATOM = range(10)
_BINARY = {"+": _ADD, "-": _ADD, "*": _MUL, "//": _MUL, "%": _MUL, "/": _MUL, "**": _POW}
# spec functions that are Python builtins, as they are
_BUILTINS = {"min", "max", "int", "float", "round", "abs", "len", "sum", "sorted", "all", "any"}
_MATH = {"sqrt": "math.sqrt", "exp": "math.exp", "log": "math.log"}
_MATH |= {"floor": "math.floor", "ceil": "math.ceil"}
# list-valued functions that Python gives as iterators: a list where a value is needed
_LISTS = {"zip", "enumerate", "reversed", "range"}
HELPERS = {"divide", "make_divisible", "unique", "count"}


class Untranslatable(Exception):
    """A construct the family code cannot write (the reason is the message)."""


class NeedsSize(Untranslatable):
    """A layer whose module depends on its input's H×W (`gdc`, `flatten`): the family code
    follows the size through the constructors (`in_size`, `size = conv_size(...)`)."""


class PyExpr:
    """Translates expressions; `local` maps a spec name to its Python name; `used` collects
    the helpers and modules the text needs (`math`, `divide`, ...)."""

    def __init__(self, local: Callable[[str], str]):
        self._local = local
        self.used: set[str] = set()
        self.scopes: list[dict[str, str]] = []  # comprehension variables, innermost last
        self.floaty: Callable[[str], bool] = lambda name: False  # may a name be a float?
        self.pairy: Callable[[str], bool] = lambda name: False  # may it be a list (a pair)?

    def local(self, name: str) -> str:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self._local(name)

    def __call__(self, e: S.Expr, iterated: bool = False) -> str:
        """`e` as Python; `iterated`: it is a `for` iterable (an iterator will do)."""
        text, _ = self.expr(e, iterated)
        return text

    def expr(self, e: S.Expr, iterated: bool = False) -> tuple[str, int]:
        t = type(e)
        if t is S.Num:
            return num(e.value), _ATOM if e.value >= 0 else _UNARY
        if t is S.Name:
            if e.name == "true" or e.name == "false":
                return ("True" if e.name == "true" else "False"), _ATOM
            return self.local(e.name), _ATOM
        if t is S.Dims:
            return f"({', '.join(num(v) for v in e.values)})", _ATOM
        if t is S.BinOp:
            level = _BINARY[e.op]
            if e.op == "/" and (_is_float(e.left) or _is_float(e.right)):
                level = _MUL  # a float operand: Python's own division
            elif e.op == "/":
                self.used.add("divide")
                return f"divide({self(e.left)}, {self(e.right)})", _ATOM
            # ** is right-associative: the left operand binds tighter
            left = self.wrap(e.left, level + 1 if e.op == "**" else level)
            right = self.wrap(e.right, level if e.op == "**" else level + 1)
            return f"{left} {e.op} {right}", level
        if t is S.Neg:
            return f"-{self.wrap(e.operand, _UNARY)}", _UNARY
        if t is S.Not:
            return f"not {self.wrap(e.operand, _NOT)}", _NOT
        if t is S.BoolOp:
            level = _OR if e.op == "or" else _AND
            return f"{self.wrap(e.left, level)} {e.op} {self.wrap(e.right, level + 1)}", level
        if t is S.Compare:
            parts = [self.wrap(e.operands[0], _CMP + 1)]
            for op, operand in zip(e.ops, e.operands[1:], strict=True):
                parts += [op, self.wrap(operand, _CMP + 1)]
            return " ".join(parts), _CMP
        if t is S.Cond:
            test = self.wrap(e.test, _OR)
            return f"{self.wrap(e.then, _OR)} if {test} else {self.wrap(e.orelse, _COND)}", _COND
        if t is S.Index:
            return f"{self.wrap(e.target, _ATOM)}[{self(e.index)}]", _ATOM
        if t is S.Slice:
            bounds = [("" if b is None else self(b)) for b in (e.start, e.stop, e.step)]
            inside = ":".join(bounds if e.step is not None else bounds[:2])
            return f"{self.wrap(e.target, _ATOM)}[{inside}]", _ATOM
        if t is S.ListExpr:
            return f"[{', '.join(self(i) for i in e.items)}]", _ATOM
        if t is S.MapExpr:
            return "{" + ", ".join(f"{self(k)}: {self(v)}" for k, v in e.pairs) + "}", _ATOM
        if t is S.ListComp:
            clauses = []
            depth = len(self.scopes)
            try:
                for c in e.clauses:
                    iterable = self.wrap(c.iterable, _OR, True)
                    self.scopes.append({n: _comprehension_name(n) for n in c.targets})
                    targets = ", ".join(self.local(n) for n in c.targets)
                    clauses.append(f"for {targets} in {iterable}")
                    clauses += [f"if {self.wrap(cond, _OR)}" for cond in c.conds]
                element = self(e.element)
            finally:
                del self.scopes[depth:]
            return f"[{element} {' '.join(clauses)}]", _ATOM
        if t is S.Call:
            return self.call(e, iterated), _ATOM
        raise Untranslatable(f"no Python form for {t.__name__}")

    def wrap(self, e: S.Expr, level: int, iterated: bool = False) -> str:
        """`e`, in parentheses where its precedence is below `level`."""
        text, own = self.expr(e, iterated)
        return text if own >= level else f"({text})"

    def call(self, e: S.Call, iterated: bool) -> str:
        name = e.func
        # these take any iterable: a range or a zip needs no list() around it
        lazy = name in ("zip", "enumerate", "sorted", "sum", "min", "max", "all", "any", "list")
        args = ", ".join(self(a, iterated=lazy) for a in e.args)
        if name in _BUILTINS:
            return f"{name}({args})"
        if name in _MATH:
            self.used.add("math")
            return f"{_MATH[name]}({args})"
        if name in _LISTS:
            text = f"{name}({args})"  # zip: as long as the shortest, as the language's
            return text if iterated else f"list({text})"
        if name in HELPERS:
            self.used.add(name)
            return f"{name}({args})"
        raise Untranslatable(f"no Python form for the function `{name}`")


def _comprehension_name(name: str) -> str:
    """A comprehension variable keeps its name unless Python reserves it."""
    from ...names import RESERVED

    return name if name not in RESERVED else name + "_"


def _is_float(e: S.Expr) -> bool:
    return type(e) is S.Num and isinstance(e.value, float)


_FLOAT_CALLS = {"float", "sqrt", "exp", "log"}
_INT_CALLS = {"int", "len", "make_divisible", "floor", "ceil", "count"}


def may_be_list(e: S.Expr, pairy: Callable[[str], bool]) -> bool:
    """Whether `e` may be a list (`5x5`, `[3, 5]`, a name holding one): a kernel read from
    it is a pair, whose padding the `auto_padding` helper computes per axis."""
    t = type(e)
    if t is S.Dims or t is S.ListExpr or t is S.ListComp or t is S.Slice:
        return True
    if t is S.Name:
        return pairy(e.name)
    if t is S.Cond:
        return may_be_list(e.then, pairy) or may_be_list(e.orelse, pairy)
    return t is S.Index  # an item of a table or a list of lists


def may_be_float(e: S.Expr, floaty: Callable[[str], bool]) -> bool:
    """Whether `e` can be a float where an int is wanted (`in * 1.0`, `c * width` with a
    float `width`): the family code then converts it with `whole()`, which refuses 16.5 as
    the compiler does.  `floaty(name)` tells a name's."""
    t = type(e)
    if t is S.Num:
        return isinstance(e.value, float)
    if t is S.Name:
        return floaty(e.name)
    if t is S.BinOp:
        if e.op == "**":
            return True
        return may_be_float(e.left, floaty) or may_be_float(e.right, floaty)
    if t is S.Neg:
        return may_be_float(e.operand, floaty)
    if t is S.Cond:
        return may_be_float(e.then, floaty) or may_be_float(e.orelse, floaty)
    if t is S.Call:
        if e.func in _FLOAT_CALLS:
            return True
        if e.func in _INT_CALLS or (e.func == "round" and len(e.args) == 1):
            return False
        return any(may_be_float(a, floaty) for a in e.args)
    if t is S.Index or t is S.Slice or t is S.ListComp:
        return False  # an item of a list or table: taken as the int a width is
    if t is S.ListExpr:
        return any(may_be_float(a, floaty) for a in e.items)
    return False
