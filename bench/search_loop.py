"""Search-loop throughput: candidate evaluations per second (compile with new parameter values,
read params and MACs), side by side with building the same nn.Module and counting it with
FlopCounterMode.  One process, one thread.

    python bench/search_loop.py [--seconds 3] [--markdown] [--only ResNeXt]

`warm`: the loop revisits parameter values (a search over a discrete space); block
instantiations seen before are reused.  `cold`: every candidate is new to the process — the
worst case: the caches of block instantiations and of layer lines, the only ones that depend
on parameter values, are emptied before each one (what depends only on the spec's text, its
parse and analysis, is kept, as in any search).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import specgen
from specgen.compiler import _front
from specgen.language.source import read_source

ROOT = Path(__file__).resolve().parent.parent
# label -> (spec, the parameter searched, its values, the other parameters given)
CASES: dict[str, tuple[str, str, list, dict]] = {
    "ShuffleNet V1 (g in 1,2,3,4,8)": ("shufflenet_v1.conv", "g", [1, 2, 3, 4, 8], {}),
    "MobileNet V1 (width in 0.25..1.0)": (
        "mobilenet_v1.conv",
        "width",
        [0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0],
        {},
    ),
    # families written with for / if / comprehensions (examples/*.conv)
    "MobileNet V2 (width in 0.25..1.4; for, if)": (
        "mobilenet_v2.conv",
        "width",
        [0.25, 0.5, 0.75, 1.0, 1.4],
        {},
    ),
    "ResNet (depth in 18..152; for, if)": ("resnet.conv", "depth", [18, 34, 50, 101, 152], {}),
    # a ResNeXt-50-sized network (16 bottlenecks of grouped convs, 32 groups) whose width
    # changes every block: no instantiation of one candidate serves another
    "ResNeXt-50 32xW (width_per_group in 4..8; for, if)": (
        "resnet.conv",
        "width_per_group",
        [4, 5, 6, 7, 8],
        {"depth": 50, "groups": 32},
    ),
    "RegNet (wa in 20..36; design rule)": (
        "regnet.conv",
        "wa",
        [20.0, 24.48, 28.0, 32.0, 36.0],
        {},
    ),
}


def rate(fn, seconds: float) -> float:
    """Calls per second of `fn`, over at least `seconds`."""
    fn()
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            fn()
        n += 10
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def measure(file: str, param: str, values: list, fixed: dict, seconds: float) -> dict[str, float]:
    text = (ROOT / "examples" / file).read_text()
    cycle = itertools.cycle([{**fixed, param: v} for v in values])
    source = read_source(text)
    analysis = _front(source.text, source.filename)[1]  # the one `compile` finds in its cache

    def warm():
        net = specgen.compile(text, next(cycle))
        return net.cost.params, net.cost.macs

    def cold():
        analysis.blocks.clear()
        analysis.lines.clear()
        return warm()

    result = {"warm": rate(warm, seconds)}
    if not (analysis.blocks or analysis.lines):  # else `cold` would empty caches nobody uses
        raise RuntimeError(f"{file}: the compiles did not use the analysis this bench empties")
    result["cold"] = rate(cold, seconds)
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:
        return result
    torch.set_num_threads(1)

    def build():
        return specgen.compile(text, next(cycle)).to_torch()

    def build_and_count():
        net = specgen.compile(text, next(cycle))
        model = net.to_torch().eval()
        x = torch.zeros(1, *net.input_shape.as_list())
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2

    result["nn.Module"] = rate(build, seconds)
    result["nn.Module + FlopCounterMode"] = rate(build_and_count, seconds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--only", default="", help="the cases whose label contains this text")
    args = parser.parse_args()
    rows = []
    for label, (file, param, values, fixed) in CASES.items():
        if args.only.lower() not in label.lower():
            continue
        r = measure(file, param, values, fixed, args.seconds)
        rows.append((label, r))
    if args.markdown:
        cols = ["cold", "warm", "nn.Module", "nn.Module + FlopCounterMode"]
        print("| spec | " + " | ".join(f"{c} (/s)" for c in cols) + " | cold ÷ module+count |")
        print("|---" * (len(cols) + 2) + "|")
        for label, r in rows:
            cells = [f"{r[c]:,.0f}" if c in r else "n/a" for c in cols]
            ratio = r["cold"] / r["nn.Module + FlopCounterMode"] if len(r) > 2 else float("nan")
            print(f"| {label} | " + " | ".join(cells) + f" | {ratio:,.0f}× |")
    else:
        for label, r in rows:
            print(label)
            for k, v in r.items():
                print(f"  {k:30s} {v:10,.1f} evaluations/s")


if __name__ == "__main__":
    main()
