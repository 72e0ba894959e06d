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
from .timing import Progress, Timing, time_rounds


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
        self.run = table.runs.setdefault((runtime, batch, layout), L.Run(runtime, batch, layout))
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

    def measure(
        self,
        todo: Sequence[tuple[Unit, Any]],
        progress: Progress | None = None,
        networks: Sequence[tuple[str, Network]] = (),
    ) -> dict[str, tuple[float, float]]:
        """Time each unit of `todo` (and the empty call, once per run) into the run, and
        each of `networks` whole, in the same interleaved rounds; the networks' times are
        returned by name and the run's model is refitted on them."""
        self._check_memory(todo, networks)
        calls: list[Callable[[], object]] = []
        empty = not self.run.call_ms  # a new run: the empty call is measured once
        program = todo[0][1] if todo else (networks[0][1].ir.program if networks else None)
        if empty and program is not None:
            calls.append(self.runner.empty(program))
        built = len(todo) + len(networks)
        for i, (u, prog) in enumerate(todo):
            if progress is not None:
                progress(i, built, u.label)
            calls.append(self.runner.unit(prog, u))
        for _, net in networks:
            calls.append(self.runner.network(net))
        if not calls:
            return {}
        times = time_rounds(calls, self.timing, progress)
        if empty and program is not None:
            self.run.call_ms = times.pop(0)[0]
        for (u, _), (median, spread) in zip(todo, times, strict=False):
            self.run.entries[u.key] = L.Entry(median, spread, self.timing.repeats, u.label)
        self.measured += len(todo)
        timed = dict(zip((name for name, _ in networks), times[len(todo) :], strict=True))
        for name, net in networks:
            keys = [u.key for u in units(self.form(net).ir.body)]
            first = self.run.entries[keys[0]].median_ms
            record = L.Network(name, timed[name][0], first, self.run.summed(keys[1:]), len(keys))
            self.run.networks[name] = record
        if networks:
            self.run.fit()
        return timed

    def _check_memory(
        self, todo: Sequence[tuple[Unit, Any]], networks: Sequence[tuple[str, Network]]
    ) -> None:
        """Refuse a batch whose largest input and output do not fit in the memory there is,
        before anything is allocated (a LatencyError the command line reports)."""
        from ...compiler import available_memory

        shapes = [(s.numel for s in u.in_shapes) for u, _ in todo]
        peak = max(
            [sum(ins) + u.out_shape.numel for ins, (u, _) in zip(shapes, todo, strict=True)]
            + [net.cost.peak_activations for _, net in networks],
            default=0,
        )
        need, have = 4 * peak * self.run.batch, available_memory()
        if have is not None and need > have:
            raise L.LatencyError(
                f"batch {self.run.batch} needs {need / 2**30:.1f} GiB for its largest layer's "
                f"input and output, but {have / 2**30:.1f} GiB are available"
            )


def profile(
    nets: Sequence[Network],
    *,
    whole: bool = True,
    progress: Progress | None = None,
    **options: Any,
) -> L.LatencyTable:
    """The latency table of `nets`' units; `options` are `Profiler`'s (runtime, batch,
    layout, device, threads, timing, and `table` to add to); `whole`: also time each
    network end to end and fit the run's model on them."""
    p = Profiler(**options)
    p.measure(p.missing(nets), progress, [(_name(n), n) for n in nets] if whole else ())
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
