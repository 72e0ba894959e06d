"""Search spaces declared in a spec: parameter domains and budget constraints.

    network net(g: choice(1, 2, 3, 4, 8) = 3, width: range(32, 129, step=16) = 64,
                depths: [choice(2, 3, 4), choice(4, 6, 8), choice(2, 3, 4)] = [3, 7, 3])
    constraint macs <= 150e6

A domain is read once per spec text (`domains`); `compile` checks every parameter value
against it, so a value outside it is a located mistake.  Constraints are evaluated on every
compiled network (`specgen.passes.constraints`); a network that fails one is still a network, just
not a feasible candidate.  Part of the core: no framework and no Optuna import.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import limits
from ..errors import Diagnostic, Span
from ..values import fits, format_value
from . import syntax as S
from .expr import EvalError, evaluate

# the names a `constraint` (and a search objective) may read besides the parameters and lets
COST_TERMS = (
    "params",
    "macs",
    "flops",
    "activations",
    "peak_activations",
    "layers",
    "traffic",
    "latency",
)
DOMAIN_FUNCTIONS = ("choice", "range", "uniform", "loguniform")
EPS = 1e-9


def _same(a: Any, b: Any) -> bool:
    """Equality as the language sees it: `true` is not 1, lists compare item by item."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (
            isinstance(a, tuple)
            and isinstance(b, tuple)
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Choice:
    """`choice(a, b, ...)`: one of the values written."""

    values: tuple[Any, ...]
    span: Span

    @property
    def size(self) -> int:
        return len(self.values)

    def contains(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)

    def at(self, i: int) -> Any:
        return self.values[i]

    def sample(self, rng: random.Random) -> Any:
        return self.values[rng.randrange(len(self.values))]

    def __str__(self) -> str:
        return f"choice({', '.join(format_value(v) for v in self.values)})"


@dataclass(frozen=True, slots=True)
class IntRange:
    """`range(start, stop, step)`: the integers Python's range gives (stop excluded)."""

    start: int
    stop: int
    step: int
    span: Span

    @property
    def values(self) -> range:
        return range(self.start, self.stop, self.step)

    @property
    def size(self) -> int:
        return len(self.values)

    def contains(self, value: Any) -> bool:
        if not is_number(value) or (isinstance(value, float) and not value.is_integer()):
            return False
        return int(value) in self.values

    def at(self, i: int) -> int:
        return self.values[i]

    def sample(self, rng: random.Random) -> int:
        return self.values[rng.randrange(self.size)]

    def __str__(self) -> str:
        r = self.values
        shown = ", ".join(map(str, r)) if len(r) <= 4 else f"{r[0]}, {r[1]}, ..., {r[-1]}"
        step = f", step={self.step}" if self.step != 1 else ""
        return f"range({self.start}, {self.stop}{step}) = {shown}"


@dataclass(frozen=True, slots=True)
class Uniform:
    """`uniform(low, high)` (a float between them, both included), `uniform(low, high,
    step=q)` (low, low + q, ..., high) or `loguniform(low, high)` (uniform in log space)."""

    low: float
    high: float
    step: float | None
    log: bool
    span: Span

    @property
    def size(self) -> int | None:
        if self.step is None:
            return None
        return int(round((self.high - self.low) / self.step)) + 1

    def contains(self, value: Any) -> bool:
        tol = EPS * max(abs(self.low), abs(self.high))  # relative: domains may be tiny
        if not is_number(value) or not self.low - tol <= value <= self.high + tol:
            return False
        if self.log and value <= 0:
            return False
        if self.step is None:
            return True
        k = (value - self.low) / self.step
        return abs(k - round(k)) < 1e-6

    def at(self, i: int) -> float:
        # rounded so that 0.25 + 3 * 0.25 is 1.0 and not 0.9999999999999999
        return float(round(self.low + i * self.step, 12))

    def sample(self, rng: random.Random) -> float:
        if self.step is not None:
            return self.at(rng.randrange(self.size))
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        name = "loguniform" if self.log else "uniform"
        step = f", step={format_value(self.step)}" if self.step is not None else ""
        return f"{name}({format_value(self.low)}, {format_value(self.high)}{step})"


@dataclass(frozen=True, slots=True)
class Fixed:
    """An item of a list domain that is not searched: `[choice(1, 2), 2]`."""

    value: Any
    span: Span
    size = 1

    def contains(self, value: Any) -> bool:
        return _same(value, self.value)

    def at(self, i: int) -> Any:
        return self.value

    def sample(self, rng: random.Random) -> Any:
        return self.value

    def __str__(self) -> str:
        return format_value(self.value)


