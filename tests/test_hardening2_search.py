"""Issue 18 (hardening, round 2), the search items: resumed studies compared by their
signature, storage passwords masked, lazy sampling, `search -`, objective values checked,
cost-term names refused in searches, rich's progress bar, `net.params` lists."""

from __future__ import annotations

import io
import math
import random
import sys
import time

import pytest
from conftest import EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

import specgen
from specgen.language import points
from specgen.tools.search import Objective, masked_url, render_table

IGC = EXAMPLES / "igc_search.conv"
SMALL = "network n(c: choice(4, 8) = 4)\ninput 3x8x8\nlayers:\n    conv 1x1 out=c\n"


# ---- 8: points are drawn one at a time ------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3000), st.integers(0, 3000), st.integers(0, 2**32 - 1), st.booleans())
def test_distinct_draws_are_pythons_sample_one_at_a_time(size, k, seed, huge):
    """The lazy draw takes the same numbers from the generator as `random.sample`, so a seed
    gives the points it always gave (the docs' tables stay true)."""
    size = size * 10**9 if huge else size
    k = min(k, size)
    lazy = list(points._distinct(random.Random(seed), size, k))
    assert lazy == random.Random(seed).sample(range(size), k)


class _Enough(Exception):
    pass


def test_a_huge_trial_count_starts_at_once():
    """10**8 trials: the first candidate is evaluated before the 10**8 points are drawn
    (it was a MemoryError, exit 3, after minutes)."""
    seen = []

    def progress(n, candidate):
        seen.append(candidate)
        if n == 3:
            raise _Enough

    for text in (IGC.read_text(), IGC.read_text().replace("range(1, 101)", "range(1, 10**12)")):
        space = specgen.space(text)  # 800 points (drawn independently), 8e12 (distinct)
        seen.clear()
        start = time.perf_counter()
        with pytest.raises(_Enough):
            space.run(["params"], 10**8, seed=0, progress=progress)
        assert time.perf_counter() - start < 10 and len(seen) == 3


def test_released_candidates_keep_their_totals():
    """`specgen search` drops each network once evaluated (~6 kB a candidate): the table,
    the JSONL and the front are the same."""
    space = specgen.space(EXAMPLES / "shufflenet_search.conv")
    objectives = [Objective.parse("max:params"), Objective.parse("macs")]
    kept = space.run(objectives, 40, seed=2)
    light = space.run(objectives, 40, seed=2, keep_networks=False)
    assert all(c.network is None for c in light) and any(c.network for c in kept)
    assert [c.to_json() for c in light] == [c.to_json() for c in kept]
    assert render_table(light, objectives, space.names) == render_table(
        kept, objectives, space.names
    )


# ---- 12: `specgen search -` reads standard input ---------------------------------------------


def test_search_reads_standard_input(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.StringIO(SMALL))
    best = tmp_path / "best.conv"
    r = cli("search", "-", "--sampler", "grid", "--best-spec", str(best))
    assert r.code == 0, r.err
    assert "2 candidates (2 architectures, 0 repeats): 2 feasible" in r.out
    assert "c: choice(4, 8) = 4" in best.read_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO(SMALL.replace("c: choice(4, 8) = 4", "c=4")))
    r = cli("search", "-")
    assert r.code == 2 and "<stdin> declares no search space" in r.err


# ---- 18: a parameter or let named like a cost term ------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--max-params", "100"], ["--objective", "macs"]])
def test_a_let_named_like_a_cost_term_is_refused_by_search(cli, tmp_path, extra):
    spec = tmp_path / "n.conv"
    spec.write_text(SMALL.replace("input 3x8x8\n", "input 3x8x8\nlet params = 5\n"))
    r = cli("search", str(spec), "--trials", "2", *extra)
    assert r.code == 2
    assert f"{spec}:3:5: error: `params` is a cost term in search objectives" in r.err
    assert "Traceback" not in r.err


def test_a_parameter_named_like_a_cost_term_is_refused_by_the_api():
    text = SMALL.replace("(c: choice(4, 8) = 4)", "(c: choice(4, 8) = 4, macs=1)")
    space = specgen.space(text)  # a space of its own: no expression reads the cost terms yet
    with pytest.raises(specgen.SpecError) as info:
        space.run(["params"], 2)
    assert info.value.first.span.line == 1 and "`macs` is a cost term" in str(info.value)
    pytest.importorskip("optuna")
    with pytest.raises(specgen.SpecError):
        space.optimize(lambda net: 1.0, 1, constraints=["params < 10"])
    study = space.optimize(lambda net: 1.0, 1)  # a callable reads the Network: no clash
    assert len(study.trials) == 1


