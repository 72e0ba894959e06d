"""Issue 18 (hardening, round 2), the language core: one evaluation budget per compile, a
budget for imported text, files known by inode, parse caches bounded by size, booleans that
are not numbers, a warning for huge activations, and the rough edges of residual errors."""

from __future__ import annotations

import os
import time

import pytest
from conftest import HEADER, compile_error, compile_or_error, compile_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specgen
from specgen import compiler, limits
from specgen.language.parse import TextCache, parse

CPU_BOUND = 5.0  # seconds of CPU for one compile at any limit (the bound)


def timed(text: str, params: dict | None = None):
    """(Network or SpecError, CPU seconds); any other exception fails the test."""
    start = time.process_time()
    result = compile_or_error(text, params)
    return result, time.process_time() - start


def limit_error(text: str, params: dict | None = None) -> specgen.SpecError:
    """The SpecError of a spec that must stop at the evaluation budget, quickly."""
    result, cpu = timed(text, params)
    assert cpu < CPU_BOUND, f"{cpu:.1f} s"
    assert isinstance(result, specgen.SpecError), result
    first = result.diagnostics[0]
    assert first.code == "limit", first.message
    assert f"more than {limits.MAX_STEPS} steps" in first.message
    assert first.span.line > 0  # located
    return result


# ---- 2. one budget for all evaluation work ------------------------------------------------

# 90,000 iterations: within the old per-expression budget of 100,000
COMPREHENSION = "[a for a in range(300) for b in range(300) if a < 0]"


def test_a_comprehension_inside_a_loop_draws_on_one_budget():
    """The budgets of comprehensions and loops multiplied: 20 iterations of a comprehension
    of 90,000 each compiled (in 9 s; 10,000 of them would take hours)."""
    text = HEADER + f"    for i in range(20):\n        let xs = {COMPREHENSION}\n    relu\n"
    err = limit_error(text)
    first = err.diagnostics[0]
    assert (first.span.line, first.span.column) == (5, 18)  # the comprehension
    assert first.chain[-1].iteration > 1  # in an iteration of the loop, named


def test_top_level_lets_share_the_budget():
    lets = "".join(f"let x{i} = {COMPREHENSION}\n" for i in range(15))
    err = limit_error("network n\ninput 16x8x8\n" + lets + "layers:\n    relu\n")
    assert 3 <= err.diagnostics[0].span.line <= 17


BLOCK = "block b(k):\n    let xs = [a for a in range(1000) if a < k]\n    relu\n"


@pytest.mark.parametrize(
    "call",
    [
        "    for i in range(3000):\n        b(i)\n",  # a new instantiation every time
        "    for i in range(3000):\n        b(1)\n",  # the same one: cached, charged as new
        "    b(1) x 3000\n",  # repeated copies, taken from the first
    ],
)
def test_block_calls_pay_for_their_bodies_even_when_cached(call):
    err = limit_error("network n\ninput 16x8x8\n" + BLOCK + "layers:\n" + call)
    assert err.diagnostics[0].code == "limit"


def test_a_cached_layer_line_pays_for_its_arguments():
    line = "        conv 1x1 out=16 * len([0 for j in range(1000)]) // 1000\n"
    limit_error(HEADER + "    for i in range(3000):\n" + line)


def test_imported_blocks_called_in_a_loop_count_too(tmp_path):
    (tmp_path / "lib.conv").write_text(BLOCK)
    (tmp_path / "net.conv").write_text(
        'network n\ninput 16x8x8\nimport "lib.conv"\nlayers:\n'
        "    for i in range(3000):\n        b(i)\n"
    )
    start = time.process_time()
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(str(tmp_path / "net.conv"))
    assert time.process_time() - start < CPU_BOUND
    first = info.value.diagnostics[0]
    assert first.code == "limit" and first.span.file == str(tmp_path / "lib.conv")
    assert first.span.line == 2 and first.chain[-1].block == "b"


def test_the_outcome_does_not_depend_on_earlier_compiles():
    """Instantiations cached by one compile are charged to the next as if made again: a
    compile that ran out of steps must not succeed when retried (it once would, each retry
    reaching further with the instantiations the last one left in the cache)."""
    text = "network n(n=3000)\ninput 16x8x8\n" + BLOCK + "layers:\n"
    text += "    for i in range(n):\n        b(i % 50)\n"
    compiler._analyzed.cache_clear()
    cold = compile_error(text).render()  # nothing cached yet
    compile_text(text, {"n": 50})  # warms the cache with every instantiation
    first = compile_error(text).render()
    assert first == cold
    assert compile_error(text).render() == first


