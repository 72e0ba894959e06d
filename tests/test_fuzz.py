"""Robustness: mutated examples, random token soup, random parameter values and hand-written
hostile inputs must end in a Network or a SpecError -- nothing else -- and quickly."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import pytest
from conftest import EXAMPLE_FILES, HEADER, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specgen

TIME_LIMIT = 2.0  # seconds for one compile
EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in EXAMPLE_FILES]

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NASTY = [
    "\x00", "\t", "\r", "\n", "\\", " ", "    ", "(", ")", "[", "]", "{", "}", ":", "=", ",", ".",
    "#", "x", "**", "//", "/", "%", "-", "+", "*", "é", "漢", "\u200b", "\ufeff", "\U0001f600",
    "in", "bn relu", "branch:", "shortcut:", "residual:", "concat:", "split:", "let", "block",
    "layers:", "network", "input", "conv", "gdc", "igc", "x 3", "group=", "sizes=[1, 2]",
    "1e999", "9" * 30, "0", "-1", "3x3", "3x3x3x3", "true", "false", "min(", "make_divisible(",
    "if", "elif", "else:", "for", "for i in range(3):", "assert", "import", 'import "x.conv"',
    "as", "as r", "and", "or", "not", "==", "!=", "<=", ">", " if 1 else ", "[i for i in ",
    '"', '"msg"', "range(", "zip(", "unique(", "count(", "log(", "round(",
]  # fmt: skip
NUMBERS = [
    "0", "-0", "-1", "-16", "1", "7", "99999999999999999999", "10**40", "2**53", "2**52",
    "65536", "65537", "1048577", "1e308", "1.5", "3x3", "(1)", "in", "g",
]  # fmt: skip


def compile_bounded(text: str, params: dict | None = None) -> None:
    """Compile `text`: a Network or a SpecError, within TIME_LIMIT seconds."""
    start = time.perf_counter()
    try:
        net = specgen.compile(text, params=params)
    except specgen.SpecError as err:
        assert err.diagnostics
        for d in err.diagnostics:
            assert isinstance(d.message, str) and d.message
            assert d.span.line >= 0 and d.span.column >= 0
        str(err)  # rendering must not fail either
    else:
        net.cost.layers, net.cost.blocks, net.shapes  # noqa: B018 - computed on demand
        assert net.cost.params >= 0 and net.cost.macs >= 0
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"compile took {elapsed:.2f} s"


# ---- mutated examples ----------------------------------------------------------------------------

index = st.integers(min_value=0, max_value=10**6)
mutation = st.one_of(
    st.tuples(st.just("delete"), index),
    st.tuples(st.just("duplicate"), index),
    st.tuples(st.just("swap"), index, index),
    st.tuples(st.just("insert"), index, st.sampled_from(NASTY)),
    st.tuples(st.just("insert"), index, st.text(min_size=1, max_size=4)),
    st.tuples(st.just("truncate"), index),
    st.tuples(st.just("number"), index, st.sampled_from(NUMBERS)),
    st.tuples(st.just("indent"), index, st.integers(min_value=0, max_value=13)),
)


def mutate(text: str, ops) -> str:
    import re

    for op in ops:
        lines = text.split("\n")
        kind = op[0]
        if kind == "delete" and lines:
            del lines[op[1] % len(lines)]
            text = "\n".join(lines)
        elif kind == "duplicate" and lines:
            i = op[1] % len(lines)
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        elif kind == "swap" and lines:
            i, j = op[1] % len(lines), op[2] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif kind == "insert":
            p = op[1] % (len(text) + 1)
            text = text[:p] + op[2] + text[p:]
        elif kind == "truncate":
            text = text[: op[1] % (len(text) + 1)]
        elif kind == "number":
            numbers = list(re.finditer(r"\d+", text))
            if numbers:
                m = numbers[op[1] % len(numbers)]
                text = text[: m.start()] + op[2] + text[m.end() :]
        elif kind == "indent" and lines:
            i = op[1] % len(lines)
            lines[i] = " " * op[2] + lines[i].lstrip(" ")
            text = "\n".join(lines)
    return text


@pytest.mark.slow
@settings(FUZZ, max_examples=500)
@given(base=st.sampled_from(EXAMPLE_TEXTS), ops=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_examples(base, ops):
    compile_bounded(mutate(base, ops))


@pytest.mark.slow
@settings(FUZZ, max_examples=150)
@given(base=st.sampled_from(EXAMPLE_TEXTS), ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_examples_with_crlf(base, ops):
    compile_bounded(mutate(base, ops).replace("\n", "\r\n"))


TOKENS = [
    "conv", "3x3", "out=", "in", "group=", "g", "bn", "relu", "x", "2", "16", "(", ")", "[", "]",
    ",", ":", "=", "residual:", "concat:", "split", "branch:", "shortcut:", "unit", "let",
    "gdc", "igc", "M=2", "L=8", "fc", "10", "gap", "flatten", "shuffle", "/", "//", "*", "-",
    "**", "#", "\n", "\n    ", "\n        ", "\n\t", " ", "sizes=[8, 8]",
]  # fmt: skip


@pytest.mark.slow
@settings(FUZZ, max_examples=300)
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=40), blocks=st.booleans())
def test_token_soup(tokens, blocks):
    body = " ".join(tokens)
    prefix = "block unit(g=2):\n    conv 1x1 out=in group=g\n" if blocks else ""
    compile_bounded("network n(g=2)\ninput 16x8x8\n" + prefix + "layers:\n    " + body + "\n")


param_value = st.one_of(
    st.integers(min_value=-(10**100), max_value=10**100),
    st.integers(min_value=-3, max_value=20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(min_value=-2, max_value=64), max_size=4),
    st.dictionaries(st.integers(min_value=0, max_value=8), st.integers(0, 400), max_size=3),
)
PARAMETERISED = {
    "shufflenet_v1.conv": ["g", "classes", "nope"],
    "mobilenet_v1.conv": ["width", "classes"],
    "igc_cifar.conv": ["M", "L", "n", "classes"],
    "group_conv.conv": ["g"],
    "gdc.conv": ["channels"],
}
PARAM_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in EXAMPLE_FILES}


@pytest.mark.slow
@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_random_parameter_values(data):
    name = data.draw(st.sampled_from(sorted(PARAMETERISED)))
    keys = data.draw(st.lists(st.sampled_from(PARAMETERISED[name]), min_size=1, unique=True))
    params = {k: data.draw(param_value) for k in keys}
    compile_bounded(PARAM_TEXTS[name], params)


# ---- hand-written hostile inputs -----------------------------------------------------------------


def must_fail(text: str, code: str | None = None, params: dict | None = None):
    start = time.perf_counter()
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(text, params=params)
    assert time.perf_counter() - start < TIME_LIMIT
    if code is not None:
        assert code in info.value.codes, str(info.value)
    return info.value


def test_ten_thousand_nested_parens():
    text = HEADER + "    conv 3x3 out=" + "(" * 10_000 + "8" + ")" * 10_000 + "\n"
    start = time.perf_counter()
    net = specgen.compile(text)
    assert time.perf_counter() - start < TIME_LIMIT
    assert net.output_shape.c == 8


def test_ten_thousand_unclosed_parens():
    must_fail(HEADER + "    conv 3x3 out=" + "(" * 10_000 + "8\n", "syntax")


def test_nested_lists_and_calls():
    must_fail(HEADER + "    conv 3x3 out=" + "[" * 100 + "1" + "]" * 100 + "\n", "limit")
    must_fail(HEADER + "    conv 3x3 out=" + "min(" * 100 + "1" + ")" * 100 + "\n", "limit")
    must_fail(HEADER + "    conv 3x3 out=" + "-" * 1000 + "1\n", "limit")


def test_hundred_thousand_terms():
    must_fail(HEADER + "    conv 3x3 out=" + "+".join(["1"] * 100_000) + "\n", "limit")


def test_huge_repeat():
    err = must_fail(HEADER + "    relu x 99999999\n", "limit")
    assert (err.line, err.column) == (4, 12)


def test_repeat_of_repeats_hits_the_layer_limit():
    text = (
        "network n\ninput 16x8x8\nblock a:\n    relu x 10000\nblock b:\n    a x 10000\n"
        "block c:\n    b x 10000\nlayers:\n    c x 10000\n"
    )
    err = must_fail(text, "limit")
    assert "more than 100000 layers" in err.message


def chain_of_blocks(n: int) -> str:
    defs = "".join(f"block b{i}:\n    b{i + 1}\n" for i in range(n))
    return f"network n\ninput 16x8x8\n{defs}block b{n}:\n    relu\nlayers:\n    b0\n"


def test_deeply_nested_block_calls():
    err = must_fail(chain_of_blocks(200), "limit")
    assert "block calls nested more than 32 deep" in err.message
    assert len(err.chain) == 32


def test_very_long_chain_of_block_definitions():
    # longer than the recursion limit in force (importing TensorFlow raises it to 3000)
    n = sys.getrecursionlimit() + 100
    try:
        err = must_fail(chain_of_blocks(n), "limit")
    except RecursionError:
        # raised again with a short traceback: pytest formats 1000 frames slowly
        raise RecursionError("maximum recursion depth exceeded in analyze()") from None
    assert "block calls nested more than 32 deep" in err.message


def test_deeply_nested_composites():
    body = "".join("  " * (i + 1) + "residual:\n" for i in range(300)) + "  " * 301 + "relu\n"
    must_fail(HEADER + body, "limit")


def test_one_megabyte_of_text():
    text = HEADER + "    relu\n" + ("# " + "a" * 1022 + "\n") * 1024
    assert len(text) > 1_000_000
    err = must_fail(text, "limit")
    assert "spec is larger than 100000 characters" in err.message


def test_just_under_the_size_limit_in_comments():
    text = HEADER + "    relu\n" + ("# " + "a" * 97 + "\n") * 990
    assert 99_000 < len(text) < 100_000
    start = time.perf_counter()
    assert specgen.compile(text).cost.params == 0
    assert time.perf_counter() - start < TIME_LIMIT


CHILD = """
import sys, time
import specgen
text = open(sys.argv[1], encoding="utf-8").read()
start = time.perf_counter()
try:
    specgen.compile(text)
