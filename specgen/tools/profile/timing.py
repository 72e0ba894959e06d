"""Timing one callable: warm-up, then repeated samples of enough calls each to rise above the
clock's resolution, reported as the median per call and the interquartile range."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timing:
    """How long to measure: `repeats` samples of at least `sample_s` each, after `warmup_s`
    (and at least three calls) of warm-up."""

    repeats: int = 15
    sample_s: float = 0.002
    warmup_s: float = 0.02

    @classmethod
    def quick(cls) -> Timing:
        """A coarse measurement for tests and trials."""
        return cls(repeats=5, sample_s=0.0005, warmup_s=0.002)


def time_call(fn: Callable[[], object], timing: Timing = Timing()) -> tuple[float, float]:
    """(median ms per call, interquartile range in ms) of `fn()`."""
    start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - start < timing.warmup_s:
        fn()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    n = max(1, int(timing.sample_s / max(per_call, 1e-9)))
    samples = []
    for _ in range(timing.repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) * 1e3 / n)
    median = statistics.median(samples)
    if len(samples) >= 4:
        q = statistics.quantiles(samples, n=4)
        spread = q[2] - q[0]
    else:
        spread = max(samples) - min(samples)
    return median, spread
