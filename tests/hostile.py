"""Hostile specs at the edge of every limit, shared by tests/test_bounds.py and bench/bounds.py.

Each generator returns the text of one spec; the comments say which earlier failure it
reproduces (the figures are from the red-team report that found them).
"""

from __future__ import annotations

from specgen import limits

HEAD = "network n\ninput 16x8x8\nlayers:\n"


def largest(make, limit: int = limits.MAX_SOURCE_CHARS) -> str:
    """The largest `make(n)` within the size and line limits (make grows with n)."""
    lo, hi = 1, limits.MAX_SOURCE_LINES
    while lo < hi:
        mid = (lo + hi + 1) // 2
        text = make(mid)
        if len(text) <= limit and text.count("\n") < limits.MAX_SOURCE_LINES:
            lo = mid
        else:
            hi = mid - 1
    return make(lo)


def nested_lists(levels: int = 40, width: int = 10) -> str:
    """`let a1 = [a0, a0, ...]`, `let a2 = [a1, a1, ...]`, ...: a few hundred bytes that ran
    past 10 s and 2 GB when cache keys and `repr` walked every shared leaf."""
    lets = ["let a0 = [0]"] + [
        f"let a{i} = [{', '.join([f'a{i - 1}'] * width)}]" for i in range(1, levels)
    ]
    return "network n\ninput 16x8x8\n" + "\n".join(lets) + "\nlayers:\n    relu\n"


def invalid_lines(n: int) -> str:
    """One mistake per line: collecting errors was quadratic (19,000 lines: 63 s)."""
    return HEAD + "  shuffle 3\n" * n


def call_chain(n: int) -> str:
    """Block k calls block k-1: call-graph analysis was quadratic (9,990 blocks: 14 s).
    Deeper than MAX_CALL_DEPTH, so it must end in a located nesting error."""
    blocks = ["block b0():\n    relu\n"] + [
        f"block b{k}():\n    b{k - 1}()\n" for k in range(1, n)
    ]
    return "network n\ninput 16x8x8\n" + "".join(blocks) + f"layers:\n    b{n - 1}()\n"


def call_fan(n: int) -> str:
    """n blocks, each calling the one before it once and then a relu, but only a few deep:
    every block is used, the analysis sees n nodes and n edges."""
    blocks = ["block b0():\n    relu\n"] + [
        f"block b{k}():\n    {'b' + str(k - 1) + '()' if k % 16 else 'relu'}\n"
        for k in range(1, n)
    ]
    calls = "".join(f"    b{k}()\n" for k in range(15, n, 16))
    return "network n\ninput 16x8x8\n" + "".join(blocks) + "layers:\n" + calls


def call_cycle(n: int) -> str:
    """Block k calls block k+1 and the last calls the first: the cycle search (24 s at 9,990)."""
    blocks = [f"block b{k}():\n    b{(k + 1) % n}()\n" for k in range(n)]
    return "network n\ninput 16x8x8\n" + "".join(blocks) + "layers:\n    b0()\n"


def deep_nesting(calls: int, composites: int, inner: int = 0) -> str:
    """Block calls nested `calls` deep, `composites` of them a residual around the next call,
    the innermost body `inner` residuals deep: every pass that walks the network recursed
    past Python's stack."""
    innermost = "".join("    " * (i + 1) + "residual:\n" for i in range(inner))
    innermost += "    " * (inner + 1) + "conv 3x3 bn relu\n"
    lines = ["network n\ninput 8x8x8\n", "block b0():\n" + innermost]
    for k in range(1, calls):
        if k <= composites:
            lines.append(f"block b{k}():\n    residual:\n        b{k - 1}()\n")
        else:
            lines.append(f"block b{k}():\n    b{k - 1}()\n")
    lines.append(f"layers:\n    b{calls - 1}()\n    gap\n    fc 4\n")
    return "".join(lines)


def max_layers() -> str:
    """As many layers as MAX_LAYERS allows, written with repeats."""
    per_line = limits.MAX_REPEAT
    lines = limits.MAX_LAYERS // per_line
    return HEAD + "    relu x 10000\n" * lines


def residuals(n: int) -> str:
    """n residual units (9,990 took 22 s to build)."""
    return HEAD + " residual:\n  conv 1x1\n" * n


def huge_list_param() -> dict:
    """A 10-million-item list passed from Python bypassed the 10,000-item limit."""
    return {"w": [16] * 10_000_000}


HUGE_LIST_SPEC = "network n(w=[16])\ninput 16x8x8\nlayers:\n    conv 1x1 out=w[0]\n"
