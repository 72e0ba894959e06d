"""A large grammar-aware fuzzing campaign against `specgen.compile` (see docs/fuzzing.md).

    python bench/fuzz.py --programs 20000 --jobs 2

Program i is `specgen_fuzz.program(seed + i)` (tests/specgen_fuzz.py), the generator that
tests/test_fuzz_grammar.py runs on 2,000 seeds.  For every program:

  compile   a Network or a SpecError, nothing else, within --time-limit s of CPU time; every
            diagnostic placed inside the program, with a caret under it (`check`)
  blocks    every block call of a compiled program expands as the same call on its own
            (`check_blocks`)
  torch     every compiled network small enough (`small_enough`) is built with
            net.to_torch() and run: params, FlopCounterMode MACs, output and block shapes
            as the compiler says (`check_torch`); --build-fraction samples fewer
  emit      the same torch and keras source from two compiles (`check_emit`)

then, for --hash-check compiled programs, the program text and both sources are made again in
a fresh interpreter under another PYTHONHASHSEED, and for --thread-check of them in four
threads at once.  Each failure is printed with its seed; the program and the traceback are
written to --out.  Exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from datetime import date
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
sys.path[:0] = [str(ROOT), str(TESTS)]

import specgen_fuzz as fuzz  # noqa: E402

import specgen  # noqa: E402


class Hang(Exception):
    """The hard timeout fired."""


def _alarm(signum, frame):
    raise Hang


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _digests(text: str) -> list:
    """sha256 of a program and of its torch and keras source (compiled from scratch)."""
    code = fuzz.emitted(text)
    return [_digest(text), _digest(code["torch"]), _digest(code["keras"])]


def _init(args) -> None:
    signal.signal(signal.SIGALRM, _alarm)
    specgen.compile("network warm\ninput 1x1x1\nlayers:\n    identity\n")  # builds the parser
    if args.build_fraction > 0:
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:
            args.build_fraction = 0.0


def _one(seed: int, args, stats: Counter, codes: Counter, out: dict) -> None:
    """Every stage of one program; a failing stage is recorded and the next one still runs."""
    text = fuzz.program(seed, args.max_size, fuzz.Mistakes(rate=args.rate))
    state: dict = {}

    def compile_() -> None:
        outcome = state["outcome"] = fuzz.check(text, time_limit=args.time_limit)
        for slow, value in (("slowest", outcome.seconds), ("slowest_cpu", outcome.cpu_seconds)):
            if value > out[slow][0]:
                out[slow] = (value, seed)
        if outcome.network is None:
            stats["spec_errors"] += 1
            codes[outcome.codes[0]] += 1
        else:
            stats["compiled"] += 1

    def blocks() -> None:
        stats["block_calls_checked"] += fuzz.check_blocks(net, text, args.time_limit)

    def torch() -> None:
        fuzz.check_torch(net)
        stats["built"] += 1

    def emit() -> None:
        fuzz.check_emit(net, text)
        stats["emitted"] += 1
        if len(out["digests"]) < args.hash_check:
            out["digests"][seed] = _digests(text)

    stages = [("compile", compile_)]
    for stage, run in stages:
        try:
            signal.setitimer(signal.ITIMER_REAL, args.hard_timeout)
            try:
                run()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Exception as exc:  # noqa: BLE001 - every other outcome is a finding
            what = f"{stage}: {type(exc).__name__}: {exc}"
            if isinstance(exc, Hang):
                what = f"{stage}: no result after {args.hard_timeout} s"
            out["failures"].append((seed, stage, what, text, traceback.format_exc()))
            if stage == "compile":
                return
        if stage == "compile" and state["outcome"].network is not None:
            net = state["outcome"].network
            stages.append(("blocks", blocks))
            if not fuzz.small_enough(net):
                stats["too_big_to_build"] += 1
            elif random.Random(-seed - 1).random() < args.build_fraction:
                stages += [("torch", torch), ("emit", emit)]


def _chunk(job) -> dict:
    seeds, args = job
    stats: Counter = Counter()
    codes: Counter = Counter()
    out = {"slowest": (0.0, -1), "slowest_cpu": (0.0, -1), "failures": [], "digests": {}}
    for seed in seeds:
        _one(seed, args, stats, codes, out)
        stats["tried"] += 1
    out["stats"], out["codes"] = stats, codes
    out["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


_CHILD = """\
import hashlib, json, sys
sys.path[:0] = sys.argv[1:3]
import specgen_fuzz as fuzz
args = json.loads(sys.argv[3])
out = {}
for s in args["seeds"]:
    text = fuzz.program(s, args["max_size"], fuzz.Mistakes(rate=args["rate"]))
    code = fuzz.emitted(text)
    out[s] = [hashlib.sha256(t.encode()).hexdigest() for t in (text, code["torch"], code["keras"])]