def test_analysis_of_constant_arguments_is_bounded():
    """Constant arguments are evaluated once, when the spec is analysed: 1,900 lines of
    10,000-iteration comprehensions took 19 million iterations before anything else."""
    line = "    conv 1x1 out=len([0 for i in range(9999)]) // 625\n"
    text = HEADER + line * ((limits.MAX_SOURCE_CHARS - len(HEADER)) // len(line))
    result, cpu = timed(text)
    assert cpu < 2 * CPU_BOUND  # parsing 100,000 characters takes its share
    assert isinstance(result, specgen.SpecError)
    first = result.diagnostics[0]
    assert first.code == "limit" and first.span.line > 3


def test_block_calls_with_a_large_list_argument_are_cheap():
    """A block called with the same 10,000-item list hashed that list at every call (its
    key in the cache of instantiations): 60,000 calls took ~23 s, now ~1.6 s (5.5 s seen on a
    machine loaded with other work, hence the generous bound)."""
    text = "network n\ninput 16x8x8\nlet big = [[j for j in range(99)] for i in range(100)]\n"
    text += "block b(k, l):\n    identity\nlayers:\n"
    text += "    for i in range(6):\n        for j in range(10000):\n            b(j, big)\n"
    net, cpu = timed(text)
    assert isinstance(net, specgen.Network), net
    assert cpu < 2 * CPU_BOUND, f"{cpu:.1f} s"


def test_real_networks_use_a_small_part_of_the_budget():
    import specgen.elaborate as E

    budgets = []
    real = E.Elaborator.__init__

    def spy(self, program, analysis, budget=None):
        real(self, program, analysis, budget)
        budgets.append(self.budget)

    E.Elaborator.__init__ = spy
    try:
        for name in ("regnet.conv", "mobilenet_v3.conv", "efficientnet.conv"):
            specgen.compile(os.path.join(os.path.dirname(__file__), "..", "examples", name))
    finally:
        E.Elaborator.__init__ = real
    assert all(limits.MAX_STEPS - b.left < limits.MAX_STEPS // 100 for b in budgets)


# Random nesting of loops, comprehensions, lets and block calls, at the limits: every compile
# ends within the CPU bound, with a network or a located `limit` error.
_sizes = st.sampled_from([1, 7, 300, 3000, 10000])


@st.composite
def _comprehension(draw, depth: int = 0) -> str:
    """`len([...])` of 1-3 clauses, maybe filtered, whose element may be another one."""
    clauses = draw(st.integers(1, 3))
    parts = [f"for a{depth}{k} in range({draw(_sizes)})" for k in range(clauses)]
    if draw(st.booleans()):
        parts.append(f"if a{depth}0 < 0")
    nested = depth < 2 and draw(st.booleans())
    element = draw(_comprehension(depth + 1)) if nested else f"a{depth}0"
    return f"len([{element} {' '.join(parts)}])"


@st.composite
def _spec(draw) -> str:
    counter = iter(range(10_000))
    lets = "".join(
        f"let t{next(counter)} = {draw(_comprehension())}\n"
        for _ in range(draw(st.integers(0, 3)))
    )
    block = f"block b(k):\n    let w = {draw(_comprehension())}\n    relu\n"

    def body(depth: int, indent: str) -> str:
        out = ""
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["let", "call", "same", "layer", "for"]))
            if kind == "for" and depth < 3:
                out += f"{indent}for i{depth} in range({draw(_sizes)}):\n"
                out += body(depth + 1, indent + "    ")
            elif kind == "let":
                out += f"{indent}let v{next(counter)} = {draw(_comprehension())}\n"
            elif kind == "call":
                out += f"{indent}b({'i0' if depth else 1})\n"
            elif kind == "same":
                out += f"{indent}b(1) x {draw(_sizes)}\n"
            else:
                out += f"{indent}relu\n"
        return out

    return "network n\ninput 16x8x8\n" + lets + block + "layers:\n" + body(0, "    ")


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_spec())
def test_random_nesting_at_the_limits_stays_bounded(text):
    result, cpu = timed(text)
    assert cpu < CPU_BOUND, f"{cpu:.1f} s\n{text}"
    if isinstance(result, specgen.SpecError):
        first = result.diagnostics[0]
        assert first.code == "limit" and first.span.line > 0, result.render()


# ---- 3. a budget for imported text ----------------------------------------------------------


def _library(name: str, chars: int) -> str:
    """Blocks named `name0`, `name1`, ... in at most `chars` characters."""
    text = ""
    while len(text) + 40 <= chars:
        text += f"block {name}{text.count('block')}():\n    relu\n"
    return text


