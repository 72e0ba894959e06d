"""The Python API boundary: hostile parameter objects, wrong Python types, and the memory check.

Values from Python callers are re-created from their numbers (specgen/values.py), so an `int`
or `float` subclass whose `__str__`, `__repr__` or `__format__` returns code can never reach
generated source; wrong Python types raise a documented TypeError; bad values a SpecError.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping
from fractions import Fraction

import pytest
from conftest import keras_trainable

import specgen
import specgen.compiler

SPEC = """network n(w=16, widths=[8, 16], table={1: 8}, p=0.5, flag=true)
input 16x8x8
layers:
    conv 3x3 out=w bn relu
    conv 1x1 out=widths[1] group=table[1] / 8
    dropout p
    gap
    fc 4 bias=flag
"""

PAYLOAD = '__import__("pathlib").Path({marker!r}).write_text("pwned")'


def evil_types(marker: str):
    code = PAYLOAD.format(marker=marker)

    class EvilInt(int):
        def __str__(self) -> str:
            return code

        __repr__ = __str__

        def __format__(self, spec: str) -> str:
            return code

        def __index__(self) -> int:  # claims another value than it holds
            return 3

    class EvilFloat(float):
        def __repr__(self) -> str:
            return '0.5"""\n' + code + '\n"""'

        __str__ = __repr__

        def __format__(self, spec: str) -> str:
            return repr(self)

    class EvilStr(str):
        def __format__(self, spec: str) -> str:
            return code

        __str__ = __repr__ = __format__

    return EvilInt, EvilFloat, EvilStr


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_subclass_values_never_reach_generated_code(tmp_path, target):
    marker = str(tmp_path / "pwned")
    EvilInt, EvilFloat, EvilStr = evil_types(marker)
    params = {
        EvilStr("w"): EvilInt(16),
        "widths": [EvilInt(8), EvilInt(16)],
        "table": {EvilInt(1): EvilInt(8)},
        "p": EvilFloat(0.5),
    }
    net = specgen.compile(SPEC, params)
    assert net.cost.params == specgen.compile(SPEC).cost.params
    assert all(type(v) in (int, float, bool, list) or v.__class__.__name__ == "Table"
               for v in net.params.values())  # fmt: skip
    code = net.emit(target)
    assert "pathlib" not in code and "pwned" not in code and marker not in code
    assert code.count('"""') % 2 == 0
    if target == "torch":
        pytest.importorskip("torch")
        module = net.to_torch()
        assert sum(p.numel() for p in module.parameters()) == net.cost.params
    else:
        pytest.importorskip("keras")
        assert keras_trainable(net.to_keras()) == net.cost.params
    assert not (tmp_path / "pwned").exists()


def test_numpy_scalars_are_plain_numbers():
    np = pytest.importorskip("numpy")
    net = specgen.compile(SPEC, {"w": np.int64(32), "p": np.float32(0.25)})
    assert type(net.params["w"]) is int and net.params["w"] == 32
    assert type(net.params["p"]) is float and net.params["p"] == 0.25


@pytest.mark.parametrize(
    "value, phrase",
    [
        ("16", "not a number, list or table (str)"),
        (b"16", "not a number, list or table (bytes)"),
        (None, "not a number, list or table (NoneType)"),
        (object(), "not a number, list or table (object)"),
        (Fraction(1, 2), "expects a value like 16, got 0.5"),
        (math.nan, "too large or not finite"),
        (math.inf, "too large or not finite"),
        (10**400, "too large"),
        (lambda: 16, "not a number, list or table (function)"),
    ],
)
def test_values_that_are_not_numbers(value, phrase):
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(SPEC, {"w": value})
    assert phrase in info.value.diagnostics[0].message


def test_self_referencing_list():
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(SPEC, {"widths": loop})
    assert "contains itself" in info.value.diagnostics[0].message


def test_deep_list():
    deep: list = [8]
    for _ in range(5_000):
        deep = [deep]
    start = time.perf_counter()
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(SPEC, {"widths": deep})
    assert time.perf_counter() - start < 5
    assert "nested more than 32 deep" in info.value.diagnostics[0].message


