"""Time and peak memory of every hostile case at the edge of the limits (docs/language.md § Limits).

    python bench/bounds.py [CASE ...]

Each case runs in a fresh process, so its peak resident memory (ru_maxrss, which includes
the interpreter and specgen's imports, ~60 MiB) is its own.  The same cases are time-bounded
in tests/test_bounds.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "nested shared lists": "compile(H.nested_lists())",
    "one error per line": "compile(H.largest(H.invalid_lines))",
    "call chain": "compile(H.largest(H.call_chain))",
    "many blocks": "compile(H.largest(H.call_fan))",
    "call cycle": "compile(H.largest(H.call_cycle))",
    "deepest nesting": "compile(H.deep_nesting(32, 31, 1))",
    "max layers": "compile(H.max_layers())",
    "most residuals": "compile(H.largest(H.residuals))",
    "10M-item list parameter": "compile(H.HUGE_LIST_SPEC, H.huge_list_param())",
    "max layers: build torch": "build(H.max_layers(), 'torch')",
    "max layers: build keras": "build(H.max_layers(), 'keras')",
    "most residuals: build torch": "build(H.largest(H.residuals), 'torch')",
    "most residuals: build keras": "build(H.largest(H.residuals), 'keras')",
    "deepest nesting: build torch": "build(H.deep_nesting(32, 31, 1), 'torch')",
    "deepest nesting: build keras": "build(H.deep_nesting(32, 31, 1), 'keras')",
}

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {tests!r})
import hostile as H
import specgen

def compile(text, params=None):
    try:
        net = specgen.compile(text, params)
        return f"Network, {{net.cost.params}} params"
    except specgen.SpecError as err:
        return f"SpecError: {{err.diagnostics[0].message[:60]}}"

def build(text, target):
    code = specgen.compile(text).emit(target)
    return f"{{len(code.splitlines())}} lines of {{target}}"

start = time.perf_counter()
outcome = {expr}
print(json.dumps({{
    "seconds": time.perf_counter() - start,
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "outcome": outcome,
}}))
"""


def run(expr: str) -> dict:
    code = CHILD.format(tests=str(ROOT / "tests"), expr=expr)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env
    )
    if done.returncode:
        return {"seconds": float("nan"), "peak_mib": float("nan"), "outcome": done.stderr[-200:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    names = argv or list(CASES)
    print(f"{'case':32} {'seconds':>8} {'peak MiB':>9}  outcome")
    start = time.perf_counter()
    for name in names:
        r = run(CASES[name])
        print(f"{name:32} {r['seconds']:8.2f} {r['peak_mib']:9.0f}  {r['outcome']}", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
