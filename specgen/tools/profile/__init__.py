"""`specgen profile`: measuring each distinct unit configuration of specs on this machine, with
the runtime that will run it, into a latency table (`specgen.passes.latency`).

    table = profile([specgen.compile("examples/mobilenet_v2.conv")], runtime="deploy")
    table.dumps()  # the JSON of docs/latency.md

The modules: `timing` (warm-up, repeats, median and spread), `runners` (a unit or a whole
network as a callable for PyTorch eager, the deploy form or ONNX Runtime), `device` (the tag a
table carries) and `profiler` (what to measure, once each, and the fit).  PyTorch is imported
when a measurement starts, never by the core.
"""

from __future__ import annotations

import os
from typing import Any

from ...passes.latency import LatencyModel, LatencyTable, load_model
from .device import device_tag
from .profiler import Profiler, measure_missing, profile
from .timing import Timing, time_call, time_rounds

__all__ = [
    "Profiler",
    "Timing",
    "device_tag",
    "latency_model",
    "measure_missing",
    "profile",
    "time_call",
    "time_rounds",
]


def latency_model(
    table: LatencyTable | str | os.PathLike[str],
    runtime: str | None = None,
    batch: int | None = None,
    layout: str | None = None,
    *,
    profile_missing: bool = False,
) -> LatencyModel:
    """The cost model of one run of `table` (a LatencyTable or its file), for
    `specgen.compile(..., latency=...)` and `specgen.space(..., latency=...)`.

    `profile_missing=True` measures the configurations the table lacks on this machine
    when a network needs them (PyTorch is imported then, and this machine must be the one
    the table was measured on); otherwise such a network is a `MissingConfigs` error.
    """
    model = load_model(table, runtime, batch, layout)
    if profile_missing:
        run, tag = model.run, model.table.device
        device: Any = "cuda" if str(tag.get("device", "cpu")).startswith("cuda") else "cpu"
        profiler = Profiler(
            run.runtime, run.batch, run.layout, device, tag.get("threads"), table=model.table
        )
        model.measure = measure_missing(profiler)
    return model
