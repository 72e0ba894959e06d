"""Architecture search over the space a spec declares.

    space = specgen.space("examples/shufflenet_search.conv")
    space.size, space.sample(10, seed=0), list(space.grid())
    net = space.evaluate({"g": 4})              # a Network, or the SpecError (never raised)
    study = space.optimize(lambda net: net.cost.macs, n_trials=100)     # Optuna

The space API (`size`, `sample`, `grid`, `evaluate`, `run` without a sampler) needs nothing
beyond the core; `optimize` and `run(sampler=...)` need Optuna (`pip install specgen[search]`),
imported only then.  Every candidate is compiled by the same `specgen.compile`, so its costs
are exactly those `specgen cost` reports for the same point.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import numbers
import os
import re
import reprlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import limits
from ..compiler import Network, _front, compile
from ..errors import Diagnostic, Source, SpecError
from ..language import domains as sp
from ..language import syntax as S
from ..language.expr import EvalError, evaluate, truth
from ..language.source import read_source
from ..passes import constraints as rules
from ..values import ValueProblem, format_value, from_python

SAMPLERS = ("grid", "random", "tpe", "nsga2")
GRID_LIMIT = 1_000_000  # points of a grid run by Optuna (which lists them all)
MAX_SEED = 2**32 - 1  # Optuna's samplers take numpy seeds


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
    from ..language.parse import parse_expression

    return parse_expression(text, name)


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
    totals: dict[str, int] | None = field(default=None, repr=False)  # kept by `release`

    @property
    def cost(self) -> dict[str, int] | None:
        """The totals of `specgen cost --format json` (None for an invalid point)."""
        if self.network is None:
            return self.totals
        terms = rules.cost_terms(self.network.ir, self.network.cost)
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
        }


def pareto_front(candidates: Sequence[Candidate], directions: Sequence[str]) -> list[Candidate]:
    """The feasible candidates no other feasible candidate dominates (as good in every
    objective and better in one); also marks them `pareto`."""
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    pool = [c for c in candidates if c.feasible and c.cost is not None]
    keyed = sorted(pool, key=lambda c: tuple(s * v for s, v in zip(signs, c.values, strict=True)))
    front: list[tuple[tuple[float, ...], Candidate]] = []
    for c in keyed:
        key = tuple(s * v for s, v in zip(signs, c.values, strict=True))
        # sorted: only an earlier candidate can dominate this one, and if any does, one on
        # the front does
        if not any(
            all(a <= b for a, b in zip(f, key, strict=True)) and f != key for f, _ in front
        ):
            front.append((key, c))
    for c in candidates:
        c.pareto = False
    for _, c in front:
        c.pareto = True
    return [c for _, c in front]


def best(front: Sequence[Candidate], directions: Sequence[str]) -> Candidate | None:
    """The front's best candidate on the first objective (ties: the next objectives)."""
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    if not front:
        return None
    return min(front, key=lambda c: tuple(s * v for s, v in zip(signs, c.values, strict=True)))


