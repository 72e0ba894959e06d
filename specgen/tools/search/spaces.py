"""The search space a spec declares (`Space`, made by `space()`): its size, samples, grid and
candidates, runs without Optuna (random, grid) or through it (`OptunaSearch`), and the spec
with a chosen point pinned."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ... import limits
from ...compiler import Network, _front, compile
from ...errors import Diagnostic, SpecError
from ...language import domains as sp
from ...language import points as space_points
from ...language.source import read_source
from ...passes import constraints as rules
from ...values import format_value, from_python, plain
from .candidates import Candidate, _python, pareto_front
from .objectives import Objective, _Constraint, _constraints, _violation
from .study import OptunaSearch


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
        self._studies = OptunaSearch(self)  # imports Optuna only when a study runs
        # the default point (with the fixed values): objectives are checked on it up front
        self.default = self.evaluate({})

    @property
    def size(self) -> int | None:
        """How many points the space has; None when a domain is continuous."""
        return space_points.space_size(self.dimensions)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def sample(self, n: int, seed: int | None = None) -> list[dict[str, Any]]:
        """`n` points drawn uniformly (distinct while the space has that many)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, not {n!r}")
        return space_points.sample(self.dimensions, n, seed)

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every point, the last parameter varying fastest; a SpecError for a continuous
        space (located at the continuous domain)."""
        for d in self.dimensions:
            if d.domain.size is None:
                message = f"`{d.name}` is continuous ({d.domain}): the space has no grid"
                hint = "give it a step: uniform(low, high, step=q), or sample the space"
                raise SpecError([Diagnostic(message, d.span, hint, code="domain")], self.source)
        return space_points.grid(self.dimensions)

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
        shown = {k: plain(_python(v)) for k, v in point.items()}
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
            self._studies.run(objs, n_trials, sampler, seed, extra, storage, study_name, record)
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
            points = space_points.draw(
                self.dimensions, 100 if n_trials is None else n_trials, seed
            )
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
        return self._studies.run(
            objective, n_trials, sampler, seed, extra, storage, study_name, None,
            directions=directions, timeout=timeout,
        )  # fmt: skip

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
        try:  # the values as the network was bound with them: 36 for a float `wa` is 36.0
            bound = dict(compile(self.source.text, point, filename=self.source.filename).ir.params)
        except SpecError:  # a point that does not compile is pinned as it was given
            bound = {}
        edits = []
        for q in self.program.params:
            if q.name in point and q.span.file is None:
                value = bound.get(q.name)
                if value is None:
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

    # ---- Optuna ---------------------------------------------------------------------------
    def distributions(self) -> dict[str, Any]:
        """The searched parameters as Optuna distributions; a list parameter's searched
        items are `name[i]`, and a choice among lists or tables is a choice of its index."""
        return self._studies.distributions()

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The point an Optuna trial asks for."""
        return self._studies.suggest(trial)


def space(
    spec: str | bytes | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    filename: str | None = None,
) -> Space:  # noqa: E501
    """The search space declared in a spec (a path, its text or bytes); `params` fixes
    parameters (searched or not) for every candidate."""
    return Space(spec, params, filename=filename)
