"""What a search measures and requires: objective expressions (`min:macs`, `max:M * L`), the
caller's extra constraints, and the values an `optimize` objective may return."""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import Diagnostic, Source, SpecError
from ...language import syntax as S
from ...language.expr import EvalError, evaluate, truth
from ...passes import constraints as rules
from ...values import format_value

if TYPE_CHECKING:
    from ...compiler import Network


@dataclass(frozen=True)
class Objective:
    """An expression over the cost terms, parameters and lets, minimized or maximized."""

    text: str
    expr: S.Expr
    direction: str  # "minimize" | "maximize"

    @classmethod
    def parse(cls, text: str) -> Objective:
        """`macs`, `min:params`, `max:M * L`."""
        direction, sep, rest = text.partition(":")
        if sep and direction.strip() in ("min", "max"):
            body = rest.strip()
            direction = "minimize" if direction.strip() == "min" else "maximize"
        else:
            body, direction = text.strip(), "minimize"
        return cls(body, _expression(body, "--objective"), direction)

    def value(self, scope: Mapping[str, Any]) -> float:
        try:
            v = evaluate(self.expr, scope)
        except EvalError as e:
            raise SpecError(
                [Diagnostic(e.message, e.span, e.hint, code=e.code)],
                Source(self.text, "--objective"),
            ) from None
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise SpecError(
                [Diagnostic(f"objective `{self.text}` is {format_value(v)}, not a number")],
                Source(self.text, "--objective"),
            )
        try:
            number = float(v)
        except OverflowError:  # an int past float's range: Optuna could not store it
            number = math.inf
        if not math.isfinite(number):
            raise SpecError(
                [Diagnostic(f"objective `{self.text}` is {_shown(v)}, not a finite number")],
                Source(self.text, "--objective"),
            )
        return number


def _expression(text: str, name: str) -> S.Expr:
    from ...language.parse import parse_expression

    return parse_expression(text, name)


@dataclass(frozen=True)
class _Constraint:
    """A constraint given to `run` / `optimize` as text, kept for its error messages."""

    text: str
    expr: S.Expr


def _constraints(given: Sequence[Any]) -> list[Any]:
    return [
        _Constraint(c, _expression(c, "constraint")) if isinstance(c, str) else c for c in given
    ]


def _violation(c: Any, net: Network, scope: Mapping[str, Any]) -> float:
    """A caller's constraint on `net`: a callable (bool, or a number <= 0 when met) or an
    expression like the spec's `constraint` lines."""
    if callable(c):
        v = c(net)
        if isinstance(v, bool) or getattr(getattr(v, "dtype", None), "kind", None) == "b":
            return 0.0 if v else 1.0  # numpy's bool too: float(np.True_) would read 1, unmet
        if isinstance(v, numbers.Real):
            return float(v)
        raise TypeError(f"a constraint must return a bool or a number (<= 0 when met), not {v!r}")
    try:
        ok = truth(evaluate(c.expr, scope))
        return rules.violation(c.expr, scope, ok)
    except EvalError as e:
        source = Source(c.text, "constraint")
        raise SpecError([Diagnostic(e.message, e.span, e.hint, code=e.code)], source) from None


class ObjectiveValueError(ValueError):
    """An objective's value Optuna cannot record (not a finite number, or not one per
    direction): its trial fails."""


def objective_values(value: Any, n: int) -> float | list[float]:
    """An objective's return value as Optuna records it: a finite float, or a list of `n`
    of them (several directions); ObjectiveValueError says what is wrong otherwise."""
    if _is_sequence(value):
        values = list(value)
        if len(values) != n:
            raise ObjectiveValueError(
                f"the objective returned {len(values)} values for {n} direction"
                f"{'s' if n != 1 else ''}: {_shown(value)}"
            )
        numbers_ = [_finite(v) for v in values]
        return numbers_[0] if n == 1 else numbers_
    if n != 1:
        raise ObjectiveValueError(
            f"the objective returned {_shown(value)}, not a sequence of {n} numbers "
            f"(one per direction)"
        )
    return _finite(value)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, list | tuple) or getattr(value, "ndim", None) == 1


def _finite(value: Any) -> float:
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if isinstance(value, str | bytes | bool) or kind in ("b", "U", "S", "O"):
        raise ObjectiveValueError(
            f"the objective returned {_shown(value)} ({type(value).__name__}), not a number"
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf  # an int past float's range
    except Exception:  # noqa: BLE001 - whatever a user's object raises
        raise ObjectiveValueError(
            f"the objective returned {_shown(value)} ({type(value).__name__}), not a number"
        ) from None
    if not math.isfinite(number):
        raise ObjectiveValueError(f"the objective returned {_shown(value)}, not a finite number")
    return number


def _shown(value: Any) -> str:
    """A value in a message, cut short (an int of 10,000 digits has no repr)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"
    try:
        return reprlib.repr(value)
    except Exception:  # noqa: BLE001 - a user's object whose repr fails
        return f"a {type(value).__name__}"
