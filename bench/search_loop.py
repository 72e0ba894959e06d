"""Search-loop throughput: candidate evaluations per second (compile with new parameter values,
read params and MACs), side by side with building the same nn.Module and counting it with
FlopCounterMode.  One process, one thread.

    python bench/search_loop.py [--seconds 3] [--markdown]

`warm`: the loop revisits parameter values (a search over a discrete space); block
instantiations seen before are reused.  `cold`: every candidate is new to the process (the
block cache is emptied before each one) — the worst case.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import specgen
from specgen.compiler import _front

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "ShuffleNet V1 (g in 1,2,3,4,8)": ("shufflenet_v1.conv", "g", [1, 2, 3, 4, 8]),
    "MobileNet V1 (width in 0.25..1.0)": (
        "mobilenet_v1.conv",
        "width",
        [0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0],
    ),
    # families written with for / if / comprehensions (examples/*.conv)
    "MobileNet V2 (width in 0.25..1.4; for, if)": (
        "mobilenet_v2.conv",
        "width",
        [0.25, 0.5, 0.75, 1.0, 1.4],
    ),
    "ResNet (depth in 18..152; for, if)": ("resnet.conv", "depth", [18, 34, 50, 101, 152]),
    "RegNet (wa in 20..36; design rule)": ("regnet.conv", "wa", [20.0, 24.48, 28.0, 32.0, 36.0]),
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


def measure(file: str, param: str, values: list, seconds: float) -> dict[str, float]:
    text = (ROOT / "examples" / file).read_text()
    cycle = itertools.cycle(values)
    analysis = _front(text, "<spec>")[1]

    def warm():
        net = specgen.compile(text, {param: next(cycle)})
        return net.cost.params, net.cost.macs

    def cold():
        analysis.blocks.clear()
        analysis.lines.clear()
        return warm()

    result = {"warm": rate(warm, seconds), "cold": rate(cold, seconds)}
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:
        return result
    torch.set_num_threads(1)

    def build():
        return specgen.compile(text, {param: next(cycle)}).to_torch()

    def build_and_count():
        net = specgen.compile(text, {param: next(cycle)})
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
    args = parser.parse_args()
    rows = []
    for label, (file, param, values) in CASES.items():
        r = measure(file, param, values, args.seconds)
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
