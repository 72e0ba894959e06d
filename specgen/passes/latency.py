"""Latency as a cost: a network's time predicted from a table of measured units
(`specgen profile` writes it; docs/latency.md gives the format and the model).

The table holds, for one device, one or more *runs* — a runtime (`eager`, `deploy`,
`onnxruntime`), a batch and a layout — each with the median time of every unit configuration
measured (`passes.units`), the time of an empty call, and a fitted model.  A network of
units u1, u2, ..., un is predicted to take

    latency = t(u1) + scale · Σ_{i≥2} max(t(ui) − call, 0) + per_unit · (n − 1)

Each unit was timed as a call of its own, so each measurement holds the runtime's call
overhead once (`call`, measured on an empty model): the first unit brings it, as the
network pays it once, and every later unit adds its time less that overhead.  A network of
one unit is that unit, timed as such.  `scale` and `per_unit` are fitted by `specgen
profile` on the whole networks it also times (least squares on the relative error;
`per_unit` from three networks on, `scale` alone from one): they correct what isolated
measurements miss between units (caches warm with a unit's own data, a runtime's fusions
across layers, the allocations and container calls between units).

No framework is imported here: prediction is a table lookup, fast enough for a search loop.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import ir
from .units import Unit, network_keys, units

SCHEMA = "specgen.latency/1"
RUNTIMES = ("eager", "deploy", "onnxruntime")
LAYOUTS = ("nchw", "nhwc")
# what must agree for two tables to merge: the measurements were taken on the same machine
# with the same software
DEVICE_KEYS = ("device", "processor", "machine", "threads", "torch", "onnxruntime")


class LatencyError(ValueError):
    """A table that cannot be read or used: not JSON, the wrong schema, another device, no
    run for the runtime asked for."""


class MissingConfigs(LatencyError):
    """Unit configurations a prediction needs that the table lacks (`units`: one of each)."""

    def __init__(self, table: str, run: Run, missing: list[Unit | str]):
        self.units = missing
        shown = [u.label if isinstance(u, Unit) else u for u in missing]
        more = f" (and {len(shown) - 5} more)" if len(shown) > 5 else ""
        lines = "".join(f"\n  {s}" for s in shown[:5])
        super().__init__(
            f"{len(shown)} layer configuration{'s' * (len(shown) != 1)} not in {table} "
            f"({run.name}){more}:{lines}\nprofile them: specgen profile SPEC ... -o {table}, "
            "or pass --profile-missing"
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One measured unit: the median of its repeats, their spread (interquartile range)."""

    median_ms: float
    spread_ms: float
    repeats: int
    label: str

    def to_json(self) -> dict[str, Any]:
        return {
            "median_ms": self.median_ms,
            "spread_ms": self.spread_ms,
            "repeats": self.repeats,
            "label": self.label,
        }


@dataclass(frozen=True, slots=True)
class Network:
    """A whole network timed end to end by `specgen profile`: what the model is fitted on."""

    name: str
    measured_ms: float
    first_ms: float  # its first unit's time
    summed_ms: float  # Σ max(t − call, 0) over its later units
    units: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured_ms": self.measured_ms,
            "first_ms": self.first_ms,
            "summed_ms": self.summed_ms,
            "units": self.units,
        }


@dataclass
class Run:
    """The measurements of one runtime at one batch and layout."""

    runtime: str
    batch: int
    layout: str
    call_ms: float = 0.0
    entries: dict[str, Entry] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    scale: float = 1.0
    per_unit_ms: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.runtime}, batch {self.batch}, {self.layout}"

    @property
    def id(self) -> str:
        return f"{self.runtime}/b{self.batch}/{self.layout}"

    def fit(self) -> None:
        """`scale` and `per_unit_ms` from the networks timed whole: least squares on the
        relative error of measured − first ≈ scale · summed + per_unit · (units − 1);
        `scale` alone below three networks or where the pair would be negative; 1 and 0
        without."""
        rows = [
            (n.measured_ms - n.first_ms, n.summed_ms, n.units - 1, n.measured_ms)
            for n in self.networks.values()
            if n.measured_ms > 0 and n.units > 1
        ]
        self.scale, self.per_unit_ms = 1.0, 0.0
        # the normal equations of the weighted problem (weights 1/measured)
        saa = sum(s * s / m**2 for _, s, _, m in rows)
        sab = sum(s * u / m**2 for _, s, u, m in rows)
        sbb = sum(u * u / m**2 for _, _, u, m in rows)
        sya = sum(y * s / m**2 for y, s, _, m in rows)
        syb = sum(y * u / m**2 for y, _, u, m in rows)
        det = saa * sbb - sab * sab
        if len(rows) >= 3 and det > 1e-12 * saa * sbb:
            scale, per_unit = (sya * sbb - syb * sab) / det, (saa * syb - sab * sya) / det
            if scale > 0 and per_unit >= 0:
                self.scale, self.per_unit_ms = scale, per_unit
                return
        if saa > 0 and sya > 0:
            self.scale = sya / saa

    def summed(self, keys: Iterable[str]) -> float:
        """Σ max(t − call, 0) over `keys` (all present)."""
        call, entries = self.call_ms, self.entries
        return sum(max(entries[k].median_ms - call, 0.0) for k in keys)

    def predict(self, keys: tuple[str, ...]) -> float:
        """The model's latency of a network of units `keys` (all present)."""
        if not keys:
            return self.call_ms
        later = keys[1:]
        first = self.entries[keys[0]].median_ms
        return first + self.scale * self.summed(later) + self.per_unit_ms * len(later)

    def to_json(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "batch": self.batch,
            "layout": self.layout,
            "call_ms": self.call_ms,
            "scale": self.scale,
            "per_unit_ms": self.per_unit_ms,
            "networks": [n.to_json() for n in self.networks.values()],
            "entries": {k: e.to_json() for k, e in sorted(self.entries.items())},
        }


