"""Copies made by generated ShuffleNets in NCHW and channels_last, and whether every
intermediate activation stays channels_last.

    python bench/channels_last.py [--networks ...] [--batch 1] [--iters 10] [--markdown]

Layout conversions hide inside operators (a convolution handed a tensor that is not dense in
its memory format copies it first), so they are found with `torch.profiler`: every
`aten::copy_` (the kernel under `contiguous`, `clone`, `to`, `reshape`) is attributed to its
callers: a convolution making its input dense, the channel shuffle (`reshape` / `contiguous`),
a bias broadcast into a conv or linear output (inherent, tiny), or other.  Counts and bytes
do not depend on the machine's load; the self times do.  `aten::cat` is listed beside them
(it writes a new tensor too).  torchvision's ShuffleNet V2 is profiled alongside when it is
installed.  Then forward pre-hooks and hooks on every module of the channels_last model
report each module whose input or output is not channels_last-contiguous: an input that is
not means the module may copy it, an output that is not means the next layer may have to.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

import specgen
from specgen.targets.deploy import fold_torch

ROOT = Path(__file__).resolve().parent.parent
NETWORKS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "ShuffleNet V1 g=3": ("shufflenet_v1.conv", {"g": 3}, None),
    "ShuffleNet V2 x1.0": ("shufflenet_v2.conv", {}, "shufflenet_v2_x1_0"),
}
KINDS = ("conv input", "shuffle", "bias", "other")


def _torchvision() -> Any:
    """torchvision.models through bench/torchvision_bench.py's importer, or None."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return None
    except Exception:  # noqa: BLE001 - a mismatched wheel: the importer copes with it
        pass
    spec = importlib.util.spec_from_file_location(
        "torchvision_bench", ROOT / "bench" / "torchvision_bench.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.import_torchvision()


def models(name: str) -> Iterator[tuple[str, nn.Module, list[int]]]:
    """The eager and deploy forms of `name`, with the same (random) weights, and torchvision's
    model of the same network where there is one and torchvision is installed."""
    file, params, reference = NETWORKS[name]
    net = specgen.compile(ROOT / "examples" / file, params)
    torch.manual_seed(0)
    eager = net.to_torch().eval()
    deploy = net.deploy().to_torch().eval()
    deploy.load_state_dict(fold_torch(net.ir, eager.state_dict()), strict=True)
    shape = net.input_shape.as_list()
    yield "eager", eager, shape
    yield "deploy", deploy, shape
    tv = _torchvision() if reference else None
    if tv is not None:
        yield "torchvision", getattr(tv, reference)(weights=None).eval(), shape


def _kind(event: Any) -> str:
    """What an aten::copy_ is for, from the operators that called it."""
    callers = []
    parent = event.cpu_parent
    while parent is not None:
        callers.append(parent.name)
        parent = parent.cpu_parent
    # nn.Conv2d's path, and DeployConv2d's oneDNN one (which makes its input dense itself)
    convs = {"aten::_convolution", "mkldnn::_convolution_pointwise"}
    if convs & set(callers) and "aten::contiguous" in callers:
        return "conv input"
    if {"aten::_slow_conv2d_forward", "aten::addmm"} & set(callers):
        return "bias"
    if {"aten::reshape", "aten::contiguous"} & set(callers):
        return "shuffle"
    return "other"


def copy_profile(model: nn.Module, x: torch.Tensor, iters: int) -> dict[str, float]:
    """Per forward: copies of each kind (calls, MiB, self ms), aten::cat (calls, self ms) and
    the total profiled self time (ms)."""
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(iters):
                model(x)
    out: Counter[str] = Counter()
    for ev in prof.events():
        out["total ms"] += ev.self_cpu_time_total / 1e3
        if ev.name == "aten::copy_":
            kind = _kind(ev)
            mib = 4 * math.prod(ev.input_shapes[0]) / 2**20 if ev.input_shapes else 0.0
        elif ev.name == "aten::cat":
            kind, mib = "cat", 0.0  # the profiler records no shapes for a tensor list
        else:
            continue
        out[f"{kind} calls"] += 1
        out[f"{kind} MiB"] += mib
        out[f"{kind} ms"] += ev.self_cpu_time_total / 1e3
    return {k: v / iters for k, v in out.items()}


def layout_report(
    model: nn.Module, x: torch.Tensor
) -> list[tuple[str, str, str, tuple[int, ...]]]:
    """(input or output, module name, class, strides) for every 4-D module input or output
    of a channels_last model that is not channels_last-contiguous."""
    bad: list[tuple[str, str, str, tuple[int, ...]]] = []

    def check(where: str, name: str, t: Any) -> None:
        if (
            isinstance(t, torch.Tensor)
            and t.dim() == 4
            and not t.is_contiguous(memory_format=torch.channels_last)
        ):
            bad.append((where, name, type_of[name], t.stride()))

    type_of = {name: type(m).__name__ for name, m in model.named_modules()}

    def pre_hook(name: str) -> Any:
        def hook(mod: nn.Module, args: tuple) -> None:
            for a in args:
                check("input", name, a)

        return hook

    def post_hook(name: str) -> Any:
        return lambda mod, args, out: check("output", name, out)

    handles = []
    for name, m in model.named_modules():
        if name:
            handles.append(m.register_forward_pre_hook(pre_hook(name)))
            handles.append(m.register_forward_hook(post_hook(name)))
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return bad


def _group(lines: list[tuple[str, str, str, tuple[int, ...]]]) -> list[str]:
    """Reports of repeated modules folded into one line each (digits become `*`)."""
    groups: dict[tuple[str, str, str], list[tuple[str, tuple[int, ...]]]] = {}
    for where, name, cls, stride in lines:
        groups.setdefault((where, re.sub(r"\d+", "*", name), cls), []).append((name, stride))
    return [
        f"{len(items)}x {where} of {pattern} ({cls}), e.g. {items[0][0]} strides {items[0][1]}"
        for (where, pattern, cls), items in groups.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    reports = []
    for name in args.networks:
        for form, model, shape in models(name):
            x = torch.randn(args.batch, *shape)
            for layout in ("NCHW", "channels_last"):
                if layout == "channels_last":
                    model = model.to(memory_format=torch.channels_last)
                    x = x.to(memory_format=torch.channels_last)
                    reports.append((name, form, layout_report(model, x)))
                rows.append((name, form, layout, copy_profile(model, x, args.iters)))
    heads = [*KINDS, "cat"]
    if args.markdown:
        print(
            "| network | form | layout | "
            + " | ".join(f"{h}: calls, MiB, ms" for h in heads)
            + " | profiled ms/forward |"
        )
        print("|---|---|---|" + "---|" * (len(heads) + 1))
    for name, form, layout, r in rows:
        cells = [
            (
                f"{r[h + ' calls']:g}, {'-' if h == 'cat' else format(r[h + ' MiB'], '.2f')}, "
                f"{r[h + ' ms']:.2f}"
                if r.get(h + " calls")
                else "0"
            )
            for h in heads
        ]
        if args.markdown:
            print(
                f"| {name} | {form} | {layout} | "
                + " | ".join(cells)
                + f" | {r['total ms']:.1f} |"
            )
        else:
            print(f"{name:18s} {form:11s} {layout:13s} profiled {r['total ms']:7.2f} ms/forward")
            for h, cell in zip(heads, cells, strict=True):
                print(f"    {h:10s} (calls, MiB, self ms per forward): {cell}")
    print()
    for name, form, bad in reports:
        if not bad:
            print(f"{name} {form}, channels_last: every module input and output channels_last")
            continue
        print(f"{name} {form}, channels_last: {len(bad)} module inputs/outputs are not:")
        for line in _group(bad):
            print(f"    {line}")


if __name__ == "__main__":
    main()