# ---- rough edge: net.params gives lists, as the points do -----------------------------------


def test_network_params_give_lists_as_given():
    space = specgen.space(EXAMPLES / "shufflenet_search.conv")
    (point,) = space.sample(1, seed=3)
    net = space.evaluate(point)
    assert {k: net.params[k] for k in point} == point
    assert type(net.params["depths"]) is list
    assert specgen.compile(EXAMPLES / "shufflenet_search.conv", net.params).params == net.params


def test_list_parameters_are_shown_as_written(cli, tmp_path):
    spec = tmp_path / "b.conv"
    spec.write_text("network n(f=[true, 0.5])\ninput 3x8x8\nlayers:\n    relu\n")
    assert specgen.compile(spec).params == {"f": [True, 0.5]}
    r = cli("cost", str(spec))
    assert r.code == 0 and r.out.startswith("n(f=[true, 0.5])")


# ---- 15: objective values -------------------------------------------------------------------


def test_an_expression_objective_must_be_finite():
    with pytest.raises(specgen.SpecError) as info:
        Objective.parse("x").value({"x": 10**400})
    assert "not a finite number" in str(info.value)
    assert Objective.parse("max:x").value({"x": 3}) == 3.0


optuna = pytest.importorskip("optuna")


def _states(storage: str, name: str) -> list[str]:
    return [t.state.name for t in optuna.load_study(study_name=name, storage=storage).trials]


@pytest.mark.parametrize(
    "value, reason",
    [
        ("1.5", "'1.5' (str), not a number"),
        (10**400, "an integer of 1329 bits, not a finite number"),
        (math.nan, "nan, not a finite number"),
        (-math.inf, "-inf, not a finite number"),
        (None, "None (NoneType), not a number"),
        (True, "True (bool), not a number"),
        ((1.0, 2.0), "2 values for 1 direction"),
    ],
)
def test_a_bad_objective_value_fails_its_trial_never_running(tmp_path, value, reason):
    storage = f"sqlite:///{tmp_path / 'v.db'}"
    space = specgen.space(SMALL)
    study = space.optimize(lambda net: value, 3, sampler="random", seed=0, storage=storage,
                           study_name="v")  # fmt: skip
    assert _states(storage, "v") == ["FAIL"] * 3  # the study went on; none RUNNING
    for t in study.trials:
        assert t.user_attrs["error"] == "objective-value"
        assert reason in t.user_attrs["message"]


def test_objective_values_per_direction_and_exceptions(tmp_path):
    np = pytest.importorskip("numpy")
    storage = f"sqlite:///{tmp_path / 'm.db'}"
    space = specgen.space(SMALL)
    good = space.optimize(lambda net: [np.float32(1.5), net.cost.macs], 2, sampler="random",
                          directions=["maximize", "minimize"], storage=storage,
                          study_name="good")  # fmt: skip
    assert [t.values[0] for t in good.trials] == [1.5, 1.5]
    space.optimize(lambda net: 1.0, 2, sampler="random", directions=["maximize", "minimize"],
                   storage=storage, study_name="short")  # fmt: skip
    assert _states(storage, "short") == ["FAIL", "FAIL"]

    def broken(net):
        raise RuntimeError("the proxy crashed")

    with pytest.raises(RuntimeError, match="the proxy crashed"):
        space.optimize(broken, 3, sampler="random", storage=storage, study_name="raises")
    assert _states(storage, "raises") == ["FAIL"]


# ---- 5: a stored study is resumed only by the same search -----------------------------------


