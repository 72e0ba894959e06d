"""What DeployConv2d's oneDNN path buys on every example: the deploy form with it, and the same
module with it switched off (each conv then runs nn.Conv2d's code and the activation after).

    python bench/deploy_onednn.py [NAME.conv ...] [--batch 1] [--rounds 3] [--threads N]
                                  [--markdown]

One model per example (default parameters, its own input size), timed under
`torch.inference_mode()` in blocks: a few warm-up calls and five timed calls with the oneDNN
path, then the same without, `--rounds` times, so that switching does not show up in the
figures (the packed weights stay while the path is off: the weights stay on the CPU in
float32).  The figure is the median call; `without ÷ with` above 1 means the oneDNN path is
faster.  Outputs of the two paths are compared (max relative difference).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import specgen

ROOT = Path(__file__).resolve().parent.parent


def measure(path: Path, batch: int, rounds: int) -> tuple[float, float, float]:
    """(ms with the oneDNN path, ms without, max relative difference of the outputs)."""
    net = specgen.compile(path)
    model = net.deploy().to_torch().eval()
    flags = type(model).forward.__globals__  # the generated module's globals: ONEDNN
    x = torch.randn(batch, *net.input_shape.as_list())
    times: dict[bool, list[float]] = {True: [], False: []}
    outputs = {}
    with torch.inference_mode():
        for _ in range(rounds):
            for onednn in (True, False):
                flags["ONEDNN"] = onednn
                for _ in range(3):
                    outputs[onednn] = model(x)
                for _ in range(5):
                    start = time.perf_counter()
                    model(x)
                    times[onednn].append(time.perf_counter() - start)
    flags["ONEDNN"] = True
    diff = (outputs[True] - outputs[False]).abs().max() / outputs[False].abs().max()
    return statistics.median(times[True]), statistics.median(times[False]), diff.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="example files (default: every example)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.names or sorted(p.name for p in (ROOT / "examples").glob("*.conv"))
    if args.markdown:
        print(f"batch {args.batch}, {torch.get_num_threads()} threads, median call\n")
        print("| example | with oneDNN (ms) | without (ms) | without ÷ with | max rel. diff |")
        print("|---|--:|--:|--:|--:|")
    for name in names:
        fast, plain, diff = measure(ROOT / "examples" / Path(name).name, args.batch, args.rounds)
        if args.markdown:
            print(
                f"| {name} | {fast * 1e3:.3f} | {plain * 1e3:.3f} | {plain / fast:.2f} | {diff:.1e} |"
            )
        else:
            print(
                f"{name:24s} with {fast * 1e3:8.3f} ms  without {plain * 1e3:8.3f} ms  "
                f"({plain / fast:.2f}x)  diff {diff:.1e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
