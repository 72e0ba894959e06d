"""Search-space throughput: a 10,000-point grid evaluated through `space.grid()` /
`space.evaluate`, and what a trial costs on top of that when Optuna drives the loop.  One
process, one thread.

    python bench/search_space.py [--trials 300] [--markdown]

The grid: examples/shufflenet_search.conv with its domains widened to 5 group counts x 16
widths x 5 x 5 x 5 stage depths = 10,000 points.  Optuna: the same space, `random` and `tpe`
samplers, in-memory storage; the overhead is Optuna's time per trial beyond evaluating the
candidate (the objective reads the compiled network's MACs).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import specgen

ROOT = Path(__file__).resolve().parent.parent
WIDE = {
    "width: uniform(0.5, 2.0, step=0.25) = 1.0": "width: uniform(0.25, 2.125, step=0.125) = 1.0",
    "depths: [choice(1, 2, 3, 4), choice(3, 5, 7, 9), choice(1, 2, 3, 4)] = [3, 7, 3]": (
        "depths: [choice(1, 2, 3, 4, 5), choice(3, 5, 7, 9, 11), choice(1, 2, 3, 4, 5)] = [3, 7, 3]"
    ),
    "constraint macs <= 140e6": "constraint macs <= 300e6",
}


def wide_space() -> specgen.Space:
    text = (ROOT / "examples" / "shufflenet_search.conv").read_text()
    for old, new in WIDE.items():
        assert old in text, old
        text = text.replace(old, new)
    return specgen.space(text)


def grid(space: specgen.Space) -> dict[str, float]:
    start = time.perf_counter()
    n = feasible = invalid = 0
    for point in space.grid():
        net = space.evaluate(point)
        n += 1
        if isinstance(net, specgen.SpecError):
            invalid += 1
        elif net.feasible:
            feasible += 1
    seconds = time.perf_counter() - start
    return {"points": n, "seconds": seconds, "per_s": n / seconds, "feasible": feasible,
            "invalid": invalid}  # fmt: skip


def optuna_overhead(space: specgen.Space, trials: int, sampler: str) -> dict[str, float]:
    """Seconds per trial with Optuna, and without it for the same points."""
    study = space.optimize(lambda net: net.cost.macs, n_trials=trials, sampler=sampler, seed=0)
    points = [t.user_attrs["point"] for t in study.trials]
    elapsed = [
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in study.trials
        if t.datetime_complete is not None
    ]
    start = time.perf_counter()
    macs = [getattr(space.evaluate(p), "cost", None) for p in points]
    assert len(macs) == len(points)
    plain = (time.perf_counter() - start) / len(points)
    # the whole study's wall time per trial, measured again end to end
    start = time.perf_counter()
    space.optimize(lambda net: net.cost.macs, n_trials=trials, sampler=sampler, seed=1)
    total = (time.perf_counter() - start) / trials
    return {"optuna_per_trial": total, "evaluate_per_trial": plain,
            "overhead_per_trial": total - plain, "trial_body": sum(elapsed) / len(elapsed)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    space = wide_space()
    assert space.size == 10_000, space.size
    g = grid(space)
    rows = [(s, optuna_overhead(space, args.trials, s)) for s in ("random", "tpe")]
    if args.markdown:
        print("| measure | value |\n|---|---|")
        print(f"| grid of {g['points']:,} points, evaluated | {g['seconds']:.2f} s "
              f"({g['per_s']:,.0f} /s; {g['feasible']:,} feasible, {g['invalid']} invalid) |")  # fmt: skip
        for s, r in rows:
            print(f"| Optuna `{s}`, {args.trials} trials: time per trial | "
                  f"{r['optuna_per_trial'] * 1e3:.2f} ms (evaluation alone "
                  f"{r['evaluate_per_trial'] * 1e3:.2f} ms; Optuna's overhead "
                  f"{r['overhead_per_trial'] * 1e3:.2f} ms) |")  # fmt: skip
    else:
        print(g)
        for s, r in rows:
            print(s, r)


if __name__ == "__main__":
    main()