print(json.dumps(out))
"""


def hash_check(digests: dict, args, hash_seed: str) -> list[str]:
    """The sampled programs again, in a fresh interpreter with PYTHONHASHSEED=`hash_seed`."""
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    spec = json.dumps({"seeds": sorted(digests), "max_size": args.max_size, "rate": args.rate})
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT), str(TESTS), spec],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        return [f"hash seed {hash_seed}: the child failed: {proc.stderr[-2000:]}"]
    again = {int(k): v for k, v in json.loads(proc.stdout).items()}
    return [
        f"seed {s}: program, torch or keras source differs under PYTHONHASHSEED={hash_seed}"
        for s in sorted(digests)
        if again.get(s) != digests[s]
    ]


def thread_check(digests: dict, args) -> list[str]:
    """The sampled programs compiled (as fresh texts) and emitted by four threads at once."""
    programs = {s: fuzz.program(s, args.max_size, fuzz.Mistakes(rate=args.rate)) for s in digests}
    jobs = [(s, k) for k in range(4) for s in sorted(digests)]

    def run(job):
        s, k = job
        try:
            return _digests(fuzz.variant(programs[s], f"thread {k}"))[1:]
        except Exception as exc:  # noqa: BLE001 - compared below
            return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

    got = fuzz.in_threads(run, jobs)
    return [
        f"seed {s} (thread {k}): {g if isinstance(g, str) else 'other source'}"
        for (s, k), g in zip(jobs, got, strict=True)
        if g != digests[s][1:]
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--programs", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    ap.add_argument(
        "--build-fraction", type=float, default=1.0, help="of the small compiled networks"
    )
    ap.add_argument("--time-limit", type=float, default=2.0, help="CPU seconds per compile")
    ap.add_argument("--hard-timeout", type=float, default=60.0, help="abandon a program after")
    ap.add_argument("--rate", type=float, default=fuzz.Mistakes().rate, help="mistake rate")
    ap.add_argument("--max-size", type=int, default=16, help="statements per body, at most")
    ap.add_argument("--hash-check", type=int, default=200, help="programs re-made per hash seed")
    ap.add_argument("--thread-check", type=int, default=50, help="programs made in threads")
    ap.add_argument("--chunk", type=int, default=250, help="seeds per work item")
    ap.add_argument("--out", type=Path, default=Path("/tmp/specgen-fuzz-failures"))
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    seeds = range(args.seed, args.seed + args.programs)
    chunks = [(seeds[i : i + args.chunk], args) for i in range(0, len(seeds), args.chunk)]
    # a share of the hash sample per work item, so that it spreads over the seeds
    args.hash_check = -(-args.hash_check // max(1, len(chunks))) if args.hash_check else 0
    stats: Counter = Counter()
    codes: Counter = Counter()
    slowest, slowest_cpu = (0.0, -1), (0.0, -1)
    failures: list = []
    digests: dict = {}
    maxrss = 0
    start = time.perf_counter()
    with get_context("fork").Pool(args.jobs, initializer=_init, initargs=(args,)) as pool:
        for out in pool.imap_unordered(_chunk, chunks):
            stats.update(out["stats"])
            codes.update(out["codes"])
            slowest = max(slowest, out["slowest"])
            slowest_cpu = max(slowest_cpu, out["slowest_cpu"])
            digests.update(out["digests"])
            maxrss = max(maxrss, out["maxrss"])
            for seed, stage, what, text, tb in out["failures"]:
                failures.append((seed, stage, what))
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / f"seed{seed}.conv").write_text(text, encoding="utf-8")
                (args.out / f"seed{seed}.txt").write_text(tb, encoding="utf-8")
                if not args.quiet:
                    print(f"FAIL seed {seed}: {what[:300]}", file=sys.stderr, flush=True)
            if not args.quiet:
                done, elapsed = stats["tried"], time.perf_counter() - start
                print(f"{done:,} programs, {done / elapsed:.0f}/s", file=sys.stderr, flush=True)
    campaign = time.perf_counter() - start

    later: list[tuple[str, str]] = []
    for hash_seed in ("1", "2"):
        later += [("hash", m) for m in hash_check(digests, args, hash_seed)] if digests else []
    sample = dict(sorted(digests.items())[: args.thread_check])
    later += [("threads", m) for m in thread_check(sample, args)] if sample else []
    elapsed = time.perf_counter() - start

    tried = stats["tried"]
    by_stage = Counter(stage for _, stage, _ in failures) + Counter(s for s, _ in later)
    figures = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "specgen": getattr(specgen, "__version__", "?"),
        "seeds": [args.seed, args.seed + tried - 1],
        "programs": tried,
        "compiled": stats["compiled"],
        "spec_errors": stats["spec_errors"],
        "block_calls_checked": stats["block_calls_checked"],
        "too_big_to_build": stats["too_big_to_build"],
        "built_in_torch": stats["built"],
        "emitted_twice": stats["emitted"],
        "hash_seed_checked": len(digests),
        "thread_checked": len(sample),
        "failures": len(failures) + len(later),
        "failures_by_stage": dict(by_stage),
        "slowest_compile_s": [round(slowest[0], 3), slowest[1]],
        "slowest_compile_cpu_s": [round(slowest_cpu[0], 3), slowest_cpu[1]],
        "peak_rss_mib_per_process": round(maxrss / 1024),
        "campaign_wall_s": round(campaign),
        "wall_s": round(elapsed),
        "jobs": args.jobs,
        "first_codes": dict(codes.most_common()),
    }
    print(f"programs:            {tried:,} (seeds {args.seed}..{args.seed + tried - 1})")
    print(f"compiled:            {stats['compiled']:,} ({stats['compiled'] / max(tried, 1):.1%})")
    print(f"SpecErrors:          {stats['spec_errors']:,}")
    print(f"block calls checked: {stats['block_calls_checked']:,} distinct")
    print(f"built in torch:      {stats['built']:,} ({stats['too_big_to_build']:,} too big)")
    print(f"emitted twice:       {stats['emitted']:,}")
    print(f"other hash seeds:    {len(digests):,} programs x 2;  in threads: {len(sample)} x 4")
    print(f"failures:            {len(failures) + len(later):,} {dict(by_stage)}")
    print(f"slowest compile:     {slowest[0]:.3f} s wall (seed {slowest[1]}), ", end="")
    print(f"{slowest_cpu[0]:.3f} s CPU (seed {slowest_cpu[1]})")
    print(f"peak memory:         {maxrss / 1024:.0f} MiB per process (maxrss)")
    print(f"wall time:           {elapsed:.0f} s ({campaign:.0f} s campaign, {args.jobs} jobs)")
    print("first codes:         " + ", ".join(f"{c} {n}" for c, n in codes.most_common()))
    for seed, _, what in sorted(failures):
        print(f"  seed {seed}: {what.splitlines()[0][:200]}")
    for _, what in later[:20]:
        print(f"  {what[:200]}")
    if failures:
        print(f"programs and tracebacks: {args.out}/seed*.conv, seed*.txt")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 1 if failures or later else 0


if __name__ == "__main__":
    sys.exit(main())
