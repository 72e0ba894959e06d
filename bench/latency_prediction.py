"""How well a latency table predicts end-to-end latency (docs/latency.md, issue 23).

    python bench/latency_prediction.py [--runtime deploy eager onnxruntime] [--threads 2]
        [--candidates 50] [--seed 0] [--repeats 15] [--markdown] [--json FILE]

For every example at its defaults and `--candidates` random points of each shipped search
space (examples/*_search.conv), on this machine, in one process:

1. `specgen profile` measures every distinct unit once (`specgen.tools.profile.Profiler`) and
   times the examples whole, which fits the run's scale (what `specgen profile EXAMPLES`
   does);
2. every network (examples and candidates) is timed end to end in the same interleaved
   rounds as the units (each round takes one sample of every unit and network), so that
   drift in the machine's speed touches all alike;
3. the table's prediction (`LatencyModel.total`) is compared with that measurement: median and
   maximum relative error, over the examples, over the candidates (whose points the scale
   never saw) and over all; and the rank correlation (Kendall's tau-b) with the measured
   latencies of the prediction, of MACs and of memory traffic.

The networks of each search space are also ranked among themselves: that is the ranking a
search under a latency budget relies on.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import specgen
from specgen.passes.latency import LatencyModel
from specgen.passes.units import network_keys
from specgen.tools.profile import Profiler, Timing

ROOT = Path(__file__).resolve().parent.parent
SPACES = ("shufflenet_search.conv", "igc_search.conv")


def kendall_tau(x: list[float], y: list[float]) -> float:
    """Kendall's tau-b (ties counted as in scipy.stats.kendalltau)."""
    n, concordant, discordant, tx, ty = len(x), 0, 0, 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            a, b = x[i] - x[j], y[i] - y[j]
            if a == 0 and b == 0:
                continue
            if a == 0:
                tx += 1
            elif b == 0:
                ty += 1
            elif (a > 0) == (b > 0):
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + tx) * (concordant + discordant + ty))
    return (concordant - discordant) / denom if denom else float("nan")


def networks(
    candidates: int, seed: int
) -> tuple[list[tuple[str, object]], list[tuple[str, object]]]:
    """(examples at their defaults, search-space candidates), each as (name, Network)."""
    examples = []
    for path in sorted((ROOT / "examples").glob("*.conv")):
        examples.append((path.stem, specgen.compile(path)))
    points = []
    for file in SPACES:
        space = specgen.space(ROOT / "examples" / file)
        for point in space.sample(candidates * 3, seed=seed):
            net = space.evaluate(point)
            if isinstance(net, specgen.SpecError):
                continue
            args = ",".join(f"{k}={v}" for k, v in point.items())
            points.append((f"{Path(file).stem}({args})", net))
            if sum(name.startswith(Path(file).stem) for name, _ in points) == candidates:
                break
    return examples, points


def errors(pred: list[float], meas: list[float]) -> tuple[float, float]:
    rel = [abs(p - m) / m for p, m in zip(pred, meas, strict=True)]
    return statistics.median(rel), max(rel)


def evaluate(runtime: str, args: argparse.Namespace) -> dict:
    examples, points = networks(args.candidates, args.seed)
    every = examples + points
    timing = Timing(repeats=args.repeats)
    profiler = Profiler(runtime, 1, "nchw", "cpu", args.threads, timing)
    start = time.perf_counter()
    todo = profiler.missing(net for _, net in every)
    # the units and every network in the same interleaved rounds; the model is fitted on
    # the examples only (what `specgen profile examples/*.conv` does): the candidates'
    # points are never seen by the fit
    measured = profiler.measure(todo, networks=every)
    run = profiler.run
    for name, _ in points:
        del run.networks[name]
    run.fit()
    profile_s = time.perf_counter() - start
    model = LatencyModel(profiler.table, run)
    rows = []
    for name, net in every:
        rows.append(
            {
                "name": name,
                "example": any(name == e for e, _ in examples),
                "measured_ms": measured[name][0],
                "predicted_ms": model.total(net.ir),
                "first_ms": run.entries[
                    (keys := network_keys(model.form(net.ir).body))[0]
                ].median_ms,
                "summed_ms": run.summed(keys[1:]),
                "units": len(keys),
                "macs": net.cost.macs,
                "traffic": net.cost.traffic,
            }
        )
    summary = {"runtime": runtime, "units": len(todo), "profile_s": profile_s}
    summary["call_ms"], summary["scale"] = run.call_ms, run.scale
    summary["per_unit_ms"] = run.per_unit_ms
    groups = {
        "examples": [r for r in rows if r["example"]],
        "candidates": [r for r in rows if not r["example"]],
        "all": rows,
    }
    for space in SPACES:
        stem = Path(space).stem
        groups[stem] = [r for r in rows if r["name"].startswith(stem + "(")]
    for key, group in groups.items():
        if len(group) < 2:
            continue
        meas = [r["measured_ms"] for r in group]
        pred = [r["predicted_ms"] for r in group]
        med, worst = errors(pred, meas)
        summary[key] = {
            "n": len(group),
            "median_error": med,
            "max_error": worst,
            "tau_latency": kendall_tau(pred, meas),
            "tau_macs": kendall_tau([r["macs"] for r in group], meas),
            "tau_traffic": kendall_tau([r["traffic"] for r in group], meas),
        }
    return {"summary": summary, "rows": rows, "device": profiler.table.device}


def markdown(results: list[dict]) -> str:
    out = [
        "| runtime | networks | n | median error | max error | τ latency | τ MACs | τ traffic |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["summary"]
        for key in ("examples", "candidates", "all", *(Path(x).stem for x in SPACES)):
            if key in s:
                g = s[key]
                out.append(
                    f"| {s['runtime']} | {key} | {g['n']} | {100 * g['median_error']:.1f}% | "
                    f"{100 * g['max_error']:.1f}% | {g['tau_latency']:.3f} | "
                    f"{g['tau_macs']:.3f} | {g['tau_traffic']:.3f} |"
                )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runtime", nargs="+", default=["deploy", "eager", "onnxruntime"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--candidates", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    results = []
    for runtime in args.runtime:
        result = evaluate(runtime, args)
        results.append(result)
        s = result["summary"]
        print(
            f"{runtime}: {s['units']} units profiled in {s['profile_s']:.0f} s, call "
            f"{s['call_ms']:.4f} ms, scale {s['scale']:.3f}, per unit {s['per_unit_ms']:.4f} ms",
            file=sys.stderr,
        )
        for row in sorted(result["rows"], key=lambda r: r["measured_ms"]):
            err = row["predicted_ms"] / row["measured_ms"] - 1
            print(
                f"  {row['name'][:60]:60s} {row['measured_ms']:9.3f} {row['predicted_ms']:9.3f}"
                f" {100 * err:+6.1f}%",
                file=sys.stderr,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(
        markdown(results)
        if args.markdown
        else json.dumps([r["summary"] for r in results], indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
