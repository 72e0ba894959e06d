"""`specgen search`: the spec's search space evaluated, its Pareto front shown, and the best
point's spec written."""

from __future__ import annotations

import argparse
import os
import sys

from .common import (
    EXIT_OK,
    _parse_sets,
    _print,
    _read_stdin,
    _stdout,
    _Usage,
    latency_model,
    save_measured,
)
from .status import _Progress


def _cmd_search(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..output import OutputError, plan_output, write_output
    from ..search import Objective, Space, render_table

    try:
        for path in (args.output, args.best_spec):
            if path is not None:
                plan_output(path)  # fail before the work
    except OutputError as err:
        raise _Usage(str(err)) from None
    if not args.file:
        raise _Usage("the file name is empty")
    stdin = args.file == "-"
    name = "<stdin>" if stdin else args.file
    paths = [p for p in (None if stdin else args.file, args.output, args.best_spec) if p]
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            if os.path.abspath(a) == os.path.abspath(b) or (
                os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
            ):
                raise _Usage(f"{b} is named twice (the spec, -o and --best-spec must differ)")
    if args.output is None:
        _stdout()
    objectives = [Objective.parse(t) for text in args.objective for t in _split(text) if t]
    constraints = []
    if args.max_params is not None:
        constraints.append(f"params <= {args.max_params}")
    if args.max_macs is not None:
        constraints.append(f"macs <= {args.max_macs}")
    if args.max_latency is not None:
        if args.latency is None:
            raise _Usage("--max-latency needs a latency table: --latency TABLE")
        constraints.append(f"latency <= {args.max_latency!r}")
    params = _parse_sets(args.set)
    model = latency_model(args)
    space = (
        Space(_read_stdin(), params, filename=name, input=args.input, latency=model)
        if stdin
        else Space(Path(args.file), params, filename=args.file, input=args.input, latency=model)
    )
    # the --objective options, else the spec's `objective` lines, else params and MACs
    objectives = objectives or space.objectives or [Objective.parse(t) for t in ("params", "macs")]
    if not space.dimensions and any(q.domain for q in space.program.params):
        raise _Usage("--set fixes every searched parameter: nothing is left to search")
    if not space.dimensions:
        raise _Usage(
            f"{name} declares no search space: give a network parameter a domain, "
            "e.g. `g: choice(1, 2, 4) = 2`"
        )
    trials = args.trials
    if trials is None:
        trials = space.size if args.sampler == "grid" and space.size is not None else 100
    progress = _Progress(trials) if sys.stderr is not None and sys.stderr.isatty() else None
    from ..search import SearchError

    try:
        candidates = space.run(
            objectives,
            trials,
            sampler=args.sampler,
            seed=args.seed,
            constraints=constraints,
            storage=args.storage,
            study_name=args.study,
            progress=progress,
            keep_networks=False,  # the table and JSONL need the totals only
        )
    except SearchError as err:
        raise _Usage(str(err)) from None
    finally:
        if progress is not None:
            progress.done()
    _missing_warning(candidates, args)
    if args.format == "jsonl":
        import json

        text = "".join(json.dumps(c.to_json()) + "\n" for c in candidates)
    else:
        text = render_table(candidates, objectives, space.names)
    try:
        if args.output is None:
            _print(text)
        else:
            write_output(args.output, text)
        if args.best_spec is not None:
            from ..search import best

            chosen = best([c for c in candidates if c.pareto], [o.direction for o in objectives])
            if chosen is None:
                raise _Usage("no feasible candidate: --best-spec was not written")
            write_output(args.best_spec, space.pin(chosen.point))
    except OutputError as err:
        raise _Usage(str(err)) from None
    save_measured(args)
    return EXIT_OK


def _missing_warning(candidates: list, args: argparse.Namespace) -> None:
    """On stderr: how many candidates the latency table could not predict, and the first
    one's missing configurations (each such candidate is invalid, code `latency`)."""
    from ...errors import printable
    from .common import _complain

    lacking = [c for c in candidates if c.error is not None and c.error.first.code == "latency"]
    if lacking:
        _complain(
            printable(
                f"specgen: warning: {len(lacking)} candidates were not predicted: "
                f"{lacking[0].error.first.message}\n(profile the space: specgen profile "
                f"{args.file} --samples N -o {args.latency})",
                newlines=True,
            )
        )


def _split(text: str) -> list[str]:
    """`min:macs,max:params` at its top-level commas (`max(macs, params)` stays whole)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts
