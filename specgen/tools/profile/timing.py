"""Timing callables: warm-up, then repeated samples of enough calls each to rise above the
clock's resolution, reported as the median per call and the interquartile range.

Many callables are timed in interleaved rounds (each round takes one sample of every
callable), so that drift in the machine's speed over a long profile (another process, the
clock frequency) touches every unit and network alike instead of whichever ran then.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Progress = Callable[[int, int, str], None]  # (done, total, what is being done)


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


def _calls_per_sample(fn: Callable[[], object], timing: Timing) -> int:
    """Warm `fn` up and say how many calls make one sample of at least `sample_s`."""
    start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - start < timing.warmup_s:
        fn()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    return max(1, int(timing.sample_s / max(per_call, 1e-9)))


def _sample(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) * 1e3 / n


def _summary(samples: list[float]) -> tuple[float, float]:
    median = statistics.median(samples)
    if len(samples) >= 4:
        q = statistics.quantiles(samples, n=4)
        return median, q[2] - q[0]
    return median, max(samples) - min(samples)


def time_call(fn: Callable[[], object], timing: Timing = Timing()) -> tuple[float, float]:
    """(median ms per call, interquartile range in ms) of `fn()`."""
    n = _calls_per_sample(fn, timing)
    return _summary([_sample(fn, n) for _ in range(timing.repeats)])


def time_rounds(
    fns: Sequence[Callable[[], object]],
    timing: Timing = Timing(),
    progress: Progress | None = None,
) -> list[tuple[float, float]]:
    """(median ms per call, interquartile range) of each of `fns`, timed in `repeats`
    interleaved rounds after each one's warm-up."""
    counts = []
    for i, fn in enumerate(fns):
        if progress is not None and i % 16 == 0:
            progress(i, len(fns), "warming up")
        counts.append(_calls_per_sample(fn, timing))
    samples: list[list[float]] = [[] for _ in fns]
    for r in range(timing.repeats):
        if progress is not None:
            progress(r, timing.repeats, f"round {r + 1} of {timing.repeats}")
        for fn, n, mine in zip(fns, counts, samples, strict=True):
            mine.append(_sample(fn, n))
    return [_summary(s) for s in samples]
