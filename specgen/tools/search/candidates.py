"""Evaluated points and their comparison: a `Candidate` (its network or mistake, feasibility,
objective values) and the Pareto front over them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ... import limits
from ...compiler import Network
from ...errors import SpecError
from ...passes import constraints as rules
from ...values import ValueProblem, from_python


@dataclass
class Candidate:
    """One evaluated point: its network (None when the point is not a valid network), the
    mistake (its SpecError), whether every constraint holds, and its objective values."""

    point: dict[str, Any]
    network: Network | None = None
    error: SpecError | None = None
    feasible: bool = False
    values: tuple[float, ...] = ()
    pareto: bool = False
    violations: tuple[float, ...] = ()
    number: int | None = None  # the Optuna trial number, when run by Optuna
    totals: dict[str, Any] | None = field(default=None, repr=False)  # kept by `release`
    architecture: str | None = None  # specgen.passes.fingerprint's key (None: invalid)
    repeat_of: int | None = None  # the first candidate of this run with its architecture
    seen: int = 1  # how many candidates of the run had its architecture (on the first one)

    @property
    def cost(self) -> dict[str, Any] | None:
        """The totals of `specgen cost --format json` (None for an invalid point); with a
        latency table, `latency` too (milliseconds)."""
        if self.network is None:
            return self.totals
        net = self.network
        terms = rules.cost_terms(net.ir, net.cost, net.latency_ms)
        del terms["layers"]  # a count of rows, not a total of `specgen cost`
        return terms

    def release(self) -> None:
        """Keep the totals, drop the network: a long search (`specgen search --trials 1e6`)
        then holds ~0.6 kB per candidate instead of ~6 kB (ShuffleNet)."""
        if self.network is not None:
            self.totals, self.network = self.cost, None

    def to_json(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "feasible": self.feasible,
            "cost": self.cost,
            "error": None if self.error is None else self.error.first.code,
            "pareto": self.pareto,
            "architecture": self.architecture,
            "repeat_of": self.repeat_of,
        }


def mark_repeats(c: Candidate, first: dict[str, Candidate]) -> None:
    """Marks `c` a repeat of the first candidate with its architecture (`first`, by key),
    and counts it there."""
    if c.architecture is None:
        return
    original = first.setdefault(c.architecture, c)
    if original is not c:
        c.repeat_of = original.number
        original.seen += 1


def pareto_front(candidates: Sequence[Candidate], directions: Sequence[str]) -> list[Candidate]:
    """The feasible candidates no other feasible candidate dominates (as good in every
    objective and better in one), each architecture once (its first candidate); also marks
    them `pareto`."""
    pool = [c for c in candidates if c.feasible and c.cost is not None and c.repeat_of is None]
    return mark_front(candidates, nondominated(pool, directions))


def nondominated(
    pool: Sequence[Any],
    directions: Sequence[str],
    values: Callable[[Any], Sequence[float]] = lambda c: c.values,
) -> list[Any]:
    """The items of `pool` (each with `values`, one per direction) that no other dominates
    (as good in every objective and better in one), best first."""
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    keyed = sorted(
        ((tuple(s * v for s, v in zip(signs, values(c), strict=True)), c) for c in pool),
        key=lambda kc: kc[0],
    )
    front: list[tuple[tuple[float, ...], Any]] = []
    for key, c in keyed:
        # sorted: only an earlier item can dominate this one, and if any does, one on the
        # front does
        if not any(
            all(a <= b for a, b in zip(f, key, strict=True)) and f != key for f, _ in front
        ):
            front.append((key, c))
    return [c for _, c in front]


def mark_front(items: Sequence[Any], front: list[Any]) -> list[Any]:
    """Sets `pareto` on exactly the items of `front`; returns `front`."""
    for c in items:
        c.pareto = False
    for c in front:
        c.pareto = True
    return front


def best(front: Sequence[Candidate], directions: Sequence[str]) -> Candidate | None:
    """The front's best candidate on the first objective (ties: the next objectives)."""
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    if not front:
        return None
    return min(front, key=lambda c: tuple(s * v for s, v in zip(signs, c.values, strict=True)))


def _python(value: Any) -> Any:
    try:
        return from_python(value, limits.MAX_LIST, limits.MAX_VALUE_DEPTH)
    except ValueProblem:
        return repr(value)