class LatencyTable:
    """Measured units of one device: `runs` by (runtime, batch, layout)."""

    def __init__(self, device: Mapping[str, Any], runs: Iterable[Run] = (), name: str = "table"):
        self.device = dict(device)
        self.runs: dict[tuple[str, int, str], Run] = {
            (r.runtime, r.batch, r.layout): r for r in runs
        }
        self.name = name

    # ---- files ------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LatencyTable:
        name = os.fspath(path)
        try:
            with open(name, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as err:
            raise LatencyError(f"cannot read the latency table {name}: {err.strerror}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise LatencyError(f"{name} is not a latency table (not JSON: {err})") from None
        return cls.from_json(data, name)

    @classmethod
    def from_json(cls, data: Any, name: str = "table") -> LatencyTable:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise LatencyError(f"{name} is not a latency table (schema {SCHEMA} expected)")
        try:
            runs = [_run(r) for r in data["runs"]]
            device = dict(data["device"])
        except (KeyError, TypeError, ValueError) as err:
            raise LatencyError(f"{name}: a malformed latency table ({err!r})") from None
        return cls(device, runs, name)

    def to_json(self) -> dict[str, Any]:
        runs = [self.runs[k].to_json() for k in sorted(self.runs)]
        return {"schema": SCHEMA, "device": self.device, "runs": runs}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1) + "\n"

    # ---- combining --------------------------------------------------------------------
    def same_device(self, other: LatencyTable) -> str | None:
        """None when `other` was measured on this device, else what differs."""
        for k in DEVICE_KEYS:
            if self.device.get(k) != other.device.get(k):
                return f"{k}: {self.device.get(k)!r} here, {other.device.get(k)!r} there"
        return None

    def merge(self, other: LatencyTable) -> None:
        """Add `other`'s measurements (same device only); a unit in both keeps the one with
        more repeats, and each run's scale is refitted on the union of its networks."""
        differs = self.same_device(other)
        if differs is not None:
            raise LatencyError(
                f"{other.name} was measured on another device than {self.name} ({differs})"
            )
        for key, run in other.runs.items():
            mine = self.runs.get(key)
            if mine is None:
                self.runs[key] = mine = Run(run.runtime, run.batch, run.layout, run.call_ms)
            for k, e in run.entries.items():
                if k not in mine.entries or e.repeats > mine.entries[k].repeats:
                    mine.entries[k] = e
            mine.networks.update(run.networks)
            mine.fit()

    def run(
        self, runtime: str | None = None, batch: int | None = None, layout: str | None = None
    ) -> Run:
        """The run for `runtime`, `batch` and `layout`, any of them left out when the table
        has one run that fits."""
        fits = [
            r
            for r in self.runs.values()
            if (runtime is None or r.runtime == runtime)
            and (batch is None or r.batch == batch)
            and (layout is None or r.layout == layout)
        ]
        if len(fits) == 1:
            return fits[0]
        have = ", ".join(f"`{r.name}`" for r in self.runs.values()) or "none"
        asked = ", ".join(
            f"{k} {v}"
            for k, v in (("runtime", runtime), ("batch", batch), ("layout", layout))
            if v is not None
        )
        if not fits:
            raise LatencyError(
                f"{self.name} has no run for {asked or 'this'} (it has: {have}); profile with "
                "--runtime, --batch and --layout"
            )
        raise LatencyError(
            f"{self.name} has several runs ({have}): choose one with --runtime, --batch or --layout"
        )


def _run(data: Mapping[str, Any]) -> Run:
    runtime, layout, batch = data["runtime"], data["layout"], int(data["batch"])
    if runtime not in RUNTIMES or layout not in LAYOUTS or batch < 1:
        raise ValueError(f"run {runtime}/{batch}/{layout}")
    entries = {
        str(k): Entry(
            float(e["median_ms"]), float(e["spread_ms"]), int(e["repeats"]), str(e["label"])
        )
        for k, e in data["entries"].items()
    }
    if not all(math.isfinite(e.median_ms) and e.median_ms >= 0 for e in entries.values()):
        raise ValueError("a time that is not a finite number >= 0")
    networks = {
        str(n["name"]): Network(
            str(n["name"]),
            float(n["measured_ms"]),
            float(n["first_ms"]),
            float(n["summed_ms"]),
            int(n["units"]),
        )
        for n in data.get("networks", ())
    }
    run = Run(runtime, batch, layout, float(data["call_ms"]), entries, networks)
    run.scale, run.per_unit_ms = float(data["scale"]), float(data.get("per_unit_ms", 0.0))
    model = (run.call_ms, run.scale, run.per_unit_ms)
    if not all(math.isfinite(v) and v >= 0 for v in model) or not run.scale:
        raise ValueError(f"a model (call, scale, per unit) of {model}")  # NaN would pass any <=
    return run


# ---- prediction ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prediction:
    """A network's predicted latency: the total, each unit's share by the cost tree's path of
    its first layer (a merge: its composite's), and which layers ride in another's unit."""

    total_ms: float
    call_ms: float
    scale: float
    per_unit_ms: float
    own: dict[str, float]
    fused: dict[str, str]
    run: str
    table: str


# adds the units' entries to the run; the network is the one they come from
Measure = Callable[[Run, list[Unit], ir.Network], None]


class LatencyModel:
    """One run of a table as a cost: `total(net)` for search loops, `predict(net)` for the
    report.  `measure`, when given, profiles what the table lacks instead of refusing."""

    def __init__(self, table: LatencyTable, run: Run, measure: Measure | None = None):
        self.table, self.run, self.measure = table, run, measure
        self.measured = 0  # units profiled on demand

    def form(self, net: ir.Network) -> ir.Network:
        """What the run's runtime executes of `net`: the deploy form for `deploy` and
        `onnxruntime` (its units are other units: BatchNorm folded, `rep:` merged)."""
        if self.run.runtime == "eager" or net.deploy:
            return net
        from .fold import fold

        return fold(net)

    def total(self, net: ir.Network) -> float:
        """Predicted milliseconds of one forward of `net`."""
        net = self.form(net)
        keys = network_keys(net.body)
        try:
            return self.run.predict(keys)
        except KeyError:
            self._fill(net)
            return self.run.predict(keys)

    def predict(self, net: ir.Network) -> Prediction:
        """The total and each unit's share, for the per-layer report (of the form the
        runtime runs: the deploy form's paths for `deploy` and `onnxruntime`)."""
        fused: dict[str, str] = {}
        folded = self.form(net)
        if folded is not net:  # the BatchNorms the deploy form folds ride in their conv's unit
            for u in units(net.body):
                fused.update((p, u.path) for p in u.fused)
        self._fill(folded)
        run = self.run
        own: dict[str, float] = {}
        for u in units(folded.body):
            t = run.entries[u.key].median_ms
            if not u.first:
                t = run.scale * max(t - run.call_ms, 0.0) + run.per_unit_ms
            own[u.path] = own.get(u.path, 0.0) + t
            fused.update((p, u.path) for p in u.fused)
        total = sum(own.values()) if own else run.call_ms
        return Prediction(
            total, run.call_ms, run.scale, run.per_unit_ms, own, fused, run.name, self.table.name
        )

    def _fill(self, net: ir.Network) -> None:
        """Profile the missing units (with `measure`), or refuse naming them."""
        entries = self.run.entries
        missing: dict[str, Unit] = {}
        for u in units(net.body):
            if u.key not in entries:
                missing.setdefault(u.key, u)
        if not missing:
            return
        if self.measure is None:
            raise MissingConfigs(self.table.name, self.run, list(missing.values()))
        self.measure(self.run, list(missing.values()), net)
        self.measured += len(missing)


def load_model(
    table: LatencyTable | str | os.PathLike[str],
    runtime: str | None = None,
    batch: int | None = None,
    layout: str | None = None,
    measure: Measure | None = None,
) -> LatencyModel:
    """The model of one run of `table` (a LatencyTable or its file); `measure` profiles
    what the table lacks (`specgen.latency_model(..., profile_missing=True)` makes one)."""
    if not isinstance(table, LatencyTable):
        table = LatencyTable.load(table)
    return LatencyModel(table, table.run(runtime, batch, layout), measure)
