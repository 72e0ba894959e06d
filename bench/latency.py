"""Forward latency of generated PyTorch modules against hand-written ones (reference_models.py,
torchvision style) of the same networks, same weights, same input, same process.

    python bench/latency.py [--device cpu|cuda] [--batches 1 32] [--repeat 20] [--markdown]

Each pair is timed interleaved (generated, hand-written, generated, ...) so that drift in the
machine's speed affects both alike; the figure is the median of the per-round times.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import torch

import specgen

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "reference_models", ROOT / "bench" / "reference_models.py"
)
reference_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference_models)

NETWORKS = {
    "MobileNet V1": ("mobilenet_v1.conv", {}, lambda: reference_models.mobilenet_v1(1.0)),
    "ShuffleNet V1 g=3": (
        "shufflenet_v1.conv",
        {"g": 3},
        lambda: reference_models.shufflenet_v1(3),
    ),
    "MobileFaceNet": ("mobilefacenet.conv", {}, lambda: reference_models.mobilefacenet()),
    "IGC-L24M2 CIFAR": ("igc_cifar.conv", {}, lambda: reference_models.igc_cifar()),
}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time(model, x, device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    model(x)
    _sync(device)
    return time.perf_counter() - start


def compare(
    name: str, device: str, batch: int, channels_last: bool, repeat: int
) -> tuple[float, float]:
    file, params, handwritten = NETWORKS[name]
    net = specgen.compile(ROOT / "examples" / file, params)
    generated = net.to_torch().eval()
    reference = handwritten().eval()
    assert sum(p.numel() for p in generated.parameters()) == sum(
        p.numel() for p in reference.parameters()
    )
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    generated = generated.to(device, memory_format=fmt)
    reference = reference.to(device, memory_format=fmt)
    x = torch.randn(batch, *net.input_shape.as_list(), device=device).to(memory_format=fmt)
    gen_times, ref_times = [], []
    with torch.inference_mode():
        for _ in range(3):  # warm-up
            generated(x)
            reference(x)
        for _ in range(repeat):
            gen_times.append(_time(generated, x, device))
            ref_times.append(_time(reference, x, device))
    return statistics.median(gen_times), statistics.median(ref_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS))
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.markdown:
        print("| network | batch | layout | generated (ms) | hand-written (ms) | ratio |")
        print("|---|---|---|---|---|---|")
    for name in args.networks:
        for batch in args.batches:
            for cl in (False, True):
                g, r = compare(name, args.device, batch, cl, args.repeat)
                layout = "channels_last" if cl else "NCHW"
                if args.markdown:
                    print(
                        f"| {name} | {batch} | {layout} | {g * 1e3:.2f} | {r * 1e3:.2f} | {g / r:.3f} |"
                    )
                else:
                    print(
                        f"{name:20s} b={batch:<3d} {layout:13s} generated {g * 1e3:8.2f} ms  "
                        f"hand-written {r * 1e3:8.2f} ms  ratio {g / r:.3f}"
                    )


if __name__ == "__main__":
    main()
