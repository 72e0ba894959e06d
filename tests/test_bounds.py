"""Time bounds on hostile input at the edge of every limit (docs/language.md § Limits).

Each case took under 1 s on a 2-core CI machine when written (bench/bounds.py prints the
figures with memory); the limits asserted here are generous so that only a return of the
quadratic or unbounded behaviour the cases reproduce can fail them.
"""

from __future__ import annotations

import os
import threading
import time

import hostile as H
import pytest
from conftest import compile_or_error, keras_trainable

import specgen
from specgen import limits

BOUND = 10.0  # seconds for one case; every case measured well under 1 s


def timed_compile(text: str, params: dict | None = None):
    """(Network or SpecError, seconds); any other exception fails the test."""
    start = time.perf_counter()
    result = compile_or_error(text, params)
    elapsed = time.perf_counter() - start
    assert elapsed < BOUND, f"{elapsed:.1f} s"
    return result


def test_nested_shared_lists_are_refused_quickly():
    err = timed_compile(H.nested_lists())
    assert isinstance(err, specgen.SpecError)
    assert "list has more than 10000 items" in err.diagnostics[0].message


def test_error_per_line_is_linear():
    text = H.largest(H.invalid_lines)
    assert text.count("\n") > 7_000
    err = timed_compile(text)
    assert isinstance(err, specgen.SpecError)
    assert all(d.code == "shuffle-divisibility" for d in err.diagnostics[:-1])
    assert len(err.render()) < 50_000  # capped, with a note of how many more


def test_long_call_chain():
    err = timed_compile(H.largest(H.call_chain))
    assert isinstance(err, specgen.SpecError)
    assert err.diagnostics[0].code == "limit"
    assert f"nested more than {limits.MAX_CALL_DEPTH} deep" in err.diagnostics[0].message


def test_many_blocks_calling_each_other():
    text = H.largest(H.call_fan)
    net = timed_compile(text)
    assert isinstance(net, specgen.Network), net
    assert net.output_shape == specgen.compile(H.HEAD + "    relu\n").output_shape


def test_long_call_cycle():
    err = timed_compile(H.largest(H.call_cycle))
    assert isinstance(err, specgen.SpecError)
    first = err.diagnostics[0]
    assert first.code == "recursive-block"
    assert len(first.message) < 1_000  # the cycle is abbreviated, not listed in full


def test_max_layers():
    net = timed_compile(H.max_layers())
    assert isinstance(net, specgen.Network)
    start = time.perf_counter()
    assert len(net.cost.layers) == limits.MAX_LAYERS
    assert time.perf_counter() - start < BOUND


def test_one_layer_too_many():
    err = timed_compile(H.max_layers() + "    relu\n")
    assert isinstance(err, specgen.SpecError)
    assert err.diagnostics[0].code == "limit"


def test_most_residuals():
    text = H.largest(H.residuals)
    net = timed_compile(text)
    assert isinstance(net, specgen.Network)
    assert net.cost.params == text.count("residual") * (16 * 16 + 16)


# 32 calls, 31 of them around a residual, and 1 more residual inside: 64 levels in all
DEEPEST = limits.MAX_CALL_DEPTH, limits.MAX_CALL_DEPTH - 1, 1


@pytest.fixture(scope="module")
def deepest():
    net = timed_compile(H.deep_nesting(*DEEPEST))
    assert isinstance(net, specgen.Network), net
    return net


def test_deepest_nesting_checks_and_costs(deepest):
    assert deepest.cost.params > 0
    assert max(name.count(".") for name in deepest.shapes) == DEEPEST[0]
    assert sum(DEEPEST) == limits.MAX_DEPTH


def test_nesting_one_deeper_is_an_error():
    err = timed_compile(H.deep_nesting(limits.MAX_CALL_DEPTH + 1, 0))
    assert isinstance(err, specgen.SpecError)
    assert err.diagnostics[0].code == "limit"
    err = timed_compile(H.deep_nesting(*DEEPEST[:2], DEEPEST[2] + 1))
    assert isinstance(err, specgen.SpecError)
    message = err.diagnostics[0].message
    assert message == f"blocks and composites nested more than {limits.MAX_DEPTH} deep"


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_deepest_nesting_emits(deepest, target):
    start = time.perf_counter()
    code = deepest.emit(target)
    assert time.perf_counter() - start < BOUND
    compile(code, f"<{target}>", "exec")  # Python's own parser accepts the nesting


def test_deepest_nesting_runs_in_torch(deepest):
    torch = pytest.importorskip("torch")
    module = deepest.to_torch().eval()
    assert sum(p.numel() for p in module.parameters()) == deepest.cost.params
    with torch.no_grad():
        out = module(torch.randn(1, *deepest.input_shape.as_list()))
    assert list(out.shape[1:]) == deepest.output_shape.as_list()[:1]


def test_huge_list_parameter_is_refused_quickly():
    err = timed_compile(H.HUGE_LIST_SPEC, H.huge_list_param())
    assert isinstance(err, specgen.SpecError)
    assert "more than 10000 items" in err.diagnostics[0].message


def test_endless_fifo_is_refused_after_the_size_limit(tmp_path):
    """`specgen check /dev/zero` never returned; the same stream made with a FIFO."""
    fifo = tmp_path / "endless.conv"
    os.mkfifo(fifo)
    stop = threading.Event()

    def feed() -> None:
        try:
            with open(fifo, "wb") as out:
                chunk = b"#" * 65536
                while not stop.is_set():
                    out.write(chunk)
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        err = timed_compile(str(fifo))
    finally:
        stop.set()
        writer.join(BOUND)
    assert isinstance(err, specgen.SpecError)
    assert f"larger than {limits.MAX_SOURCE_CHARS} characters" in err.diagnostics[0].message


def test_huge_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.conv"
    with open(path, "wb") as out:
        out.truncate(1 << 34)  # 16 GiB, sparse: reading it all would take minutes
    err = timed_compile(str(path))
    assert isinstance(err, specgen.SpecError)
    assert err.diagnostics[0].code == "limit"


def test_deepest_nesting_builds_in_keras(deepest):
    pytest.importorskip("keras")
    model = deepest.to_keras()
    assert keras_trainable(model) == deepest.cost.params
    assert list(model.output_shape[1:]) == deepest.output_shape.as_list()[:1]