class Space:
    """The search space a spec declares: its searched parameters (`dimensions`), the other
    parameters' values (`fixed`), and its constraints."""

    def __init__(self, spec: Any, params: Mapping[str, Any] | None = None, *, filename=None):
        self.source = read_source(spec, filename)
        program, _, dims, errors = _front(self.source.text, self.source.filename)
        if errors:
            raise SpecError(errors, self.source)
        self.program = program
        self.fixed = dict(params or {})
        self.dimensions: tuple[sp.Dimension, ...] = tuple(
            d for d in dims if d.name not in self.fixed
        )
        # the default point (with the fixed values): objectives are checked on it up front
        self._distributions: dict[str, Any] | None = None
        self.default = self.evaluate({})

    @property
    def size(self) -> int | None:
        """How many points the space has; None when a domain is continuous."""
        return sp.space_size(self.dimensions)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def sample(self, n: int, seed: int | None = None) -> list[dict[str, Any]]:
        """`n` points drawn uniformly (distinct while the space has that many)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, not {n!r}")
        return sp.sample(self.dimensions, n, seed)

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every point, the last parameter varying fastest; a SpecError for a continuous
        space (located at the continuous domain)."""
        for d in self.dimensions:
            if d.domain.size is None:
                message = f"`{d.name}` is continuous ({d.domain}): the space has no grid"
                hint = "give it a step: uniform(low, high, step=q), or sample the space"
                raise SpecError([Diagnostic(message, d.span, hint, code="domain")], self.source)
        return sp.grid(self.dimensions)

    def evaluate(self, point: Mapping[str, Any]) -> Network | SpecError:
        """The network at `point` (the fixed values and defaults fill the rest), or the
        SpecError that says why there is none; never raises."""
        try:
            return compile(
                self.source.text, {**self.fixed, **point}, filename=self.source.filename
            )
        except SpecError as err:
            return err
        except (TypeError, ValueError) as err:  # a point that is not a mapping of names
            return SpecError([Diagnostic(str(err), code="parameter-type")], self.source)

    # ---- runs -----------------------------------------------------------------------------
    def candidate(
        self,
        point: Mapping[str, Any],
        objectives: Sequence[Objective],
        constraints: Sequence[Any] = (),
    ) -> Candidate:
        """Evaluate `point`: its network, feasibility (the spec's constraints and
        `constraints`, expressions or callables) and objective values."""
        shown = {k: sp.plain(_python(v)) for k, v in point.items()}
        result = self.evaluate(point)
        if isinstance(result, SpecError):
            n = len(self.program.constraints) + len(constraints)
            return Candidate(shown, error=result, violations=(1.0,) * n)
        scope = rules.scope(result.ir, result.cost)
        violations = [c.violation for c in result.constraints]
        violations += [_violation(c, result, scope) for c in constraints]
        feasible = all(v <= 0 for v in violations)
        try:
            values = tuple(o.value(scope) for o in objectives)
        except SpecError as err:  # e.g. a division by zero at this point only
            return Candidate(shown, error=err, violations=tuple(violations))
        return Candidate(shown, result, None, feasible, values, violations=tuple(violations))

    def run(
        self,
        objectives: Sequence[str | Objective] = ("params", "macs"),
        n_trials: int | None = None,
        *,
        sampler: str | Any = "random",
        seed: int | None = None,
        constraints: Sequence[str | Callable[[Network], Any]] = (),
        storage: str | None = None,
        study_name: str | None = None,
        progress: Callable[[int, Candidate], None] | None = None,
        keep_networks: bool = True,
    ) -> list[Candidate]:
        """Evaluate `n_trials` candidates chosen by `sampler` and mark the Pareto front over
        `objectives` (expressions; `max:` maximizes).  Without storage, "random" and "grid"
        run without Optuna; other samplers, or any storage, run an Optuna study.
        `keep_networks=False` releases each candidate's network once it is evaluated (its
        totals stay): what `specgen search` does, whose memory then grows ten times slower."""
        if n_trials is not None and (
            not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 0
        ):
            raise ValueError(f"n_trials must be a non-negative int or None, not {n_trials!r}")
        objs = [o if isinstance(o, Objective) else Objective.parse(o) for o in objectives]
        extra = _constraints(constraints)
        self._check_names("search objectives and constraints")
        if isinstance(self.default, Network):  # an unknown name fails now, not per candidate
            scope = rules.scope(self.default.ir, self.default.cost)
            for o in objs:
                o.value(scope)
        candidates: list[Candidate] = []

        def record(c: Candidate) -> None:
            candidates.append(c)
            if progress is not None:
                progress(len(candidates), c)
            if not keep_networks:
                c.release()

        if storage is None and sampler in ("random", "grid"):
            self._run_plain(objs, n_trials, sampler, seed, extra, record)
        else:
            self._study(objs, n_trials, sampler, seed, extra, storage, study_name, record)
        pareto_front(candidates, [o.direction for o in objs])
        return candidates

    def _check_names(self, where: str) -> None:
        """A parameter or let named like a cost term would be hidden in the expressions that
        read the cost terms: refused, located, as the spec's `constraint` lines refuse it."""
        errors = sp.cost_term_clashes(self.program, where)
        if errors:
            raise SpecError(errors, self.source)

    def _run_plain(self, objs, n_trials, sampler, seed, extra, record) -> None:
        if sampler == "grid":
            points = self.grid()
            if n_trials is not None:
                points = itertools.islice(points, n_trials)
        else:  # drawn one at a time: --trials 1e8 must not hold 10**8 points up front
            points = sp.draw(self.dimensions, 100 if n_trials is None else n_trials, seed)
        for i, point in enumerate(points):
            c = self.candidate(point, objs, extra)
            c.number = i
            record(c)

    def optimize(
        self,
        objective: Callable[[Network], Any],
        n_trials: int | None = None,
        *,
        directions: Sequence[str] | None = None,
        constraints: Sequence[str | Callable[[Network], Any]] = (),
        sampler: str | Any = "tpe",
        seed: int | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Run an Optuna study whose objective receives each candidate's compiled `Network`
        (so it can call `net.to_torch()` and train a proxy).  Points that are not valid
        networks are pruned trials; constraints (the spec's and `constraints`) reach
        Optuna's constrained samplers, and every trial records its point, costs and
        feasibility in `user_attrs`.  An objective's value that is not a finite number (or
        one per direction) fails its trial, and the study goes on.  Returns the study."""
        extra = _constraints(constraints)
        if any(isinstance(c, _Constraint) for c in extra):
            self._check_names("search constraints")
        return self._study(
            objective, n_trials, sampler, seed, extra, storage, study_name, None,
            directions=directions, timeout=timeout,
        )  # fmt: skip

    def _study(
        self,
        objective: Any,
        n_trials: int | None,
        sampler: str | Any,
        seed: int | None,
        extra: Sequence[Any],
        storage: str | None,
        study_name: str | None,
        record: Callable[[Candidate], None] | None,
        directions: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        optuna = _optuna()
        n_constraints = len(self.program.constraints) + len(extra)
        if isinstance(objective, list):  # objective expressions (the CLI and `run`)
            objs = objective
            directions = [o.direction for o in objs]
        else:
            objs = []
            directions = list(directions or ["minimize"])
        if n_trials is None:
            size = self.size
            n_trials = size if sampler == "grid" and size is not None else 100

        def trial_fn(trial: Any) -> Any:
            point = self.suggest(trial)
            c = self.candidate(point, objs, extra)
            c.number = trial.number
            trial.set_user_attr("point", c.point)
            trial.set_user_attr("constraints", list(c.violations))
            if n_constraints and hasattr(trial, "set_constraint"):  # Optuna >= 5
                for i, v in enumerate(c.violations):
                    trial.set_constraint(f"c{i}", v)
            trial.set_user_attr("feasible", c.feasible)
            trial.set_user_attr("cost", c.cost)
            if c.error is not None:
                trial.set_user_attr("error", c.error.first.code)
                if record is not None:
                    record(c)
                raise optuna.TrialPruned(c.error.first.message)
            if record is not None:
                record(c)
                return c.values[0] if len(c.values) == 1 else c.values
            try:  # checked here: Optuna's own check trips on "1.5" or 10**400 and leaves the
                # trial RUNNING in the storage for ever
                return objective_values(objective(c.network), len(directions))
            except ObjectiveValueError as err:
                trial.set_user_attr("error", "objective-value")
                trial.set_user_attr("message", str(err))
                raise

        def constraints_of(trial: Any) -> Sequence[float]:
            return trial.user_attrs.get("constraints", [1.0] * n_constraints)

        # Optuna 4 reads constraints through the sampler's constraints_func, 5 from the trial
        legacy = n_constraints and not hasattr(optuna.trial.Trial, "set_constraint")
        chosen = self._sampler(sampler, seed, constraints_of if legacy else None)
        study = optuna.create_study(
            storage=_storage(optuna, storage),
            study_name=study_name,
            sampler=chosen,
            directions=list(directions),
            load_if_exists=study_name is not None,
        )
        self._check_resumed(study, directions, optuna, self._signature(objective, objs, extra))
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
        return study

    def _signature(self, objective: Any, objs: Sequence[Objective], extra: Sequence[Any]) -> dict:
        """What makes two searches the same, stored with the study: its objectives, the
        space (domains, fixed values, constraints) and the spec's text with its imports."""
        if objs:
            objectives = [f"{o.direction[:3]}:{o.text}" for o in objs]
        else:
            objectives = [_callable_name(objective)]
        return {
            "objectives": objectives,
            "space": {d.name: str(d.domain) for d in self.dimensions},
            "fixed": {k: format_value(_python(v)) for k, v in sorted(self.fixed.items())},
            "constraints": [c.text if isinstance(c, _Constraint) else _callable_name(c)
                            for c in extra],  # fmt: skip
            "spec": self._digest(),
        }

    def _digest(self) -> str:
        """SHA-256 of the spec's text and of the texts it imports (not their paths, which
        differ between machines)."""
        digest = hashlib.sha256(self.source.text.encode())
        if self.program.imports:
            from ..language.imports import load_imports

            for _, text in load_imports(self.program, self.source.filename, self.source):
                digest.update(b"\0" + text.encode())
        return digest.hexdigest()

    def _check_resumed(
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

    def _sampler(self, sampler: str | Any, seed: int | None, constraints_func: Any) -> Any:
        optuna = _optuna()
        if not isinstance(sampler, str):
            return sampler
        if sampler == "grid":
            self.grid()  # a continuous space is refused, located
            if self.size > GRID_LIMIT:  # Optuna's GridSampler lists every point in memory
                raise SearchError(
                    f"the grid has {self.size:,} points; Optuna's grid sampler holds them all "
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
        for dim in self.dimensions:
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
        for dim in self.dimensions:
            if isinstance(dim.domain, sp.Items):
                items = []
                for i, d in enumerate(dim.domain.items):
                    name = f"{dim.name}[{i}]"
                    items.append(d.value if name not in dists else _pick(trial, name, dists, d))
                point[dim.name] = items
            else:
                point[dim.name] = _pick(trial, dim.name, dists, dim.domain)
        return point

    def pin(self, point: Mapping[str, Any]) -> str:
        """The spec's text with `point`'s values as the parameters' defaults (domains kept),
        ready for `specgen build`."""
        lines = self.source.text.split("\n")
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line) + 1)

        def offset(line: int, column: int) -> int:
            return starts[line - 1] + column - 1

        point = {**self.fixed, **point}  # the --set values are part of the chosen network
        edits = []
        for q in self.program.params:
            if q.name in point and q.span.file is None:
                value = from_python(point[q.name], limits.MAX_LIST, limits.MAX_VALUE_DEPTH)
                text = format_value(value)
                if q.default is not None:
                    s = q.default.span
                    edits.append(
                        (offset(s.line, s.column), offset(s.end_line, s.end_column), text)
                    )
        text = self.source.text
        for start, end, new in sorted(edits, reverse=True):
            text = text[:start] + new + text[end:]
        return text


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
    dist = dists[name]
    if isinstance(domain, sp.Choice):
        value = trial.suggest_categorical(name, dist.choices)
        if _scalar_choices(domain.values):
            return value
        return sp.plain(domain.values[int(value)])  # a choice among lists: its index
    if isinstance(domain, sp.IntRange):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step)
    value = trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if domain.step is not None:  # Optuna's 0.30000000000000004 is the grid's 0.3
        return domain.at(int(round((value - domain.low) / domain.step)))
    return value