def test_imported_files_have_a_total_size_budget(tmp_path, cli):
    """256 files each under the size limit were parsed in full: 3.5 min and 2.9 GB."""
    per_file = limits.MAX_IMPORTED_CHARS // 2 - 1_000
    for k in range(3):
        (tmp_path / f"lib{k}.conv").write_text(_library(f"l{k}_", per_file))
    imports = "".join(f'import "lib{k}.conv"\n' for k in range(3))
    (tmp_path / "net.conv").write_text(
        "network n\ninput 3x8x8\n" + imports + "layers:\n    l0_0()\n"
    )
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(str(tmp_path / "net.conv"))
    first = info.value.diagnostics[0]
    assert first.code == "limit" and first.span.line == 5  # the third import
    assert f"more than {limits.MAX_IMPORTED_CHARS} characters" in first.message
    result = cli("check", str(tmp_path / "net.conv"))
    assert result.code == 2 and "Traceback" not in result.err
    assert "net.conv:5:8: error: the imported files hold more than" in result.err


# ---- 13. a file is known by its inode --------------------------------------------------------


@pytest.mark.parametrize("make", [os.link, os.symlink])
def test_a_file_imported_through_a_link_is_loaded_once(tmp_path, make):
    (tmp_path / "a.conv").write_text("block b():\n    relu\n")
    make(tmp_path / "a.conv", tmp_path / "other.conv")
    (tmp_path / "net.conv").write_text(
        'network n\ninput 3x8x8\nimport "a.conv"\nimport "other.conv"\nlayers:\n    b()\n'
    )
    net = specgen.compile(str(tmp_path / "net.conv"))
    assert len(net.cost.layers) == 1


def test_a_cycle_through_a_hard_link_is_refused(tmp_path):
    (tmp_path / "a.conv").write_text('import "b.conv"\nblock x():\n    relu\n')
    (tmp_path / "b.conv").write_text('import "link.conv"\n')
    os.link(tmp_path / "a.conv", tmp_path / "link.conv")
    (tmp_path / "net.conv").write_text(
        'network n\ninput 3x8x8\nimport "a.conv"\nlayers:\n    x()\n'
    )
    with pytest.raises(specgen.SpecError, match="import cycle: a.conv → b.conv → link.conv"):
        specgen.compile(str(tmp_path / "net.conv"))


# ---- 16. caches bounded by the size of their texts -------------------------------------------


def test_text_cache_is_bounded_by_characters():
    cache = TextCache(chars=100, entries=10)
    for k in range(5):
        cache.put(k, f"value{k}", 30)
    assert cache.cache_info().chars <= 100 and cache.cache_info().entries == 3
    assert cache.get(0) is None and cache.get(4) == "value4"  # least recently used go first
    cache.get(2)
    cache.put(5, "value5", 30)  # evicts 3, not the 2 just used
    assert cache.get(2) == "value2" and cache.get(3) is None
    cache.put(6, "huge", 101)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get(6) is None and cache.cache_info().entries == 3


def test_text_cache_is_bounded_by_entries():
    cache = TextCache(chars=1_000, entries=2)
    for k in range(4):
        cache.put(k, k + 1, 1)
    assert cache.cache_info().entries == 2 and cache.get(3) == 4


def test_the_parse_caches_are_bounded_by_size():
    from specgen.compiler import _analyzed
    from specgen.language.parse import CACHE_CHARS, parse_library

    for fn in (parse, parse_library, _analyzed):
        info = fn.cache_info()
        assert info.chars <= CACHE_CHARS, fn
        assert fn.cache.max_chars == CACHE_CHARS
    assert CACHE_CHARS >= 4 * limits.MAX_SOURCE_CHARS  # several of the largest specs fit
    text = HEADER + "    relu\n" + "# unique\n" * 3
    assert parse(text) is parse(text)  # still a cache


# ---- 17. booleans are not numbers ------------------------------------------------------------


def _value(expr: str):
    return compile_text(f"network n(v={expr})\ninput 16x8x8\nlayers:\n    relu\n").params["v"]


@pytest.mark.parametrize(
    "expr",
    ["true < 2", "2 >= false", "[true] < [2]", "true == 1", "0 != false", "[1, true] == [1, 1]"],
)
def test_booleans_do_not_compare_with_numbers(expr):
    err = compile_error(f"network n(v={expr})\ninput 16x8x8\nlayers:\n    relu\n")
    first = err.diagnostics[0]
    assert first.message.startswith("cannot compare") and "boolean" in first.hint
    assert "booleans are not numbers" in first.hint
    assert first.span.line == 1 and first.span.column > 12  # at the right operand


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("true == true", True),
        ("false != true", True),
        ("1 == 1.0", True),
        ("[1, 2] == [1, 2.0]", True),
        ("[1] == 1", False),
        ("[true] == [true]", True),
        ("[1, 2] == [1, 2, 3]", False),
        ("1 < 2.5", True),
    ],
)
def test_comparisons_that_stay_valid(expr, expected):
    assert _value(expr) is expected


def test_a_boolean_parameter_compared_with_a_number_is_reported_where_it_is_written():
    text = "network n(use_se=true)\ninput 16x8x8\nlayers:\n    if use_se == 1:\n        relu\n"
    first = compile_error(text).diagnostics[0]
    assert (first.span.line, first.span.column) == (4, 18)