def test_a_resumed_study_names_what_differs(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    spec = tmp_path / "v1.conv"
    spec.write_text(SMALL)
    base = ["search", str(spec), "--sampler", "tpe", "--trials", "2", "--storage", db,
            "--study", "x", "--objective", "params"]  # fmt: skip
    assert cli(*base).code == 0
    assert cli(*base, "--seed", "3").code == 0  # the same search, another worker
    base = base[:-1]
    refused = {
        ("macs",): "was made for other objectives (`min:params`; this search: `min:macs`)",
        ("max:params",): "optimizes minimize; this search asks maximize",
        ("params, macs",): "optimizes minimize; this search asks minimize, minimize",
        ("params", "--max-params", "100"): "was made with other constraints (none; this search: "
        "`params <= 100`)",
    }
    for extra, message in refused.items():
        r = cli(*base, *extra)
        assert r.code == 2 and f"study `x` {message}" in r.err, (extra, r.err)
    spec.write_text(SMALL.replace("conv 1x1", "conv 3x3"))
    r = cli(*base, "params")
    assert r.code == 2 and "was made from another spec (its text" in r.err
    assert len(optuna.load_study(study_name="x", storage=db).trials) == 4


def test_a_resumed_study_compares_fixed_values_and_domains(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    spec = tmp_path / "v.conv"
    spec.write_text(SMALL.replace("(c: choice(4, 8) = 4)", "(c: choice(4, 8) = 4, k=1)"))
    base = ["search", str(spec), "--trials", "2", "--storage", db, "--study", "y"]
    assert cli(*base).code == 0
    r = cli(*base, "--set", "k=3")
    assert r.code == 2 and "with other fixed parameters (none; this search: `k=3`)" in r.err
    spec.write_text(spec.read_text().replace("choice(4, 8)", "choice(4, 8, 16)"))
    r = cli(*base)
    assert r.code == 2
    assert "with another search space (`c` is choice(4, 8) there, choice(4, 8, 16) here)" in r.err


def test_a_resumed_study_sees_an_edited_import(tmp_path):
    from specgen.tools.search import SearchError

    (tmp_path / "blocks.conv").write_text("block b(c):\n    conv 1x1 out=c\n")
    spec = tmp_path / "m.conv"
    spec.write_text(
        SMALL.replace("layers:\n    conv 1x1 out=c", 'import "blocks.conv"\nlayers:\n    b(c)')
    )
    storage = f"sqlite:///{tmp_path / 'i.db'}"
    specgen.space(spec).run(["params"], 1, storage=storage, study_name="i")
    specgen.space(spec).run(["params"], 1, storage=storage, study_name="i")
    (tmp_path / "blocks.conv").write_text("block b(c):\n    conv 3x3 out=c\n")
    with pytest.raises(SearchError, match="a file it imports, changed since"):
        specgen.space(spec).run(["params"], 1, storage=storage, study_name="i")


def test_optimize_resumed_with_another_objective_is_refused(tmp_path):
    from specgen.tools.search import SearchError

    storage = f"sqlite:///{tmp_path / 'o.db'}"
    space = specgen.space(SMALL)

    def accuracy(net):
        return 0.5

    def latency(net):
        return 2.0

    space.optimize(accuracy, 1, storage=storage, study_name="o", sampler="random")
    space.optimize(accuracy, 1, storage=storage, study_name="o", sampler="random")
    with pytest.raises(SearchError, match="for other objectives .*accuracy.*latency"):
        space.optimize(latency, 1, storage=storage, study_name="o", sampler="random")
    with pytest.raises(SearchError, match="for other objectives"):
        space.run(["params"], 1, storage=storage, study_name="o")
    assert len(optuna.load_study(study_name="o", storage=storage).trials) == 2


# ---- 6: a storage URL's password is never shown ---------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://user:s3cret@127.0.0.1:1/db", "postgresql://user:***@127.0.0.1:1/db"),
        ("postgresql+nosuch://user:s3cret@host/db", "postgresql+nosuch://user:***@host/db"),
        ("postgresql://user:s3cret", "postgresql://user:***"),
        ("postgresql://h/db?user=u&password=s3cret", "postgresql://h/db?user=u&password=***"),
        ("mysql+pymysql://u:p%40s3cret@h/d", "mysql+pymysql://u:***@h/d"),
    ],
)
def test_a_storage_password_is_masked(cli, url, shown):
    r = cli("search", str(IGC), "--trials", "2", "--storage", url)
    assert r.code == 2 and f"cannot open the storage {shown}" in r.err
    assert "s3cret" not in r.err and "p@s3cret" not in r.err


def test_masked_url_keeps_everything_but_the_password():
    for url in ("sqlite:////tmp/x.db", "postgresql://user@host:5432/db", "sqlite:///s.db"):
        assert masked_url(url) == url
    assert masked_url("postgresql://a@b:pw@h/d") == "postgresql://a@b:***@h/d"
    assert masked_url("postgresql://[::1]:5432/db") == "postgresql://[::1]:5432/db"


def test_a_short_password_is_masked_where_it_stands_alone():
    from specgen.tools.search.storage import _mask_in

    shown = _mask_in("connection to server failed: password o rejected", "postgresql://u:o@h/d")
    assert shown == "connection to server failed: password *** rejected"


@pytest.mark.parametrize("n", [-3, 2.5, "3", True])
def test_run_refuses_a_trial_count_that_is_not_a_count(n):
    with pytest.raises(ValueError, match="n_trials must be a non-negative int"):
        specgen.space(IGC).run(["params"], n)