def _python(value: Any) -> Any:
    try:
        return from_python(value, limits.MAX_LIST, limits.MAX_VALUE_DEPTH)
    except ValueProblem:
        return repr(value)


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


# ---- stored studies ------------------------------------------------------------------------

_SIGNATURE = "specgen"  # the study's user attribute holding its search's signature


def _callable_name(f: Any) -> str:
    """A callable as a signature holds it: its module and qualified name (stable across
    processes and machines, unlike its repr)."""
    name = getattr(f, "__qualname__", None) or type(f).__qualname__
    return f"{getattr(f, '__module__', None) or type(f).__module__}.{name}"


def _difference(stored: Mapping[str, Any], mine: Mapping[str, Any]) -> str | None:
    """What differs between a stored search's signature and this one, as words; None when
    they are the same search."""

    def listed(values: Any) -> str:
        return ", ".join(f"`{v}`" for v in values) or "none"

    if stored.get("objectives") != mine["objectives"]:
        return (
            f"for other objectives ({listed(stored.get('objectives', []))}; this search: "
            f"{listed(mine['objectives'])})"
        )
    there, here = dict(stored.get("space", {})), mine["space"]
    if there != here:
        for name in [*here, *there]:
            if name not in there:
                detail = f"`{name}` is searched here, not there"
            elif name not in here:
                detail = f"`{name}` is searched there, not here"
            elif there[name] != here[name]:
                detail = f"`{name}` is {there[name]} there, {here[name]} here"
            else:
                continue
            return f"with another search space ({detail})"
    if dict(stored.get("fixed", {})) != mine["fixed"]:
        fixed = [f"{k}={v}" for k, v in stored.get("fixed", {}).items()]
        return (
            f"with other fixed parameters ({listed(fixed)}; this search: "
            f"{listed(f'{k}={v}' for k, v in mine['fixed'].items())})"
        )
    if stored.get("constraints") != mine["constraints"]:
        return (
            f"with other constraints ({listed(stored.get('constraints', []))}; this search: "
            f"{listed(mine['constraints'])})"
        )
    if stored.get("spec") != mine["spec"]:
        return "from another spec (its text, or a file it imports, changed since)"
    return None


