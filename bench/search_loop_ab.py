"""The search loop before and after a change: bench/search_loop.py's warm and cold evaluations
of a git revision and of this checkout, both loaded side by side in one process and timed in
alternating bursts (best of N), so that a busy or throttled machine slows both alike.

    python bench/search_loop_ab.py [--base REV] [--rounds 21] [--only ResNet]

`--base` (default HEAD) is checked out into a temporary git worktree.  Prints each case's
evaluations per second and the ratio after ÷ before (> 1: this checkout is faster).  A
refactoring should keep every ratio within the noise, about ±5 % on a shared machine.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load(tree: Path) -> tuple:
    """specgen as found in `tree`: the package, its compile front end and its modules."""
    for name in [m for m in sys.modules if m == "specgen" or m.startswith("specgen.")]:
        del sys.modules[name]
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_Alias"]
    sys.path.insert(0, str(tree))
    try:
        specgen = importlib.import_module("specgen")
        compiler = importlib.import_module("specgen.compiler")
        try:
            read_source = importlib.import_module("specgen.language.source").read_source
        except ImportError:  # before the packages of the pipeline's stages
            read_source = compiler.read_source
    finally:
        sys.path.remove(str(tree))
    modules = {m: sys.modules[m] for m in sys.modules if m.split(".")[0] == "specgen"}
    return specgen, compiler._front, read_source, modules


def _loops(loaded: tuple, text: str, points: list[dict]):
    specgen, front, read_source, modules = loaded
    sys.modules.update(modules)
    analysis = front(read_source(text).text, "<spec>")[1]
    cycle = itertools.cycle(points)

    def warm():
        net = specgen.compile(text, next(cycle))
        return net.cost.params, net.cost.macs

    def cold():  # as bench/search_loop.py: the caches that depend on values emptied
        analysis.blocks.clear()
        analysis.lines.clear()
        return warm()

    return warm, cold, modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=21, help="bursts per side (best of)")
    parser.add_argument("--only", default="", help="cases whose label contains this")
    args = parser.parse_args()
    sys.modules["torch"] = None  # the evaluations only: no nn.Module columns
    sys.path.insert(0, str(ROOT / "bench"))
    import search_loop

    with tempfile.TemporaryDirectory(prefix="specgen-ab-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(base), args.base],
            cwd=ROOT,
            check=True,
        )
        try:
            trees = {"before": _load(base), "after": _load(ROOT)}
            print("| case | warm before | after | ratio | cold before | after | ratio |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for label, (file, param, values, fixed) in search_loop.CASES.items():
                if args.only not in label:
                    continue
                text = (ROOT / "examples" / file).read_text()
                points = [{**fixed, param: v} for v in values]
                loops = {tag: _loops(loaded, text, points) for tag, loaded in trees.items()}
                best = {(tag, k): float("inf") for tag in trees for k in ("warm", "cold")}
                for r in range(args.rounds):
                    for tag in ("before", "after") if r % 2 == 0 else ("after", "before"):
                        warm, cold, modules = loops[tag]
                        sys.modules.update(modules)
                        for kind, fn, n in (("warm", warm, 30), ("cold", cold, 10)):
                            fn()
                            start = time.perf_counter()
                            for _ in range(n):
                                fn()
                            elapsed = (time.perf_counter() - start) / n
                            best[(tag, kind)] = min(best[(tag, kind)], elapsed)
                cells = []
                for kind in ("warm", "cold"):
                    before, after = best[("before", kind)], best[("after", kind)]
                    cells += [f"{1 / before:,.0f}", f"{1 / after:,.0f}", f"{before / after:.2f}"]
                print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT)


if __name__ == "__main__":
    main()
