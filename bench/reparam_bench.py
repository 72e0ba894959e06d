"""The deploy forms of RepVGG-A0 and MobileOne-S0 side by side with timm's re-parameterised
models: same weights, same input, one process, interleaved.

    python bench/reparam_bench.py [--networks ...] [--batches 1 8] [--rounds 12]
                                  [--threads N] [--markdown]

For each network, timm's training-form model (`pretrained=False`, eval) gets random BatchNorm
statistics and affine parameters (so that no branch folds to the identity), its state_dict is
loaded into the generated training form by key (strict), and both are re-parameterised:
timm's with `timm.utils.model.reparameterize_model`, specgen's as `net.deploy()` with
`specgen.deploy.fold_torch`'s state_dict (each `rep:` one conv with a bias, `DeployConv2d`
with the ReLU fused).  Outputs are compared, then both inference forms are timed in NCHW and
channels_last under `torch.inference_mode()`: every configuration once per round, the median
(and minimum) over rounds.

timm is a benchmark and test dependency, installed without its dependencies beside the CPU
torch build (`pip install --no-deps timm huggingface_hub safetensors pyyaml`); it imports
torchvision, which is imported first the way tests/torchvision_import.py does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from specgen.deploy import fold_torch
from torch import nn

import specgen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import torchvision_import as tv_import  # noqa: E402
from torchvision_bench import randomize_batchnorms  # noqa: E402 - this folder's

# name: (example, params, timm model)
NETWORKS: dict[str, tuple[str, dict[str, Any], str]] = {
    "RepVGG-A0": ("repvgg.conv", {}, "repvgg_a0"),
    "MobileOne-S0": ("mobileone.conv", {}, "mobileone_s0"),
}
LAYOUTS = ("NCHW", "channels_last")


def import_timm() -> Any:
    tv_import.import_torchvision("torchvision.models")
    try:
        import timm
        from timm.utils.model import reparameterize_model
    except ImportError:
        sys.exit("timm is not installed: pip install --no-deps timm huggingface_hub safetensors")
    return timm, reparameterize_model


def build(name: str) -> tuple[nn.Module, nn.Module, float, dict[str, int]]:
    """(timm's inference form, specgen's deploy form, relative output difference, params)."""
    timm, reparameterize_model = import_timm()
    example, params, timm_name = NETWORKS[name]
    train = timm.create_model(timm_name, pretrained=False).eval()
    randomize_batchnorms(train)
    net = specgen.compile(ROOT / "examples" / example, params)
    eager = net.to_torch().eval()
    eager.load_state_dict(train.state_dict(), strict=True)
    ours = net.deploy().to_torch().eval()
    ours.load_state_dict(fold_torch(net.ir, eager.state_dict()))
    theirs = reparameterize_model(train).eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        a, b = theirs(x), ours(x)
    diff = ((a - b).abs().max() / a.abs().max()).item()
    counts = {
        "timm": sum(p.numel() for p in theirs.parameters()),
        "specgen": sum(p.numel() for p in ours.parameters()),
        "specgen (compiler)": net.deploy().cost.params,
    }
    return theirs, ours, diff, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for name in args.networks:
        theirs, ours, diff, counts = build(name)
        print(f"{name}: params {counts}; max |timm - specgen| / max |timm| = {diff:.2e}")
        assert diff <= 1e-5, diff
        for batch in args.batches:
            for layout in LAYOUTS:
                fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
                models = {
                    "timm": theirs.to(memory_format=fmt),
                    "specgen": ours.to(memory_format=fmt),
                }
                x = torch.randn(batch, 3, 224, 224).to(memory_format=fmt)
                times: dict[str, list[float]] = {k: [] for k in models}
                with torch.inference_mode():
                    for m in models.values():  # warm-up: weights packed, caches filled
                        m(x), m(x)
                    for _ in range(args.rounds):
                        for k, m in models.items():
                            start = time.perf_counter()
                            m(x)
                            times[k].append((time.perf_counter() - start) * 1e3)
                med = {k: statistics.median(v) for k, v in times.items()}
                low = {k: min(v) for k, v in times.items()}
                rows.append(
                    (name, batch, layout, med["timm"], med["specgen"], med["timm"] / med["specgen"],
                     low["timm"] / low["specgen"])  # fmt: skip
                )
    header = ("network", "batch", "layout", "timm ms (median)", "specgen deploy ms (median)",
              "timm ÷ specgen (median)", "timm ÷ specgen (min)")  # fmt: skip
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    for name, batch, layout, t, s, r, rmin in rows:
        cells = (name, str(batch), layout, f"{t:.2f}", f"{s:.2f}", f"{r:.2f}×", f"{rmin:.2f}×")
        print(("| " + " | ".join(cells) + " |") if args.markdown else "  ".join(cells))


if __name__ == "__main__":
    main()
