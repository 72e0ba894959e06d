"""The search space a spec declares (`Space`, made by `space()`): its size, samples, grid and
candidates, runs without Optuna (random, grid) or through it (`OptunaSearch`), and the spec
with a chosen point pinned."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ... import limits
from ...compiler import Network, _front, compile, input_size
from ...errors import Diagnostic, SpecError
from ...language import domains as sp
from ...language import points as space_points
from ...language.source import read_source
from ...passes import constraints as rules
from ...passes.fingerprint import architecture_key
from ...passes.latency import LatencyError
from ...values import format_value, from_python, plain
from .candidates import Candidate, _python, mark_repeats, pareto_front
from .objectives import Objective, _Constraint, _constraints, _violation
from .results import SearchResult
from .study import OptunaSearch


class Space:
    """The search space a spec declares: its searched parameters (`dimensions`), the other
    parameters' values (`fixed`), the input (`input`: the spec's, or the one given), its
    constraints and its objectives; with a latency model (`latency`), every candidate's
    predicted latency is the cost term `latency`."""

    def __init__(
        self,
        spec: Any,
        params: Mapping[str, Any] | None = None,
        *,
        filename: str | None = None,
        input: Sequence[int] | str | None = None,  # noqa: A002 - the spec's word
        latency: Any = None,
    ):
        self.source = read_source(spec, filename)
        self.latency = latency  # a passes.latency.LatencyModel: `latency` as a cost term
        program, _, dims, errors = _front(self.source.text, self.source.filename)
        if errors:
            raise SpecError(errors, self.source)
        self.program = program
        self.input = input_size(input)
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

    @property
    def objectives(self) -> list[Objective]:
        """The spec's `objective` lines, as `--objective` would give them."""
        lines = self.source.text.split("\n")
        out = []
        for o in self.program.objectives:
            s = o.expr.span
            text = (
                lines[s.line - 1][s.column - 1 : s.end_column - 1] if s.line == s.end_line else ""
            )
            out.append(Objective(text or "objective", o.expr, o.direction))
        return out

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
                self.source.text,
                {**self.fixed, **point},
                filename=self.source.filename,
                input=self.input,
                latency=self.latency,
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
        try:
            scope = rules.scope(result.ir, result.cost, result.latency_ms)
        except LatencyError as err:  # a configuration the table lacks: this candidate fails
            error = SpecError([Diagnostic(str(err), code="latency")], result.source)
            n = len(self.program.constraints) + len(constraints)
            return Candidate(shown, error=error, violations=(1.0,) * n)
        violations = [c.violation for c in result.constraints]
        violations += [_violation(c, result, scope) for c in constraints]
        feasible = all(v <= 0 for v in violations)
        try:
            values = tuple(o.value(scope) for o in objectives)
        except SpecError as err:  # e.g. a division by zero at this point only
            return Candidate(shown, error=err, violations=tuple(violations))
        return Candidate(
            shown, result, None, feasible, values, violations=tuple(violations),
            architecture=architecture_key(result.ir),
        )  # fmt: skip

    def run(
        self,
        objectives: Sequence[str | Objective] | None = None,
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
        `objectives` (expressions; `max:` maximizes; by default the spec's `objective` lines,
        else params and MACs).  Without storage, "random" and "grid" run without Optuna;
        other samplers, or any storage, run an Optuna study.  A candidate whose architecture
        an earlier one had is marked `repeat_of` it, and the front lists each architecture
        once.
        `keep_networks=False` releases each candidate's network once it is evaluated (its
        totals stay): what `specgen search` does, whose memory then grows ten times slower."""
        if n_trials is not None and (
            not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 0
        ):
            raise ValueError(f"n_trials must be a non-negative int or None, not {n_trials!r}")
        if objectives is None:
            objectives = self.objectives or ["params", "macs"]
        objs = [o if isinstance(o, Objective) else Objective.parse(o) for o in objectives]
        extra = _constraints(constraints)
        self._check_names("search objectives and constraints")
        if isinstance(self.default, Network):  # an unknown name fails now, not per candidate
            scope = rules.scope(self.default.ir, self.default.cost, self._latency_of(self.default))
            for o in objs:
                o.value(scope)
        candidates: list[Candidate] = []
        first: dict[str, Candidate] = {}

        def record(c: Candidate) -> None:
            mark_repeats(c, first)
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

    def _latency_of(self, net: Network) -> float | None:
        """`net`'s predicted latency, or 0.0 (a stand-in for checking the objectives' names)
        where the table lacks some of its configurations."""
        try:
            return net.latency_ms
        except LatencyError:
            return 0.0

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
        objective: Callable[..., Any],
        n_trials: int | None = None,
        *,
        directions: Sequence[str] | None = None,
        constraints: Sequence[str | Callable[[Network], Any]] = (),
        sampler: str | Any = "tpe",
        seed: int | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        timeout: float | None = None,
        pruner: Any = None,
        with_trial: bool | None = None,
    ) -> SearchResult:
        """Run an Optuna study whose objective trains (or scores) each candidate: it is
        called as `objective(net)` with the compiled `Network`, or `objective(net, trial)`
        when its signature takes a second argument (or `with_trial=True`), the trial being
        a `SearchTrial`: Optuna's (`report`, `should_prune`, `set_user_attr`) plus `keep`.

        The objective is never called on a candidate that breaks a constraint (the spec's
        and `constraints`): that trial is recorded with its costs, marked infeasible for
        Optuna's constrained samplers, with the worst value per direction (±inf).  Nor is it
        called twice on one architecture: a repeat gets the stored result, in this process
        and across workers sharing `storage`.  Points that are not valid networks are pruned
        trials; `pruner` is Optuna's (median, Hyperband, ...).  An objective's value that is
        not a finite number (or one per direction) fails its trial and the study goes on.
        Returns a `SearchResult`: the study (`.study`, and its attributes), the candidates,
        the counts and the Pareto front over distinct architectures."""
        extra = _constraints(constraints)
        if any(isinstance(c, _Constraint) for c in extra):
            self._check_names("search constraints")
        return self._studies.optimize(
            objective, n_trials, sampler, seed, extra, storage, study_name,
            directions=directions, timeout=timeout, pruner=pruner, with_trial=with_trial,
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
            net = compile(self.source.text, point, filename=self.source.filename, input=self.input)
            bound = dict(net.ir.params)
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
        if self.input is not None:  # the input searched with is the pinned spec's
            s = self.program.input_span
            edits.append(
                (offset(s.line, s.column), offset(s.end_line, s.end_column),
                 "x".join(map(str, self.input)))
            )  # fmt: skip
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
    input: Sequence[int] | str | None = None,  # noqa: A002 - the spec's word
    latency: Any = None,
) -> Space:
    """The search space declared in a spec (a path, its text or bytes); `params` fixes
    parameters (searched or not) for every candidate, `input` (`(1, 16, 16)`) replaces the
    spec's input, `latency` (`specgen.latency_model(TABLE)`) makes `latency` a cost term."""
    return Space(spec, params, filename=filename, input=input, latency=latency)
