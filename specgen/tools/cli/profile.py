"""`specgen profile`: each distinct layer configuration of the specs (and of points of their
search spaces) measured on this machine into a latency table; and the `--latency` options of
`check`, `cost` and `search`, which read one."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from ...errors import printable
from .common import EXIT_OK, _compile, _complain, _files, _parse_sets, _Usage

GRID_LIMIT = 10_000  # points of a space --grid compiles (each measured unit is kept)
FIT_POINTS = 8  # sampled points timed whole beside the specs, for the model's fit


def _cmd_profile(args: argparse.Namespace) -> int:
    from ...passes.latency import LatencyError, LatencyTable
    from ..output import OutputError, plan_output, write_output

    if not args.file and not args.merge:
        raise _Usage("give specs to profile, or --merge TABLE")
    try:
        plan_output(args.output)
    except OutputError as err:
        raise _Usage(str(err)) from None
    table = _existing(args.output)
    try:
        for other in args.merge:
            merged = LatencyTable.load(other)
            if table is None:
                table = LatencyTable(merged.device, name=args.output)
            table.merge(merged)
        if args.file:
            table = _measure(args, table)
    except LatencyError as err:
        raise _Usage(str(err)) from None
    assert table is not None
    try:
        write_output(args.output, table.dumps())
    except OutputError as err:
        raise _Usage(str(err)) from None
    return EXIT_OK


def _existing(path: str) -> Any:
    """The table at `path` to add to, None when there is none; a file that is not a table is
    refused rather than overwritten."""
    from ...passes.latency import LatencyError, LatencyTable

    if not Path(path).is_file():
        return None
    try:
        return LatencyTable.load(path)
    except LatencyError as err:
        raise _Usage(f"{err}; -o adds to a latency table, choose another file") from None


def _networks(args: argparse.Namespace) -> tuple[list[tuple[str, Any]], list[Any]]:
    """(the specs at their defaults or --set values, each named; the points of their search
    spaces asked for by --samples / --grid)."""
    from ..search import Space

    named, points = [], []
    for file in _files(args):
        net = _compile(args, file)
        named.append((Path(file).stem if file != "-" else "stdin", net))
        if not (args.samples or args.grid) or file == "-":
            continue
        space = Space(Path(file), _parse_sets(args.set), filename=file, input=args.input)
        if not space.dimensions:
            continue
        if args.grid:
            if space.size is None or space.size > GRID_LIMIT:
                raise _Usage(
                    f"{file}: the space has {space.size or 'infinitely many'} points; --grid "
                    f"measures up to {GRID_LIMIT:,} (--samples N draws some)"
                )
            chosen = list(space.grid())
        else:
            chosen = space.sample(args.samples, seed=args.seed)
        for point in chosen:
            result = space.evaluate(point)
            if not isinstance(result, Exception):
                points.append(result)
    return named, points


def _measure(args: argparse.Namespace, table: Any) -> Any:
    from ..profile import Profiler, Timing

    named, points = _networks(args)
    timing = Timing.quick() if args.quick else Timing(repeats=args.repeats)
    try:
        profiler = Profiler(
            args.runtime, args.batch, args.layout, args.device, args.threads, timing, table,
            name=args.output,
        )  # fmt: skip
    except RuntimeError as err:  # no CUDA device, or ONNX Runtime asked for on CUDA
        raise _Usage(str(err)) from None
    except ImportError as err:
        raise _Usage(f"profiling needs {err.name} (pip install 'specgen[torch,onnx]')") from None
    start = time.monotonic()
    todo = profiler.missing([net for _, net in named] + points)
    whole = [] if args.no_fit else named + [(_point_name(n), n) for n in points[:FIT_POINTS]]
    progress = _bar(len(todo) + len(whole))
    try:
        profiler.measure(todo, progress, whole)
    finally:
        if progress is not None:
            progress.done()
    run = profiler.run
    fit = (
        f"; fitted on {len(run.networks)} networks: scale {run.scale:.3f}, "
        f"{run.per_unit_ms:.4f} ms per unit"
        if run.networks
        else ""
    )
    _complain(
        printable(
            f"specgen: {args.output}: {len(todo)} configurations measured ({run.name}, "
            f"{len(run.entries)} in the table) in {time.monotonic() - start:.0f} s{fit}"
        )
    )
    return profiler.table


def _point_name(net: Any) -> str:
    args = ",".join(f"{k}={v}" for k, v in net.params.items())
    return f"{net.name}({args})"


class _Bar:
    """rich's progress bar over the configurations, on a terminal's stderr."""

    def __init__(self, total: int):
        from .status import _rich_bar

        self.bar = _rich_bar("{task.fields[label]}")
        self.task = self.bar.add_task("profile", total=max(total, 1), label="")
        self.bar.start()

    def __call__(self, done: int, total: int, label: str) -> None:
        self.bar.update(self.task, completed=done, total=max(total, 1), label=label[:48])

    def done(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # a terminal gone meanwhile
            self.bar.stop()


def _bar(total: int) -> _Bar | None:
    try:
        tty = sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError, OSError):
        tty = False
    return _Bar(total) if tty and total else None