Scalar = Choice | IntRange | Uniform | Fixed


@dataclass(frozen=True, slots=True)
class Items:
    """`[choice(2, 3), choice(4, 6), 2]`: a list parameter whose items are searched apart
    (per-stage depths, widths)."""

    items: tuple[Scalar, ...]
    span: Span

    @property
    def size(self) -> int | None:
        total = 1
        for d in self.items:
            if d.size is None:
                return None
            total *= d.size
        return total

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, tuple)
            and len(value) == len(self.items)
            and all(d.contains(v) for d, v in zip(self.items, value, strict=True))
        )

    def at(self, i: int) -> tuple:
        out = []
        for d in reversed(self.items):  # the last item varies fastest, as in a nested loop
            i, k = divmod(i, d.size)
            out.append(d.at(k))
        return tuple(reversed(out))

    def sample(self, rng: random.Random) -> tuple:
        return tuple(d.sample(rng) for d in self.items)

    def __str__(self) -> str:
        return f"[{', '.join(str(d) for d in self.items)}]"


Domain = Choice | IntRange | Uniform | Items


@dataclass(frozen=True, slots=True)
class Dimension:
    """One searched parameter: its name, domain, and where it was declared."""

    name: str
    domain: Domain
    span: Span


class _Bad(Exception):
    def __init__(self, message: str, span: Span, hint: str | None = None):
        super().__init__(message)
        self.diagnostic = Diagnostic(message, span, hint, code="domain")


def _value(node: S.Expr) -> Any:
    try:
        return evaluate(node, {})
    except EvalError as e:
        raise _Bad(e.message, e.span, e.hint) from None


def _scalar(node: S.Expr) -> Scalar:
    if type(node) is not S.Call or node.func not in DOMAIN_FUNCTIONS:
        return Fixed(_value(node), node.span)
    args = [_value(a) for a in node.args]
    name, span = node.func, node.span
    if name == "choice":
        if not args:
            raise _Bad("choice() needs at least one value", span)
        if len(args) > limits.MAX_LIST:
            raise _Bad(f"choice() of more than {limits.MAX_LIST} values", span)
        for i, a in enumerate(args):
            if _has_table(a):
                raise _Bad(
                    "choice() of tables is not supported: choose a key and index the table",
                    node.args[i].span,
                )
            if any(_same(a, b) for b in args[:i]):
                raise _Bad(f"choice() lists {format_value(a)} twice", node.args[i].span)
        return Choice(tuple(args), span)
    if name == "range":
        if not 1 <= len(args) <= 3 or not all(
            is_number(a) and float(a).is_integer() for a in args
        ):
            raise _Bad("range() takes one to three integers: range(start, stop, step=1)", span)
        bounds = [int(a) for a in args]
        if len(bounds) == 1:
            bounds.insert(0, 0)
        start, stop, step = (bounds + [1])[:3]
        if step == 0:
            raise _Bad("range() step must not be zero", span)
        if not range(start, stop, step):
            raise _Bad(
                f"range({start}, {stop}, {step}) is empty (as in Python, stop is excluded)", span
            )
        return IntRange(start, stop, step, span)
    log = name == "loguniform"
    if len(args) not in (2, 3) or not all(is_number(a) for a in args) or (log and len(args) == 3):
        usage = (
            "loguniform(low, high)" if log else "uniform(low, high) or uniform(low, high, step=q)"
        )
        raise _Bad(f"{name}() takes numbers: {usage}", span)
    low, high = float(args[0]), float(args[1])
    if not low < high:
        raise _Bad(
            f"{name}() needs low < high, got {format_value(args[0])} and {format_value(args[1])}",
            span,
        )
    if log and low <= 0:
        raise _Bad("loguniform() needs low > 0", span)
    step = float(args[2]) if len(args) == 3 else None
    if step is not None:
        k = (high - low) / step if step > 0 else -1
        if step <= 0 or abs(k - round(k)) > 1e-6:
            raise _Bad(
                f"uniform() step {format_value(args[2])} must be positive and divide "
                f"high - low ({format_value(high - low)})",
                span,
            )
        if round(k) + 1 > limits.MAX_LIST * 100:
            raise _Bad(f"uniform() with step has more than {limits.MAX_LIST * 100} values", span)
    return Uniform(low, high, step, log, span)


def _has_table(value: Any) -> bool:
    if isinstance(value, tuple):
        return any(_has_table(v) for v in value)
    return not isinstance(value, int | float | bool)


def _domain(node: S.Expr) -> Domain:
    if type(node) is S.ListExpr:
        items = tuple(_scalar(item) for item in node.items)
        if all(type(d) is Fixed for d in items):
            raise _Bad(
                "a domain is choice(...), range(...), uniform(...), loguniform(...) or a list "
                "with at least one of them",
                node.span,
            )
        return Items(items, node.span)
    domain = _scalar(node)
    if type(domain) is Fixed:
        raise _Bad(
            "a domain is choice(...), range(...), uniform(...), loguniform(...) or a list of them",
            node.span,
            "e.g. `g: choice(1, 2, 4) = 2`, `w: range(16, 129, step=16) = 64`",
        )
    return domain


def domains(program: S.Program) -> tuple[tuple[Dimension, ...], list[Diagnostic]]:
    """The searched parameters of `program` and the mistakes in their declarations (also a
    parameter or let that a constraint could not see because a cost term hides it)."""
    dims, errors = [], []
    for q in program.params:
        if q.domain is None:
            continue
        try:
            dim = Dimension(q.name, _domain(q.domain), q.domain.span)
            _check_kind(dim, q.default)
            dims.append(dim)
        except _Bad as bad:
            errors.append(bad.diagnostic)
    if program.constraints or program.objectives:
        errors += cost_term_clashes(program, "constraints and objectives")
    return tuple(dims), errors


def cost_term_clashes(program: S.Program, where: str) -> list[Diagnostic]:
    """A parameter or top-level let named like a cost term: in the expressions that read the
    cost terms (`where`: constraints, a search's objectives) it would be hidden, so it is
    refused, located at its name."""
    names = [(q.name, q.span) for q in program.params]
    names += [(d.name, d.name_span) for d in program.lets if type(d) is S.Let]
    return [
        Diagnostic(
            f"`{name}` is a cost term in {where}; a parameter or let of that name would be "
            "hidden there",
            span,
            "rename it",
            code="domain",
        )
        for name, span in names
        if name in COST_TERMS
    ]


def _literal(node: S.Expr | None) -> Any:
    """The value of a literal default (`3`, `-0.5`, `true`), else None."""
    if type(node) is S.Num:
        return node.value
    if type(node) is S.Neg and type(node.operand) is S.Num:
        return -node.operand.value
    if type(node) is S.Name and node.name in ("true", "false"):
        return node.name == "true"
    return None


def _check_kind(dim: Dimension, default_node: S.Expr | None) -> None:
    """A domain holding values its parameter's type cannot take (`w: uniform(0.5, 2.0) = 1`:
    1 makes `w` an int) is refused where it is declared, not left to fail per candidate: the
    declared default's type is the parameter's, as for a value given (`values.fits`)."""
    default = _literal(default_node)
    if default is None or isinstance(dim.domain, Items):
        return
    d = dim.domain
    bad = None
    if isinstance(d, Choice):
        bad = next((v for v in d.values if not fits(default, v)), None)
    elif isinstance(d, Uniform):
        if isinstance(default, bool):
            bad = d.low
        elif isinstance(default, int) and not (
            d.step is not None and float(d.step).is_integer() and float(d.low).is_integer()
        ):
            bad = "fractional values"
    elif isinstance(d, IntRange) and isinstance(default, bool):
        bad = d.start
    if bad is not None:
        shown = bad if isinstance(bad, str) else format_value(bad)
        numeric = isinstance(bad, str) or (is_number(bad) and not float(bad).is_integer())
        hint = None
        if numeric and isinstance(default, int) and not isinstance(default, bool):
            hint = f"write the default as {format_value(float(default))}"
        raise _Bad(
            f"`{dim.name}` = {format_value(default)} makes it {_kind_name(default)}, but its "
            f"domain {d} holds {shown}",
            dim.span,
            hint,
        )


def _kind_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return "an integer" if isinstance(value, int) else "a number"


def check_values(dims: tuple[Dimension, ...], bound: Mapping[str, Any]) -> dict[str, Diagnostic]:
    """The one domain check of a compile: the parameter values bound (given or defaults,
    already of their parameters' types) that lie outside their domains, by parameter name,
    each reported where its domain is declared."""
    return {
        d.name: Diagnostic(
            f"parameter `{d.name}` = {format_value(bound[d.name])} is outside its domain "
            f"{d.domain}",
            d.span,
            code="domain",
        )
        for d in dims
        if not d.domain.contains(bound[d.name])
    }
