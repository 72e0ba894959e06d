"""The Optuna side of a search space: its parameters as Optuna distributions, the point a
trial asks for, the samplers, and a study run over the space (created, or resumed only by
the same search).  Optuna is imported when a study runs, never on import."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...language import domains as sp
from ...values import plain
from .candidates import Candidate
from .errors import SearchError
from .ledger import LocalLedger, Outcome, StorageLedger
from .objectives import ObjectiveValueError, objective_values
from .results import ARCHITECTURE, REPEAT_OF, SKIPPED, SearchResult, SearchTrial, takes_trial
from .signature import _SIGNATURE, _difference, signature_of
from .storage import _storage

if TYPE_CHECKING:
    from .spaces import Space

SAMPLERS = ("grid", "random", "tpe", "nsga2")
GRID_LIMIT = 1_000_000  # points of a grid run by Optuna (which lists them all)
MAX_SEED = 2**32 - 1  # Optuna's samplers take numpy seeds


def _optuna() -> Any:
    """Optuna, imported now (a study is about to run), with its INFO lines silenced."""
    try:
        import optuna
    except ImportError:
        raise ImportError(
            "searching with a sampler or a storage needs Optuna: pip install 'specgen[search]'",
            name="optuna",
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class _QuietValueErrors(logging.Filter):
    """Optuna's warning for a trial failed by ObjectiveValueError, without the traceback
    (into specgen, not the user's code: the message says it all) and without the next line
    ("failed with value None": the value is in the message)."""

    def __init__(self) -> None:
        super().__init__()
        self.after = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.after:
            self.after = False
            if record.getMessage().endswith("failed with value None."):
                return False
        info = record.exc_info
        if info and isinstance(info[1], ObjectiveValueError):
            record.exc_info, record.exc_text, self.after = None, None, True
        return True


class OptunaSearch:
    """A space's Optuna studies.  Kept by its `Space`, which hands it the runs that need
    Optuna (`optimize`, and `run` with a sampler or a storage)."""

    def __init__(self, space: Space):
        self.space = space
        self._distributions: dict[str, Any] | None = None

    def run(
        self,
        objs: list[Any],
        n_trials: int | None,
        sampler: str | Any,
        seed: int | None,
        extra: Sequence[Any],
        storage: str | None,
        study_name: str | None,
        record: Callable[[Candidate], None],
    ) -> Any:
        """Run a study whose values are the objective expressions `objs` (cheap: no
        objective of the user's is called, so every candidate is recorded with its values,
        feasible or not, for the sampler to learn from); `record` gets each candidate."""
        optuna = _optuna()
        directions = [o.direction for o in objs]

        def trial_fn(trial: Any) -> Any:
            c = self._candidate(trial, objs, extra, optuna)
            record(c)
            if c.error is not None:
                raise optuna.TrialPruned(c.error.first.message)
            return c.values[0] if len(c.values) == 1 else c.values

        study = self._study(directions, sampler, seed, extra, _storage(optuna, storage),
                            study_name, signature_of(self.space, None, objs, extra))  # fmt: skip
        self._optimize(study, trial_fn, self._trials(n_trials, sampler), None)
        return study

    def optimize(
        self,
        objective: Callable[..., Any],
        n_trials: int | None,
        sampler: str | Any,
        seed: int | None,
        extra: Sequence[Any],
        storage: str | None,
        study_name: str | None,
        *,
        directions: Sequence[str] | None = None,
        timeout: float | None = None,
        pruner: Any = None,
        with_trial: bool | None = None,
    ) -> SearchResult:
        """`Space.optimize`: the user's objective on each feasible, new architecture."""
        optuna = _optuna()
        directions = list(directions or ["minimize"])
        n = len(directions)
        pass_trial = takes_trial(objective, with_trial)
        worst = [math.inf if d.lower() == "minimize" else -math.inf for d in directions]
        kept: dict[int, Any] = {}
        store = _storage(optuna, storage)
        study = self._study(directions, sampler, seed, extra, store, study_name,
                            signature_of(self.space, objective, [], extra), pruner)  # fmt: skip
        ledger: LocalLedger | StorageLedger = (
            LocalLedger() if store is None else StorageLedger(optuna, store, study.study_name)
        )

        def answer(values: Sequence[float]) -> Any:
            return values[0] if n == 1 else list(values)

        def trial_fn(trial: Any) -> Any:
            c = self._candidate(trial, [], extra, optuna)
            if c.error is not None:
                raise optuna.TrialPruned(c.error.first.message)
            key = c.architecture
            trial.set_user_attr(ARCHITECTURE, key)
            if not c.feasible:  # never trained: the sampler learns from its constraints
                trial.set_user_attr(SKIPPED, "infeasible")
                return answer(worst)
            outcome = ledger.claim(key, trial.number)
            if outcome is not None:  # evaluated before: its result, not a second call
                trial.set_user_attr(REPEAT_OF, outcome.number)
                if outcome.number in kept:
                    kept[trial.number] = kept[outcome.number]
                for step, v in outcome.curve:  # the pruner sees the curve it would have
                    trial.report(v, step)
                if outcome.state == "pruned":
                    raise optuna.TrialPruned(f"a repeat of trial {outcome.number}, pruned")
                return answer(outcome.values)
            handle = SearchTrial(trial, kept)
            try:
                value = objective(c.network, handle) if pass_trial else objective(c.network)
                # checked here: Optuna's own check trips on "1.5" or 10**400 and leaves the
                # trial RUNNING in the storage for ever
                values = objective_values(value, n)
            except optuna.TrialPruned:
                curve = tuple(handle.curve)
                partial = curve[-1][1:] if curve else ()
                ledger.finish(key, Outcome("pruned", partial, trial.number, curve))
                raise
            except ObjectiveValueError as err:
                ledger.release(key, trial.number)
                trial.set_user_attr("error", "objective-value")
                trial.set_user_attr("message", str(err))
                raise
            except BaseException:
                ledger.release(key, trial.number)
                raise
            done = [values] if n == 1 else values
            ledger.finish(key, Outcome("complete", tuple(done), trial.number, tuple(handle.curve)))
            return values

        self._optimize(study, trial_fn, self._trials(n_trials, sampler), timeout)
        return SearchResult(study, kept)

    def _trials(self, n_trials: int | None, sampler: Any) -> int:
        if n_trials is not None:
            return n_trials
        size = self.space.size
        return size if sampler == "grid" and size is not None else 100

    def _candidate(self, trial: Any, objs: list[Any], extra: Sequence[Any], optuna: Any):
        """The candidate `trial` asks for, its point, costs, constraints and feasibility
        recorded on the trial (for the constrained samplers and the user)."""
        c = self.space.candidate(self.suggest(trial), objs, extra)
        c.number = trial.number
        trial.set_user_attr("point", c.point)
        trial.set_user_attr("constraints", list(c.violations))
        if c.violations and hasattr(trial, "set_constraint"):  # Optuna >= 5
            for i, v in enumerate(c.violations):
                trial.set_constraint(f"c{i}", v)
        trial.set_user_attr("feasible", c.feasible)
        trial.set_user_attr("cost", c.cost)
        if c.error is not None:
            trial.set_user_attr("error", c.error.first.code)
        return c

    def _study(
        self,
        directions: Sequence[str],
        sampler: str | Any,
        seed: int | None,
        extra: Sequence[Any],
        storage: Any,
        study_name: str | None,
        signature: dict,
        pruner: Any = None,
    ) -> Any:
        """The study (created, or resumed when it is the same search)."""
        optuna = _optuna()
        n_constraints = len(self.space.program.constraints) + len(extra)

        def constraints_of(trial: Any) -> Sequence[float]:
            return trial.user_attrs.get("constraints", [1.0] * n_constraints)

        # Optuna 4 reads constraints through the sampler's constraints_func, 5 from the trial
        legacy = n_constraints and not hasattr(optuna.trial.Trial, "set_constraint")
        chosen = self.make_sampler(sampler, seed, constraints_of if legacy else None)
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            sampler=chosen,
            pruner=pruner,
            directions=list(directions),
            load_if_exists=study_name is not None,
        )
        self.check_resumed(study, directions, optuna, signature)
        return study

    def _optimize(self, study: Any, trial_fn: Any, n_trials: int, timeout: float | None) -> None:
        # a bad value fails its trial (FAIL, with Optuna's warning) and the study goes on, as
        # Optuna does for NaN; an exception the objective raises fails its trial and stops
        quiet = _QuietValueErrors()
        logger = logging.getLogger("optuna.study._optimize")
        logger.addFilter(quiet)
        try:
            study.optimize(
                trial_fn, n_trials=n_trials, timeout=timeout, catch=(ObjectiveValueError,)
            )
        finally:
            logger.removeFilter(quiet)

    def check_resumed(
        self, study: Any, directions: Sequence[str], optuna: Any, signature: dict
    ) -> None:
        """A stored study resumed with other objectives or another space would mix trials
        of two searches: refused, naming what differs.  The first search stores its
        signature with the study; a study made before signatures were kept gets this one."""
        have = [d.name.lower() for d in study.directions]
        if have != [d.lower() for d in directions]:
            raise SearchError(
                f"study `{study.study_name}` optimizes {', '.join(have)}; this search asks "
                f"{', '.join(directions)}: use another --study"
            )
        stored = study.user_attrs.get(_SIGNATURE)
        if isinstance(stored, dict):
            difference = _difference(stored, signature)
            if difference is not None:
                raise SearchError(
                    f"study `{study.study_name}` was made {difference}: use another --study"
                )
        mine = self.distributions()
        for trial in study.get_trials(deepcopy=False):
            for name, dist in trial.distributions.items():
                new = mine.get(name)
                try:
                    if new is None:
                        raise ValueError(f"`{name}` is not searched here")
                    optuna.distributions.check_distribution_compatibility(dist, new)
                    if dist != new:
                        raise ValueError(f"`{name}` has another domain here")
                except ValueError as err:
                    raise SearchError(
                        f"study `{study.study_name}` was made with another search space ({err}): "
                        "use another --study"
                    ) from None
        if stored is None:
            study.set_user_attr(_SIGNATURE, signature)

    def make_sampler(self, sampler: str | Any, seed: int | None, constraints_func: Any) -> Any:
        """Optuna's sampler named by `sampler` (or `sampler` itself, an Optuna sampler)."""
        optuna = _optuna()
        if not isinstance(sampler, str):
            return sampler
        if sampler == "grid":
            self.space.grid()  # a continuous space is refused, located
            size = self.space.size
            if size > GRID_LIMIT:  # Optuna's GridSampler lists every point in memory
                raise SearchError(
                    f"the grid has {size:,} points; Optuna's grid sampler holds them all "
                    f"(limit {GRID_LIMIT:,}): sample it, or search it without --storage"
                )
            space = {
                name: _encoded(d) if isinstance(d, sp.Choice) else [d.at(i) for i in range(d.size)]
                for name, d in self._scalars()
            }
            return optuna.samplers.GridSampler(space, seed=seed)
        if sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, constraints_func=constraints_func)
        if sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints_func)
        raise ValueError(f"unknown sampler {sampler!r}; samplers: {', '.join(SAMPLERS)}")

    def distributions(self) -> dict[str, Any]:
        """The searched parameters as Optuna distributions (made once)."""
        if self._distributions is None:
            self._distributions = self._make_distributions()
        return self._distributions

    def _make_distributions(self) -> dict[str, Any]:
        """Optuna distributions of the searched parameters; a list parameter's searched
        items are `name[i]`, and a choice among lists or tables is a choice of its index."""
        D = _optuna().distributions
        out: dict[str, Any] = {}
        for name, d in self._scalars():
            if isinstance(d, sp.Choice):
                out[name] = D.CategoricalDistribution(_encoded(d))
            elif isinstance(d, sp.IntRange):
                r = d.values  # its ends, not min()/max(): a range may hold 10**15 values
                out[name] = D.IntDistribution(min(r[0], r[-1]), max(r[0], r[-1]), step=abs(d.step))
            else:
                out[name] = D.FloatDistribution(d.low, d.high, log=d.log, step=d.step)
        return out

    def _scalars(self) -> list[tuple[str, sp.Choice | sp.IntRange | sp.Uniform]]:
        """The Optuna parameters: each searched parameter, or each searched item of a list
        parameter (`depths[0]`, ...), with its domain."""
        out = []
        for dim in self.space.dimensions:
            if isinstance(dim.domain, sp.Items):
                out += [(f"{dim.name}[{i}]", d) for i, d in enumerate(dim.domain.items)
                        if not isinstance(d, sp.Fixed)]  # fmt: skip
            else:
                out.append((dim.name, dim.domain))
        return out

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The point an Optuna trial asks for."""
        dists = self.distributions()
        point: dict[str, Any] = {}
        for dim in self.space.dimensions:
            if isinstance(dim.domain, sp.Items):
                items = []
                for i, d in enumerate(dim.domain.items):
                    name = f"{dim.name}[{i}]"
                    items.append(d.value if name not in dists else _pick(trial, name, dists, d))
                point[dim.name] = items
            else:
                point[dim.name] = _pick(trial, dim.name, dists, dim.domain)
        return point


def _scalar_choices(values: Sequence[Any]) -> bool:
    """Whether Optuna can hold a choice's values as they are: numbers or booleans, not both
    (Optuna finds a choice by ==, and True == 1), and no two equal (1 and 1.0)."""
    if not all(isinstance(v, int | float | bool) for v in values):
        return False
    if len({isinstance(v, bool) for v in values}) > 1:
        return False
    return len(set(values)) == len(values)


def _encoded(choice: sp.Choice) -> list[Any]:
    """A choice as Optuna holds it: its values, or their indices (see `_scalar_choices`)."""
    return list(choice.values) if _scalar_choices(choice.values) else list(range(choice.size))


def _pick(trial: Any, name: str, dists: Mapping[str, Any], domain: Any) -> Any:
    """The value `trial` suggests for `name`, as the domain holds it (not Optuna's encoding)."""
    dist = dists[name]
    if isinstance(domain, sp.Choice):
        value = trial.suggest_categorical(name, dist.choices)
        if _scalar_choices(domain.values):
            return value
        return plain(domain.values[int(value)])  # a choice among lists: its index
    if isinstance(domain, sp.IntRange):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step)
    value = trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if domain.step is not None:  # Optuna's 0.30000000000000004 is the grid's 0.3
        return domain.at(int(round((value - domain.low) / domain.step)))
    return value
