"""What `specgen profile` measures: every distinct unit of the networks given (once, however
many networks or points of a search space share it, and not again when the table already
holds it), the empty call, and the whole networks the scale is fitted on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ... import ir
from ...compiler import Network
from ...passes import latency as L
from ...passes.units import Unit, units
from .device import device_tag
from .runners import Runner
from .timing import Timing, time_call

Progress = Callable[[int, int, str], None]  # (done, total, label of the unit being measured)


class Profiler:
    """Measures into `table` (a new one for this device when None) for one runtime, batch,
    layout and device."""

    def __init__(
        self,
        runtime: str = "deploy",
        batch: int = 1,
        layout: str = "nchw",
        device: str = "cpu",
        threads: int | None = None,
        timing: Timing | None = None,
        table: L.LatencyTable | None = None,
        name: str = "table",
    ):
        if runtime not in L.RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(L.RUNTIMES)}, not {runtime!r}")
        if layout not in L.LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(L.LAYOUTS)}, not {layout!r}")
        tag = device_tag(device, threads)
        if table is None:
            table = L.LatencyTable(tag, name=name)
        else:
            differs = table.same_device(L.LatencyTable(tag))
            if differs is not None:
                raise L.LatencyError(
                    f"{table.name} was measured on another device ({differs}); write to "
                    "another table"
                )
        self.table, self.timing = table, timing or Timing()
        key = (runtime, batch, layout)
        self.new_run = key not in table.runs
        self.run = table.runs.setdefault(key, L.Run(runtime, batch, layout))
        self.runner = Runner(runtime, batch, layout, device, tag["threads"])
        self.measured = 0

    def form(self, net: Network) -> Network:
        """What this runtime runs of `net`."""
        return net if self.run.runtime == "eager" else net.deploy()

    def missing(self, nets: Iterable[Network]) -> list[tuple[Unit, Any]]:
        """The distinct units of `nets` the run lacks, each with its spec's program."""
        found: dict[str, tuple[Unit, Any]] = {}
        for net in nets:
            for u in units(self.form(net).ir.body):
                if u.key not in self.run.entries and u.key not in found:
                    found[u.key] = (u, net.ir.program)
        return list(found.values())

    def measure(self, todo: Sequence[tuple[Unit, Any]], progress: Progress | None = None) -> None:
        """Time each unit of `todo` (and the empty call, once per run) into the run."""
        if self.new_run or not self.run.call_ms:
            program = todo[0][1] if todo else None
            if program is not None:
                median, _ = time_call(self.runner.empty(program), self.timing)
                self.run.call_ms = median
                self.new_run = False
        for i, (u, program) in enumerate(todo):
            if progress is not None:
                progress(i, len(todo), u.label)
            median, spread = time_call(self.runner.unit(program, u), self.timing)
            self.run.entries[u.key] = L.Entry(median, spread, self.timing.repeats, u.label)
            self.measured += 1
        if progress is not None:
            progress(len(todo), len(todo), "")

    def time_network(self, name: str, net: Network) -> L.Network:
        """Time `net` whole (its units must be in the run) and refit the scale on it."""
        measured, _ = time_call(self.runner.network(net), self.timing)
        keys = [u.key for u in units(self.form(net).ir.body)]
        timed = L.Network(name, measured, self.run.summed(keys), len(keys))
        self.run.networks[name] = timed
        self.run.fit()
        return timed


def profile(
    nets: Sequence[Network],
    *,
    runtime: str = "deploy",
    batch: int = 1,
    layout: str = "nchw",
    device: str = "cpu",
    threads: int | None = None,
    timing: Timing | None = None,
    table: L.LatencyTable | None = None,
    whole: bool = True,
    progress: Progress | None = None,
) -> L.LatencyTable:
    """The latency table of `nets`' units (added to `table` when given); `whole`: also time
    each network end to end and fit the run's scale on them."""
    p = Profiler(runtime, batch, layout, device, threads, timing, table)
    p.measure(p.missing(nets), progress)
    if whole:
        for net in nets:
            p.time_network(_name(net), net)
    return p.table


def _name(net: Network) -> str:
    return repr(net).removeprefix("<Network ").partition(" ")[0]


def measure_missing(profiler: Profiler) -> L.Measure:
    """The on-demand measurement a `LatencyModel` calls for units its table lacks
    (`--profile-missing`)."""

    def measure(run: L.Run, todo: list[Unit], net: ir.Network) -> None:
        assert run is profiler.run
        profiler.measure([(u, net.program) for u in todo])

    return measure