# ---- 19. a warning for huge activations ----------------------------------------------------


def test_huge_activations_warn(cli, tmp_path):
    text = "network big\ninput 3x65536x65536\nlayers:\n    conv 3x3 out=8\n"
    net = compile_text(text)
    assert net.activation_bytes == 4 * (3 + 8) * 65536 * 65536
    warning = net.memory_warning
    assert warning is not None and "176.0 GiB of fp32 activations" in warning
    assert "parameters" not in warning  # the weights are small
    (tmp_path / "big.conv").write_text(text)
    result = cli("check", str(tmp_path / "big.conv"))
    assert result.code == 0 and "warning: one forward of big at batch 1" in result.err


def test_ordinary_activations_do_not_warn():
    net = compile_text("network n\ninput 3x224x224\nlayers:\n    conv 3x3 out=64 bn relu\n")
    assert net.memory_warning is None
    assert net.activation_bytes < limits.LARGE_ACTIVATION_BYTES


# ---- rough edges ---------------------------------------------------------------------------


def test_a_strided_layer_is_named_for_a_residual_mismatch_of_height_and_width():
    text = HEADER.replace("16x8x8", "16x32x32") + (
        "    residual:\n        conv 3x3 stride=2 bn relu\n        conv 1x1 out=32 bn\n"
    )
    first = compile_error(text).diagnostics[0]
    assert first.code == "residual-shape"
    assert first.span.line == 5  # the strided conv, not the conv 1x1 after it
    assert "line 6 changes the channels too" in first.hint


def test_a_residual_mismatch_in_repeated_copies_is_reported_once():
    text = (
        "network r\ninput 16x32x32\nblock unit():\n    residual:\n"
        "        conv 3x3 stride=2 bn relu\n        conv 3x3 bn\n    relu\n"
        "layers:\n    unit() x 2\n"
    )
    err = compile_error(text)
    assert len(err.diagnostics) == 1
    assert err.diagnostics[0].message.endswith("(and in 1 more copy)")


def test_x_after_a_composite_says_how_to_repeat_it():
    text = HEADER + "    residual:\n        conv 3x3 bn\n    x 3\n"
    first = compile_error(text).diagnostics[0]
    assert first.message == "unknown layer or block `x`"
    assert "wrap it in a block and repeat the call" in first.hint


def test_the_analysis_caches_are_bounded_across_the_process(monkeypatch):
    """What the cached analyses hold grows with compiles, not text (distinct block calls): the
    layers they hold are bounded for the whole process, whatever the number of specs."""
    from specgen.elaborate import analysis as bounds

    monkeypatch.setattr(bounds, "MAX_CACHED_LAYERS", 500)

    def spec(i: int) -> str:
        return (
            f"network bounded{i}\ninput 3x8x8\nblock b(k):\n    conv 1x1 out=k\n"
            "layers:\n    for k in range(1, 101):\n        b(k)\n"
        )

    nets = [specgen.compile(spec(i)) for i in range(12)]  # ~200 layers cached each
    held = 0
    for i in range(12):
        analysis = compiler._analyzed(spec(i), "<spec>", ())[1]
        held += sum(n.layer_count for n in analysis.blocks.values()) + len(analysis.lines)
    assert 0 < bounds._cached[0] <= 500 and held <= 500
    # emptied caches lose sharing, never correctness
    again = [specgen.compile(spec(i)) for i in range(12)]
    assert [n.cost.params for n in again] == [n.cost.params for n in nets]


def test_the_declared_default_type_governs_a_given_value():
    """An int given for a float parameter is a float (`--set wa=36` on RegNet's `wa=24.48`:
    as an int, `/` refused 36 / 24 as inexact); a bool for an int parameter is refused."""
    regnet = os.path.join(os.path.dirname(__file__), "..", "examples", "regnet.conv")
    net = specgen.compile(regnet, {"wa": 36})
    assert net.params["wa"] == 36.0 and type(net.params["wa"]) is float
    assert net.cost.params == specgen.compile(regnet, {"wa": 36.0}).cost.params
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(regnet, {"depth": True})
    assert info.value.diagnostics[0].code == "parameter-type"
    assert "got true" in info.value.diagnostics[0].message


def test_a_file_ending_in_an_open_block_without_a_line_break_is_placed_on_its_last_line():
    """Found by the fuzz campaign (seed 105202): `shortcut:` as the file's last text, with
    no final line break, was reported at a line past the end of the file."""
    text = "network n\ninput 3x8x8\nlayers:\n    residual:\n        conv 1x1\n        shortcut:"
    err = compile_error(text)
    d = err.diagnostics[0]
    assert d.code == "syntax" and (d.span.line, d.span.column) == (6, 18), d.span
    assert "^" in err.render()
