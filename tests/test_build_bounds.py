"""Time bounds on building (emitting source for) the largest in-limit networks, and the check
that the source written without running black is what black would write.

`specgen build` of the 100,000-layer network took 140 s (PyTorch) and 164 s (Keras), and of
~10,000 residuals 22 s: black on the whole file, and quadratic local naming.  Each case now
takes about a second on a 2-core machine; the bound is generous so that only a return of
that behaviour fails it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import specgen
from specgen import limits

BOUND = 20.0  # seconds for one build; each measured at ~1 s
TARGETS = ["torch", "keras"]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEAD = "network n\ninput 8x16x16\nlayers:\n"


def max_layers(scale: int = limits.MAX_REPEAT) -> str:
    """MAX_LAYERS layers (at full scale) in the network's own body: convolutions with
    BatchNorm and ReLU, then ReLUs, every line repeated `scale` times."""
    conv = f"    conv 3x3 out=8 bn relu x {scale // 3}\n"
    relu = f"    relu x {scale}\n"
    lines = limits.MAX_LAYERS // limits.MAX_REPEAT
    return HEAD + conv * (lines // 2) + relu * (lines - lines // 2)


def residual_calls(n: int) -> str:
    """n calls of a block holding one residual: n modules (classes, functions) to name."""
    return (
        "network n\ninput 8x8x8\nblock unit:\n    residual:\n        conv 3x3 out=8 bn relu\n"
        f"layers:\n    unit x {n}\n"
    )


def residual_blocks(blocks: int, per_block: int) -> str:
    """`blocks` distinct instantiations, each with `per_block` residuals in one function:
    the locals `out`, `out1`, ... were named in quadratic time."""
    body = "    residual:\n     relu\n" * per_block
    calls = "".join(f"    unit({8 + i})\n" for i in range(blocks))
    return f"network n\ninput 8x8x8\nblock unit(c):\n    conv 1x1 out=c\n{body}layers:\n{calls}"


def largest_inline_residuals() -> str:
    """As many residuals written out in `layers:` as the spec size limits allow."""
    unit = " residual:\n  conv 1x1\n"
    n = min(
        (limits.MAX_SOURCE_CHARS - len(HEAD)) // len(unit),
        (limits.MAX_SOURCE_LINES - HEAD.count("\n")) // unit.count("\n"),
    )
    return HEAD + unit * (n - 1)


CASES = {
    "max layers": (max_layers, limits.MAX_LAYERS - 10),
    "9,990 residual blocks": (lambda: residual_calls(9_990), 9_990 * 3),
    "10 x 999 residuals": (lambda: residual_blocks(10, 999), 10 * 1_000),
    "inline residuals": (largest_inline_residuals, 4_000),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    make, min_layers = CASES[request.param]
    net = specgen.compile(make())
    assert len(net.cost.layers) >= min_layers
    return net


@pytest.mark.parametrize("target", TARGETS)
def test_build_of_the_largest_networks_is_fast(case, target):
    start = time.perf_counter()
    code = case.emit(target)
    elapsed = time.perf_counter() - start
    assert elapsed < BOUND, f"{elapsed:.1f} s"
    assert ("return keras.Model(" if target == "keras" else "return self") in code[-200:]


def _scaled() -> list[str]:
    """The cases above at a hundredth of their size, for black (~1 ms a line)."""
    return [max_layers(100), residual_calls(100), residual_blocks(3, 30)]


def _long_names() -> str:
    """Names and numbers long enough that black wraps most statements, in every form."""
    a, b = "b" + "x" * 70, "c" + "y_" * 60
    return f"""network {"n" * 90}(g=3, w=[1, 2.5e-07])
input 120x12x12
block {a}(c):
    concat:
        relu
        conv 1x1 out=8
        identity
    conv 1x1 out=c
    split sizes=[4, 4, 112]:
        relu
        tanh
        conv 1x1 out=112
    conv(3x5, out=c, padding=[1, 4], dilation=[1, 2], bias=true) bn(0.00012345, 0.3)
    sepconv 3x3 out=c bn relu
    igc M=8 L=15 kernel=3
    maxpool 3x1 stride=1 padding=[1, 0]
    conv 1x1 out=c group=4
block {b}:
    {a}(in)
    residual:
        {a}(in) x 2
    add:
        relu
        conv 1x1 out=in
layers:
    {b} x 2
    gap
    fc 1000
    fc 3 dropout(0.000001) leakyrelu(0.01)
"""


@pytest.mark.parametrize("target", ["torch", "keras", "keras-split"])
def test_output_is_what_black_writes(target):
    black = pytest.importorskip("black")
    options = {"split_groups": True} if target == "keras-split" else {}
    name = target.split("-")[0]
    texts = [p.read_text() for p in sorted(EXAMPLES.glob("*.conv"))] + _scaled() + [_long_names()]
    for text in texts:
        code = specgen.compile(text).emit(name, **options)
        assert black.format_str(code, mode=black.Mode()) == code, text[:40]


def test_deep_sequential_network_builds_in_keras():
    """keras.Model maps its graph recursively: past ~1,000 layers it hit RecursionError."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("keras")
    net = specgen.compile("network deep\ninput 4x4x4\nlayers:\n    relu x 3000\n")
    limit = sys.getrecursionlimit()
    model = net.to_keras()
    assert sys.getrecursionlimit() == limit  # restored
    assert len(model.layers) == 3001
    assert model(np.zeros((1, 4, 4, 4), "float32")).shape == (1, 4, 4, 4)