except specgen.SpecError:
    pass
print(time.perf_counter() - start)
"""


def compile_time_in_child(tmp_path, text: str, limit: float) -> float:
    """Seconds one compile of `text` takes, measured in a fresh interpreter that is killed
    (TimeoutError) when it runs past `limit` plus two seconds for starting up."""
    path = tmp_path / "spec.conv"
    path.write_text(text, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=limit + 2,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"compiling took more than {limit} s") from None
    assert done.returncode == 0, done.stderr
    return float(done.stdout)


def test_just_under_the_size_limit_in_statements(tmp_path):
    text = HEADER + "    relu\n" * 110_000
    assert len(text) < 1_000_000
    assert compile_time_in_child(tmp_path, text, 5.0) < 5.0


def test_power_tower():
    err = must_fail(HEADER + "    conv 3x3 out=2**2**2**2**2\n", "limit")
    assert "exponent 65536 is too large" in err.message


def test_long_line_of_trailing_layers():
    text = HEADER + "    conv 3x3 out=8" + " relu" * 5_000 + "\n"
    start = time.perf_counter()
    net = specgen.compile(text)
    assert time.perf_counter() - start < TIME_LIMIT
    assert len(net.cost.layers) == 5_001


def test_binary_garbage_text():
    must_fail(bytes(range(1, 256)).decode("latin-1") * 10)
    must_fail("\x00" * 1000, "binary")


def test_many_errors():
    err = must_fail(HEADER + "    conb 3x3\n" * 500, "unknown-layer")
    assert [d.span.line for d in err.diagnostics][:3] == [4, 5, 6]


def test_many_errors_are_bounded_in_time(tmp_path):
    text = HEADER + "    conb 3x3 groups=2\n" * 5000
    assert compile_time_in_child(tmp_path, text, TIME_LIMIT) < TIME_LIMIT


@pytest.mark.parametrize("param", ["g", "classes"])
def test_huge_int_parameter(param):
    text = PARAM_TEXTS["shufflenet_v1.conv"]
    must_fail(text, params={param: 10**5000})


def test_nan_parameter():
    err = must_fail(PARAM_TEXTS["mobilenet_v1.conv"], params={"width": math.nan})
    assert err.codes == ["parameter-type"]
    assert (err.line, err.column) == (3, 22)


# ---- families: random programs with loops, conditionals, comprehensions, asserts, `as` ------

NAMES = ["i", "j", "c", "w", "n", "xs", "in", "nope"]
atom = st.one_of(
    st.sampled_from(["0", "1", "2", "3", "8", "16", "-1", "0.5", "true", "false", "[]", "[1, 2]"]),
    st.sampled_from(NAMES),
)


def _expr(children):
    binary = st.tuples(children, st.sampled_from(["+", "*", "//", "/", "%", "==", "<", "and", "or"]),
                       children).map(" ".join)  # fmt: skip
    return st.one_of(
        binary,
        st.tuples(children, children, children).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        children.map(lambda e: f"not {e}"),
        children.map(lambda e: f"[{e} for i in range(3)]"),
        children.map(lambda e: f"[i for i in xs if {e}]"),
        children.map(lambda e: f"len([{e}])"),
        children.map(lambda e: f"xs[{e}]"),
        st.sampled_from(["unique(xs)", "count(xs)", "zip(xs, xs)", "enumerate(xs)", "sum(xs)"]),
    )


expr = st.recursive(atom, _expr, max_leaves=6)
LAYERS = ["relu", "bn", "conv 3x3 out={}", "conv 1x1 out={} bn relu", "dwconv 3x3 stride={}",
          "shuffle group={}", "maxpool 2 stride={}", "unit({})", "relu as r{}"]  # fmt: skip


def _lines(children):
    header = st.one_of(
        expr.map(lambda e: f"if {e}:"),
        expr.map(lambda e: f"elif {e}:"),
        st.just("else:"),
        expr.map(lambda e: f"for i in {e}:"),
        expr.map(lambda e: f"for i, j in {e}:"),
        st.sampled_from(["residual:", "shortcut:", "concat:", "branch:"]),
    )
    nested = st.tuples(header, children).map(lambda t: [t[0]] + ["    " + line for line in t[1]])
    return st.lists(st.one_of(nested, children), min_size=1, max_size=3).map(
        lambda parts: [line for part in parts for line in part]
    )


simple_line = st.one_of(
    st.tuples(st.sampled_from(LAYERS), expr).map(lambda t: [t[0].format(t[1])]),
    expr.map(lambda e: [f"let w = {e}"]),
    expr.map(lambda e: [f'assert {e}, "rule"']),
)
body = st.recursive(simple_line, _lines, max_leaves=12)


@pytest.mark.slow
@settings(FUZZ, max_examples=400)
@given(lines=body, lets=st.lists(expr, max_size=2))
def test_family_programs(lines, lets):
    """Random bodies of the family syntax: a Network or a SpecError, and quickly."""
    head = "network n(c=16, n=2, xs=[1, 2, 4])\ninput 16x8x8\n"
    head += "".join(f"let v{k} = {e}\n" for k, e in enumerate(lets))
    head += "block unit(c):\n    conv 1x1 out=c\n"
    compile_bounded(head + "layers:\n" + "".join("    " + line + "\n" for line in lines))


@pytest.mark.slow
@settings(FUZZ, max_examples=100)
@given(path=st.sampled_from(["x.conv", "../x.conv", "/dev/null", "", "a\\b.conv", "lib.txt",
                             "." * 300 + ".conv", "\u00e9.conv"]))  # fmt: skip
def test_random_imports(path):
    compile_bounded(f'network n\ninput 3x8x8\nimport "{path}"\nlayers:\n    relu\n')
