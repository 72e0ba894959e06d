"""What `Space.optimize` hands the user's objective (`SearchTrial`: Optuna's trial, plus a
place to keep the trained model) and what it returns (`SearchResult`: the Optuna study, the
candidates with their architectures, repeats and kept values, the counts and the Pareto front
over distinct architectures)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .candidates import mark_front, nondominated

# the user attributes specgen writes on each trial
ARCHITECTURE = "architecture"  # the architecture key (specgen.passes.fingerprint)
SKIPPED = "skipped"  # "infeasible": the objective was not called
REPEAT_OF = "repeat_of"  # the trial whose result this one reuses


class SearchTrial:
    """The trial an objective `objective(net, trial)` receives: Optuna's trial (every
    attribute and method of it: `report`, `should_prune`, `set_user_attr`, `number`, ...)
    with `keep(value)`, which attaches any Python object to the candidate (a trained model,
    a history) to read back from `SearchResult` after the search, in this process."""

    def __init__(self, trial: Any, kept: dict[int, Any]):
        self._trial = trial
        self._kept = kept
        self.curve: list[tuple[int, float]] = []  # (step, value) as reported

    def report(self, value: float, step: int) -> None:
        """Optuna's `report` (an intermediate value for the pruner), remembered: a pruned
        candidate's last value is its recorded partial result, and a repeat of the
        architecture reports the same curve."""
        self._trial.report(value, step)
        self.curve.append((int(step), float(value)))

    @property
    def trial(self) -> Any:
        """Optuna's own trial."""
        return self._trial

    def keep(self, value: Any) -> None:
        """Attach `value` to this candidate (and to its repeats): `SearchResult.kept(...)` and
        `Evaluated.kept` give it back.  Kept in memory, not in the storage."""
        self._kept[self._trial.number] = value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)

    def __repr__(self) -> str:
        return f"<SearchTrial {self._trial.number}>"


def takes_trial(objective: Callable[..., Any], with_trial: bool | None) -> bool:
    """Whether `objective` is called as `objective(net, trial)`: `with_trial` when given,
    else whether its signature has a second positional parameter without a default (or
    `*args`); `def objective(net, epochs=3)` is called with the network alone."""
    if with_trial is not None:
        if not isinstance(with_trial, bool):
            raise TypeError(f"with_trial must be True, False or None, not {with_trial!r}")
        return with_trial
    try:
        sig = inspect.signature(objective)
    except (TypeError, ValueError):  # a builtin without a signature: called with the net
        return False
    positional = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(positional) >= 2:
        return positional[1].default is inspect.Parameter.empty
    return any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values())


@dataclass
class Evaluated:
    """One trial of an `optimize` run, as specgen sees it.

    `state` is "complete" (the objective answered, or its answer was reused), "pruned" (the
    objective was pruned; `values` holds its last reported value), "infeasible" (a constraint
    failed: the objective was not called), "invalid" (the point is not a network), "failed"
    or "running".  `repeat_of` is the trial whose result a repeated architecture reused."""

    number: int
    point: dict[str, Any]
    state: str
    values: tuple[float, ...] = ()
    architecture: str | None = None
    repeat_of: int | None = None
    cost: dict[str, int] | None = None
    feasible: bool = False
    pareto: bool = False
    user_attrs: dict[str, Any] = field(default_factory=dict, repr=False)
    kept: Any = field(default=None, repr=False)

    @property
    def evaluated(self) -> bool:
        """Whether the objective was called on this trial (not reused, not skipped)."""
        return self.state in ("complete", "pruned", "failed") and self.repeat_of is None