def test_deep_list_beyond_the_recursion_limit():
    deep: list = [8]
    for _ in range(sys.getrecursionlimit() * 3):
        deep = [deep]
    with pytest.raises(specgen.SpecError):
        specgen.compile(SPEC, {"widths": deep})


def test_mapping_that_fails_to_list_itself():
    class Broken(Mapping):
        def __getitem__(self, key):
            raise KeyError(key)

        def __iter__(self):
            raise RuntimeError("no")

        def __len__(self) -> int:
            return 1

    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(SPEC, {"table": Broken()})
    assert "could not be read" in info.value.diagnostics[0].message


def test_too_many_parameter_values():
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(SPEC, {f"p{i}": 1 for i in range(20_000)})
    assert info.value.diagnostics[0].code == "limit"


@pytest.mark.parametrize("spec", [None, 5, 1.5, ["network"], object()])
def test_spec_of_the_wrong_type(spec):
    with pytest.raises(TypeError, match="spec must be a path, the spec's text"):
        specgen.compile(spec)


def test_spec_as_bytes():
    net = specgen.compile(SPEC.encode())
    assert net.cost.params == specgen.compile(SPEC).cost.params
    assert specgen.compile(bytearray(b"\xef\xbb\xbf" + SPEC.encode())).name == "n"
    with pytest.raises(specgen.SpecError, match="not UTF-8"):
        specgen.compile(b"network n\n\xff\n")
    with pytest.raises(specgen.SpecError, match="binary file"):
        specgen.compile(b"network n\x00\n")


@pytest.mark.parametrize("params", [[("w", 16)], "w=16", 16, {"w"}])
def test_params_of_the_wrong_type(params):
    with pytest.raises(TypeError, match="params must be a mapping"):
        specgen.compile(SPEC, params)


@pytest.mark.parametrize("key", [1, None, b"w", ("w",)])
def test_parameter_names_of_the_wrong_type(key):
    with pytest.raises(TypeError, match="parameter names must be str"):
        specgen.compile(SPEC, {key: 16})


def test_unknown_parameter_name_is_a_spec_error():
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(SPEC, {"W": 16})
    assert info.value.diagnostics[0].code == "unknown-parameter"


LARGE = "network big\ninput 8x8x8\nlayers:\n    conv 3x3 out=1048576 bias=false\n"


def test_large_model_warns_before_allocating():
    net = specgen.compile(LARGE)
    assert net.cost.params == 8 * 9 * 1048576
    assert net.memory_warning is None  # 0.3 GiB
    big = specgen.compile(LARGE + "    conv 1x1 out=1024 bias=false\n")
    assert big.weight_bytes == 4 * (8 * 9 + 1024) * 1048576
    assert "4.3 GiB of fp32 weights" in big.memory_warning


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_build_refuses_what_memory_cannot_hold(monkeypatch, target):
    monkeypatch.setattr(specgen.compiler, "available_memory", lambda: 1 << 20)
    net = specgen.compile(LARGE)
    build = net.to_torch if target == "torch" else net.to_keras
    with pytest.raises(specgen.SpecError) as info:
        build()
    first = info.value.diagnostics[0]
    assert first.code == "memory" and "0.0 GiB of memory is available" in first.message
    assert "check_memory=False" in first.hint
    small = specgen.compile("network s\ninput 3x8x8\nlayers:\n    conv 1x1 out=4\n")
    pytest.importorskip(target)
    build = small.to_torch if target == "torch" else small.to_keras
    assert build() is not None  # 16 parameters fit in 1 MiB


def test_memory_check_can_be_overridden(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(specgen.compiler, "available_memory", lambda: 1)
    net = specgen.compile("network s\ninput 3x8x8\nlayers:\n    conv 1x1 out=4\n")
    with pytest.raises(specgen.SpecError):
        net.to_torch()
    module = net.to_torch(check_memory=False)
    assert sum(p.numel() for p in module.parameters()) == 16


def test_available_memory_is_known_here():
    available = specgen.compiler.available_memory()
    assert available is None or available > 0
