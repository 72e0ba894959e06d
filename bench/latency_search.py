"""ShuffleNet V2's point with specgen (docs/latency.md, "A worked example"): networks of equal
MACs run at different speeds, and a search under a latency budget picks another winner than
a search under a MACs budget.

    python bench/latency_search.py [--threads 1] [--runtime deploy] [--repeats 21]

1. profiles every point of examples/shufflenet_search.conv (2,240 points: `specgen profile
   --grid`) into one latency table;
2. searches the whole grid for the most parameters under the spec's MACs budget (140 M),
   and again, with that budget lifted, under the predicted latency of the first winner;
3. finds the pair of points whose MACs differ least among those whose predicted latencies
   differ most;
4. measures the two winners and the pair again, their units and themselves end to end in
   the same interleaved rounds (the machine's speed drifts between the grid's profile and
   then), and prints each one's params, MACs, memory traffic, predicted and measured
   latency.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import specgen
from specgen.passes.latency import LatencyModel
from specgen.tools.profile import Profiler, Timing

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "examples" / "shufflenet_search.conv"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runtime", default="deploy")
    p.add_argument("--repeats", type=int, default=21)
    args = p.parse_args(argv)

    profiler = Profiler(args.runtime, threads=args.threads)
    space = specgen.space(SPACE)
    nets = [space.evaluate(point) for point in space.grid()]
    profiler.measure(profiler.missing(nets))
    model = LatencyModel(profiler.table, profiler.run)
    print(f"{len(profiler.run.entries)} configurations measured", file=sys.stderr)

    by_macs = specgen.space(SPACE, latency=model).run(["max:params"], sampler="grid")
    a = max((c for c in by_macs if c.feasible), key=lambda c: c.cost["params"])
    budget = a.cost["latency"]
    lifted = specgen.space(SPACE, {"budget": 1e12}, latency=model)
    by_latency = lifted.run(["max:params"], sampler="grid", constraints=[f"latency <= {budget}"])
    b = max((c for c in by_latency if c.feasible), key=lambda c: c.cost["params"])

    rows = [(n.cost.macs, model.total(n.ir), n) for n in nets]
    rows.sort(key=lambda r: r[0])
    pair = max(
        (
            (max(x[1], y[1]) / min(x[1], y[1]), x[2], y[2])
            for x, y in zip(rows, rows[1:], strict=False)
            if (y[0] - x[0]) / x[0] < 0.001
        ),
        key=lambda t: t[0],
    )
    fast, slow = sorted(pair[1:], key=lambda n: model.total(n.ir))
    shown = [
        ("MACs-budget winner", specgen.compile(SPACE, {**a.point, "budget": 1e12})),
        ("latency-budget winner", specgen.compile(SPACE, {**b.point, "budget": 1e12})),
        ("equal MACs, fast", fast),
        ("equal MACs, slow", slow),
    ]
    # the four networks' units measured again in the same rounds as the networks themselves:
    # the machine's speed drifts between the grid's profile and now, and a prediction is
    # only as good as the table's moment
    again = Profiler(args.runtime, threads=args.threads, timing=Timing(repeats=args.repeats))
    nets4 = [n for _, n in shown]
    times = list(again.measure(again.missing(nets4), networks=[(w, n) for w, n in shown]).values())
    model = LatencyModel(again.table, again.run)
    print(f"the latency budget: {budget:.2f} ms (the MACs winner's prediction)")
    print("| network | point | params | MACs | traffic | predicted | measured |")
    print("|---|---|---|---|---|---|---|")
    for (what, net), (median, spread) in zip(shown, times, strict=True):
        point = ", ".join(f"{k}={v}" for k, v in net.params.items() if k in space.names)
        print(
            f"| {what} | {point} | {net.cost.params:,} | {net.cost.macs / 1e6:.1f} M | "
            f"{net.cost.traffic / 2**20:.0f} MiB | {model.total(net.ir):.1f} ms | "
            f"{median:.1f} ms ± {spread / 2:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