# ---- objective values ----------------------------------------------------------------------


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


# ---- storage -------------------------------------------------------------------------------


def _storage(optuna: Any, url: str | None) -> Any:
    """An RDB storage for `url`.  SQLite waits for its lock instead of failing, and workers
    starting together may race to create the tables: the loser retries and finds them."""
    if url is None:
        return None
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    races = ("already exists", "UNIQUE constraint failed", "duplicate key")
    for attempt in range(8):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except Exception as err:  # noqa: BLE001 - SQLAlchemy's and drivers' errors, by message
            if not any(r in str(err) for r in races) or attempt == 7:
                first = (
                    str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                )
                raise StorageError(
                    f"cannot open the storage {masked_url(url)}: {_mask_in(first, url)}"
                ) from err
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


# `scheme://user:PASSWORD@host` (SQLAlchemy's URL grammar: the password runs to the first @),
# and a `password=` query argument (libpq's)
_PASSWORD = re.compile(r"^(?P<head>[\w+.-]+://[^:/]*:)(?P<password>[^@]*)(?=@)")
# `scheme://user:secret` with the `@host` forgotten: SQLAlchemy reads a port, but it is a
# password in all likelihood (a port is digits)
_NO_HOST = re.compile(
    r"^(?P<head>[\w+.-]+://(?!\[)[^:/@]*:)(?P<password>(?=[^/?#@]*[^\d/?#@])[^/?#@]+)(?=[/?#]|$)"
)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)


