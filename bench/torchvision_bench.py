"""Generated PyTorch networks side by side with torchvision's own models: same weights, same
input, one process, interleaved.

    python bench/torchvision_bench.py [--networks ...] [--batches 1 8] [--rounds 10]
                                      [--threads N] [--markdown]

For each network, torchvision's model (weights=None, eval) gets random BatchNorm statistics
(so that folding is not the identity), its state_dict is loaded into the generated eager module
by key (strict: the examples name their modules as torchvision does), the outputs are
compared, and the deploy form (every BatchNorm folded, `specgen.targets.deploy.fold_torch`) is derived
and compared too.  Then torchvision eager, generated eager and generated deploy are timed in
NCHW and channels_last under `torch.inference_mode()`: every configuration once per round,
round after round, and the figure is the median over rounds, so that drift in the machine's
speed affects all alike.

torchvision is a benchmark-only dependency.  Install it without letting pip touch torch:

    pip install --no-deps torchvision

(a wheel matching the installed torch; on a CPU build of torch, a wheel built against CUDA
torch still works here: its compiled operators fail to register but the model code imports,
see `import_torchvision`).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import specgen
from specgen.targets.deploy import fold_torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import torchvision_import as tv_import  # noqa: E402

LAYOUTS = ("NCHW", "channels_last")
KINDS = ("torchvision", "generated", "deploy")


def import_torchvision() -> Any:
    """`torchvision.models`, or exit with how to install it (a wheel built against another
    torch build imports too: see tests/torchvision_import.py)."""
    models = tv_import.import_torchvision("torchvision.models")
    if models is None:
        sys.exit(
            "torchvision is not installed (or cannot be imported); install it without touching "
            "torch:\n"
            "    pip install --no-deps torchvision   (or a torchvision wheel file)"
        )
    return models


# name: (example, params, torchvision constructor)
NETWORKS: dict[str, tuple[str, dict[str, Any], str]] = {
    "ResNet-50": ("resnet.conv", {"depth": 50}, "resnet50"),
    "ResNeXt-50 32x4d": ("resnet.conv", {"groups": 32, "width_per_group": 4}, "resnext50_32x4d"),
    "MobileNet V2": ("mobilenet_v2.conv", {}, "mobilenet_v2"),
    "ShuffleNet V2 x1.0": ("shufflenet_v2.conv", {}, "shufflenet_v2_x1_0"),
    "RegNetX-400MF": ("regnet.conv", {}, "regnet_x_400mf"),
}


def randomize_batchnorms(model: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters, so that the copied
    weights and the folded deploy form are really checked."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=gen))
                m.bias.copy_(0.2 * torch.rand(n, generator=gen) - 0.1)
                m.running_mean.copy_(0.2 * torch.rand(n, generator=gen) - 0.1)
                m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=gen))


def build(name: str) -> tuple[dict[str, nn.Module], dict[str, float]]:
    """The three models of `name` with the same weights, and their output differences."""
    models = import_torchvision()
    file, params, ctor = NETWORKS[name]
    torch.manual_seed(0)
    reference = getattr(models, ctor)(weights=None).eval()
    randomize_batchnorms(reference)
    net = specgen.compile(ROOT / "examples" / file, params)
    generated = net.to_torch().eval()
    generated.load_state_dict(reference.state_dict(), strict=True)
    deploy = net.deploy().to_torch().eval()
    deploy.load_state_dict(fold_torch(net.ir, generated.state_dict()), strict=True)
    x = torch.randn(2, *net.input_shape.as_list(), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ref, gen, dep = reference(x), generated(x), deploy(x)
    scale = ref.abs().max().item()
    diffs = {
        "generated max abs diff": (gen - ref).abs().max().item(),
        "deploy max abs diff": (dep - ref).abs().max().item(),
        "deploy rel diff": (dep - ref).abs().max().item() / scale,
        "output scale": scale,
    }
    if diffs["generated max abs diff"] > 1e-5 * max(1.0, scale):
        raise AssertionError(f"{name}: generated output differs from torchvision's: {diffs}")
    if diffs["deploy rel diff"] > 1e-5:
        raise AssertionError(f"{name}: deploy output differs from torchvision's: {diffs}")
    return {"torchvision": reference, "generated": generated, "deploy": deploy}, diffs


def _once(model: nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    model(x)
    return time.perf_counter() - start


def time_configs(
    models: dict[str, nn.Module], shape: list[int], batch: int, rounds: int, warmup: int = 3
) -> dict[tuple[str, str], list[float]]:
    """Seconds per forward of every (kind, layout), one per round, interleaved round-robin."""
    x = torch.randn(batch, *shape)
    configs: dict[tuple[str, str], tuple[nn.Module, torch.Tensor]] = {}
    for kind in KINDS:
        configs[(kind, "NCHW")] = (models[kind], x)
        last = copy.deepcopy(models[kind]).to(memory_format=torch.channels_last)
        configs[(kind, "channels_last")] = (last, x.to(memory_format=torch.channels_last))
    times: dict[tuple[str, str], list[float]] = {key: [] for key in configs}
    with torch.inference_mode():
        for _ in range(warmup):
            for model, inp in configs.values():
                model(inp)
        for _ in range(rounds):
            for key, (model, inp) in configs.items():
                times[key].append(_once(model, inp))
    return times


def report(
    results: list[tuple[str, int, dict[tuple[str, str], list[float]]]],
    stat: str,
    markdown: bool,
) -> None:
    """One table of `results` (per network and batch, every configuration's round times)
    summarized by `stat` ("median" or "min") over rounds."""
    reduce = statistics.median if stat == "median" else min
    if markdown:
        print(f"\n{stat} over rounds:\n")
        print(
            "| network | batch | layout | torchvision (ms) | generated (ms) | deploy (ms) "
            "| generated ÷ tv | deploy ÷ tv | tv ÷ deploy | deploy ÷ tv NCHW |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
    else:
        print(f"\n{stat} over rounds:")
    for name, batch, times in results:
        t = {key: reduce(ts) for key, ts in times.items()}
        base_nchw = t[("torchvision", "NCHW")]
        for layout in LAYOUTS:
            tv, gen, dep = (t[(k, layout)] for k in KINDS)
            if markdown:
                print(
                    f"| {name} | {batch} | {layout} | {tv * 1e3:.2f} | {gen * 1e3:.2f} "
                    f"| {dep * 1e3:.2f} | {gen / tv:.3f} | {dep / tv:.3f} | {tv / dep:.2f}× "
                    f"| {dep / base_nchw:.3f} |"
                )
            else:
                print(
                    f"{name:18s} b={batch:<2d} {layout:13s} tv {tv * 1e3:8.2f} ms  "
                    f"gen {gen * 1e3:8.2f} ms ({gen / tv:.3f})  "
                    f"deploy {dep * 1e3:8.2f} ms ({dep / tv:.3f}, {tv / dep:.2f}x faster; "
                    f"{dep / base_nchw:.3f} of tv NCHW)"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--stat",
        nargs="+",
        choices=["median", "min"],
        default=["median"],
        help="summary over rounds, one table each (min resists other processes' load better)",
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} rounds",
        file=sys.stderr,
    )
    results = []
    for name in args.networks:
        models, diffs = build(name)
        print(
            f"{name}: generated vs torchvision max abs diff {diffs['generated max abs diff']:.3g}"
            f"; deploy max abs diff {diffs['deploy max abs diff']:.3g} (rel "
            f"{diffs['deploy rel diff']:.3g} of output scale {diffs['output scale']:.3g})",
            file=sys.stderr,
            flush=True,
        )
        file, params, _ = NETWORKS[name]
        in_shape = specgen.compile(ROOT / "examples" / file, params).input_shape.as_list()
        for batch in args.batches:
            results.append((name, batch, time_configs(models, in_shape, batch, args.rounds)))
        del models
    for stat in args.stat:
        report(results, stat, args.markdown)


if __name__ == "__main__":
    main()