class SearchResult:
    """What `Space.optimize` returns: `study` (Optuna's), `candidates` (every trial as an
    `Evaluated`), `front` (the Pareto front over distinct feasible architectures), `counts`.
    Any other attribute is the study's (`best_trial`, `trials`, `trials_dataframe()`, ...):
    note that Optuna's own `best_trials` may list one architecture under several trials."""

    def __init__(self, study: Any, kept: dict[int, Any]):
        self.study = study
        self._kept = kept
        self.directions = [d.name.lower() for d in study.directions]
        self.candidates = [_evaluated(t, kept) for t in study.get_trials(deepcopy=False)]
        for c in self.candidates:
            if c.repeat_of is not None and c.kept is None:
                c.kept = kept.get(c.repeat_of)
        self.front = _front(self.candidates, self.directions)

    def pareto_front(self, costs: Mapping[str, str] | None = None) -> list[Evaluated]:
        """The front over the study's objectives and the cost terms in `costs` (name ->
        "minimize" or "maximize", e.g. `{"macs": "minimize"}`: accuracy versus MACs), over
        distinct, complete, feasible architectures.  Does not change `front` or `pareto`."""
        costs = dict(costs or {})
        directions = [*self.directions, *costs.values()]
        pool, seen = [], set()
        for c in self.candidates:
            if c.state != "complete" or not c.feasible or c.cost is None:
                continue
            if c.architecture in seen or len(c.values) != len(self.directions):
                continue
            seen.add(c.architecture)
            pool.append(c)
        return nondominated(pool, directions, lambda c: (*c.values, *(c.cost[t] for t in costs)))

    def kept(self, number: int) -> Any:
        """What trial `number`'s objective kept (`trial.keep(...)`), or its original's for a
        repeat; None when nothing was kept (or it was kept in another process)."""
        for c in self.candidates:
            if c.number == number:
                return c.kept
        raise KeyError(f"no trial {number}")

    @property
    def counts(self) -> dict[str, int]:
        """How many trials ran, how many distinct architectures they proposed, and what
        became of them."""
        cs = self.candidates
        return {
            "trials": len(cs),
            "architectures": len({c.architecture for c in cs if c.architecture}),
            "evaluated": sum(c.evaluated for c in cs),
            "repeats": sum(c.repeat_of is not None for c in cs),
            "infeasible": sum(c.state == "infeasible" for c in cs),
            "invalid": sum(c.state == "invalid" for c in cs),
            "pruned": sum(c.state == "pruned" for c in cs),
            "failed": sum(c.state == "failed" for c in cs),
        }

    def summary(self) -> str:
        """The counts as one line."""
        n = self.counts
        return (
            f"{n['trials']} trials, {n['architectures']} architectures: {n['evaluated']} "
            f"evaluated ({n['pruned']} pruned, {n['failed']} failed), {n['repeats']} "
            f"repeats reused, {n['infeasible']} infeasible and {n['invalid']} invalid not "
            f"evaluated; Pareto front: {len(self.front)}"
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "study":
            raise AttributeError(name)
        return getattr(self.study, name)

    def __repr__(self) -> str:
        return f"<SearchResult {self.study.study_name}: {self.summary()}>"


def _evaluated(trial: Any, kept: dict[int, Any]) -> Evaluated:
    attrs = dict(trial.user_attrs)
    state = trial.state.name.lower()
    values: tuple[float, ...] = tuple(trial.values or ())
    if attrs.get(SKIPPED) == "infeasible":
        state, values = "infeasible", ()
    elif "error" in attrs and attrs["error"] != "objective-value" and state == "pruned":
        state = "invalid"
    elif state == "fail":
        state = "failed"
    elif state == "pruned":
        last = trial.last_step
        values = () if last is None else (trial.intermediate_values[last],)
    return Evaluated(
        number=trial.number,
        point=attrs.get("point", {}),
        state=state,
        values=values,
        architecture=attrs.get(ARCHITECTURE),
        repeat_of=attrs.get(REPEAT_OF),
        cost=attrs.get("cost"),
        feasible=bool(attrs.get("feasible", False)),
        user_attrs=attrs,
        kept=kept.get(trial.number),
    )


def _front(candidates: Sequence[Evaluated], directions: Sequence[str]) -> list[Evaluated]:
    """The complete, feasible candidates that no other dominates, one per architecture (its
    first trial)."""
    seen: set[str | None] = set()
    pool = []
    for c in candidates:
        if c.state != "complete" or not c.feasible or len(c.values) != len(directions):
            continue
        if c.architecture is not None and c.architecture in seen:
            continue
        seen.add(c.architecture)
        pool.append(c)
    return mark_front(candidates, nondominated(pool, directions))