def masked_url(url: str) -> str:
    """`url` with its password as `***`: a storage URL is shown in messages and logs, its
    password never."""
    url = _PASSWORD.sub(lambda m: m["head"] + "***" if m["password"] else m[0], url)
    url = _NO_HOST.sub(lambda m: m["head"] + "***", url)
    return _QUERY_PASSWORD.sub(lambda m: m["head"] + "***" if m["password"] else m[0], url)


def _mask_in(text: str, url: str) -> str:
    """`text` (a driver's message, which may quote the URL) without `url`'s password."""
    from urllib.parse import unquote

    text = text.replace(url, masked_url(url))
    for m in (*_PASSWORD.finditer(url), *_NO_HOST.finditer(url), *_QUERY_PASSWORD.finditer(url)):
        for secret in {m["password"], unquote(m["password"])}:
            if secret:  # where it stands alone: a password `o` leaves "connection" whole
                text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "***", text)
    return text


class SearchError(ValueError):
    """A search that cannot run as asked (the CLI's exit 2)."""


class StorageError(SearchError):
    """An Optuna storage URL that cannot be opened (wrong URL, driver, server down)."""


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ImportError(
            "searching with a sampler or a storage needs Optuna: pip install 'specgen[search]'",
            name="optuna",
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def space(
    spec: str | bytes | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    filename: str | None = None,
) -> Space:  # noqa: E501
    """The search space declared in a spec (a path, its text or bytes); `params` fixes
    parameters (searched or not) for every candidate."""
    return Space(spec, params, filename=filename)


def render_table(
    candidates: Sequence[Candidate], objectives: Sequence[Objective], names: Sequence[str]
) -> str:
    """Every candidate (its point, feasibility, costs, objectives or mistake), then the
    Pareto front, as aligned text."""
    extra = [i for i, o in enumerate(objectives) if o.text not in ("params", "macs")]
    header = ["#", *names, "feasible", "params", "macs", *(objectives[i].text for i in extra)]
    header.append("note")

    def row(c: Candidate) -> list[str]:
        values = [format_value(_python(c.point.get(n))) for n in names]
        cost = c.cost
        if cost is None:
            return [str(c.number), *values, "no", "", "", *([""] * len(extra)),
                    f"invalid: {c.error.first.code}" if c.error else ""]  # fmt: skip
        shown = [_number_text(c.values[i]) for i in extra]
        note = "pareto" if c.pareto else ""
        return [str(c.number), *values, "yes" if c.feasible else "no",
                f"{cost['params']:,}", f"{cost['macs']:,}", *shown, note]  # fmt: skip

    def table(rows: list[list[str]]) -> list[str]:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        return ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                for r in [header, *rows]]  # fmt: skip

    lines = table([row(c) for c in candidates])
    front = [c for c in candidates if c.pareto]
    feasible = sum(c.feasible for c in candidates)
    invalid = sum(c.cost is None for c in candidates)
    lines.append("")
    lines.append(
        f"{len(candidates)} candidates: {feasible} feasible, {invalid} invalid; "
        f"Pareto front over {', '.join(o.direction[:3] + ' ' + o.text for o in objectives)} "
        f"({len(front)}):"
    )
    directions = [o.direction for o in objectives]
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    front.sort(key=lambda c: tuple(s * v for s, v in zip(signs, c.values, strict=True)))
    lines.extend(table([row(c) for c in front]) if front else ["  (none)"])
    return "\n".join(lines) + "\n"


def _number_text(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:.4g}"
