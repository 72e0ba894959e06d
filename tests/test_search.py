"""Search spaces: domains and constraints in the spec, the `specgen.space` API, `specgen
search` (with Optuna's samplers and shared storage), and the two shipped search examples."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT, compile_error, compile_text
from hypothesis import given, settings
from hypothesis import strategies as st

import specgen
from specgen.tools.search import Objective, pareto_front

SHUFFLE = EXAMPLES / "shufflenet_search.conv"
IGC = EXAMPLES / "igc_search.conv"

SPACE = """network n(g: choice(1, 2, 4) = 2, w: range(8, 65, step=8) = 16, d: [choice(1, 2), 2] = [1, 2])
input 3x16x16
let k = w * g
constraint macs <= 3e6, "over budget"
layers:
    conv 3x3 out=k bn relu
    for i in range(d[0]):
        conv 3x3 out=k group=g bn relu
    gap
    fc 10
"""


def brute_pareto(rows: list[tuple[float, ...]]) -> set[int]:
    """Indices of the rows no other row dominates (all objectives minimized)."""
    front = set()
    for i, a in enumerate(rows):
        if not any(
            all(x <= y for x, y in zip(b, a, strict=True)) and b != a
            for j, b in enumerate(rows)
            if j != i
        ):
            front.add(i)
    return front


# ---- declaring a space ---------------------------------------------------------------------


def test_domains_are_read_and_the_default_point_compiles():
    space = specgen.space(SPACE)
    assert space.names == ["g", "w", "d"]
    assert space.size == 3 * 8 * 2
    assert [str(d.domain) for d in space.dimensions] == [
        "choice(1, 2, 4)",
        "range(8, 65, step=8) = 8, 16, ..., 64",
        "[choice(1, 2), 2]",
    ]
    net = compile_text(SPACE)
    assert net.params == {"g": 2, "w": 16, "d": [1, 2]}
    assert net.feasible and len(net.constraints) == 1


@pytest.mark.parametrize(
    "header, message, column",
    [
        ("n(g: choice() = 1)", "choice() needs at least one value", 14),
        ("n(g: choice(1, 2, 1) = 1)", "choice() lists 1 twice", 27),
        ("n(g: range(4, 4) = 4)", "range(4, 4, 1) is empty (as in Python, stop is excluded)", 14),
        ("n(g: range(1, 9, 0) = 4)", "range() step must not be zero", 14),
        ("n(g: range(1.5, 9) = 4)", "range() takes one to three integers", 14),
        ("n(r: uniform(2, 1) = 1.5)", "uniform() needs low < high, got 2 and 1", 14),
        ("n(r: uniform(0, 1, step=0.3) = 0.3)", "must be positive and divide high - low", 14),
        ("n(r: loguniform(0, 1) = 0.5)", "loguniform() needs low > 0", 14),
        ("n(g: [1, 2] = 1)", "a domain is choice(...)", 14),
        ("n(g: 4 = 4)", "a domain is choice(...)", 14),
        ("n(g: choice(1, 2) = 3)", "parameter `g` = 3 is outside its domain choice(1, 2)", 14),
        ("n(d: [choice(1, 2), 3] = [1, 2])", "parameter `d` = [1, 2] is outside its domain", 14),
        ("n(macs=3)\ninput 3x8x8\nconstraint macs < 1", "`macs` is a cost term in", 11),
    ],
)
def test_mistakes_in_a_space_are_located(header, message, column):
    spec = f"network {header}\nlayers:\n    conv 1x1 out=4\n"
    if "input" not in header:
        spec = spec.replace("\nlayers", "\ninput 3x8x8\nlayers")
    err = compile_error(spec)
    assert message in err.diagnostics[0].message
    assert (err.line, err.column) == (1, column)
    assert err.first.code == "domain"


@pytest.mark.parametrize(
    "text, message",
    [
        ("block b(g: choice(1, 2) = 1):\n    relu\n", "block parameter `g` cannot declare"),
        ("let a = round(2.5, step=1)\n", "round() takes no keyword argument `step`"),
        ("let a = range(0, 8, step=2, x=1)\n", "range() takes no keyword argument `x`"),
        ("let a = range(8, step=2)\n", "range(start, stop, step=...) needs start and stop"),
    ],
)
def test_syntax_of_domains(text, message):
    spec = f"network n\ninput 3x8x8\n{text}layers:\n    relu\n"
    assert message in compile_error(spec).diagnostics[0].message


def test_domains_are_not_values():
    spec = "network n\ninput 3x8x8\nlet a = choice(1, 2)\nlayers:\n    relu\n"
    err = compile_error(spec)
    assert err.diagnostics[0].message == (
        "choice() declares a search domain; it is written only after a network parameter's name"
    )


def test_step_keyword_is_the_third_argument():
    spec = "network n(k=range(0, 9, step=3))\ninput 3x8x8\nlayers:\n    relu\n"
    assert compile_text(spec).params["k"] == [0, 3, 6]


def test_values_outside_the_domain_are_refused_where_declared(cli):
    path = EXAMPLES / "shufflenet_search.conv"
    r = cli("check", str(path), "--set", "g=5")
    assert r.code == 2
    assert "parameter `g` = 5 is outside its domain choice(1, 2, 3, 4, 8)" in r.err
    assert "    g: choice(1, 2, 3, 4, 8) = 3," in r.err and "^^^^^^^^^^^^^^^^^^^^^" in r.err
    r = cli("check", str(path), "--set", "depths=[3, 7, 4, 1]")
    assert r.code == 2 and "parameter `depths` = [3, 7, 4, 1] is outside its domain" in r.err
    r = cli("check", str(path), "--set", "width=1.25")
    assert r.code == 0, r.err


def test_check_describes_the_space_and_the_constraints(cli):
    r = cli("check", str(SHUFFLE))
    assert r.code == 0
    assert "search space: 2,240 points" in r.out
    assert "  width: uniform(0.5, 2.0, step=0.25)" in r.out
    assert "constraint `macs <= budget`: holds at this point" in r.out
    r = cli("check", str(SHUFFLE), "--set", "g=1")  # the paper's g=1 net needs 143 M MACs
    assert r.code == 0 and "constraint `macs <= budget`: does NOT hold at this point" in r.out


# ---- constraints ---------------------------------------------------------------------------


def test_constraints_hold_exactly_when_their_expression_does():
    space = specgen.space(SPACE)
    for point in space.grid():
        net = space.evaluate(point)
        assert isinstance(net, specgen.Network)
        (c,) = net.constraints
        assert c.satisfied == (net.cost.macs <= 3e6) == net.feasible
        assert (c.violation > 0) == (not c.satisfied)
        assert c.message == "over budget" and c.text == "macs <= 3e6"


def test_constraints_see_parameters_lets_and_every_cost_term():
    spec = (
        "network n(w=8)\ninput 3x8x8\nlet k = 2 * w\n"
        "constraint layers == 3 and k == 16 and flops == 2 * macs\n"
        "constraint params > 0 and activations > peak_activations\n"
        "layers:\n    conv 1x1 out=k bn relu\n"
    )
    net = compile_text(spec)
    assert [c.satisfied for c in net.constraints] == [True, True]
    assert compile_text(spec, {"w": 9}).feasible is False
    err = compile_error(spec.replace("k == 16", "kk == 16"))
    assert err.diagnostics[0].message == "unknown name `kk`"


# ---- the space API -------------------------------------------------------------------------


def test_sample_is_seeded_distinct_and_inside_the_space():
    space = specgen.space(SHUFFLE)
    assert space.size == 5 * 7 * 4 * 4 * 4
    a, b = space.sample(50, seed=3), space.sample(50, seed=3)
    assert a == b and a != space.sample(50, seed=4)
    assert len({json.dumps(p) for p in a}) == 50
    for p in a:
        assert p["g"] in (1, 2, 3, 4, 8) and 0.5 <= p["width"] <= 2.0
        assert p["depths"][1] in (3, 5, 7, 9)


def test_grid_visits_every_point_once():
    space = specgen.space(SPACE)
    points = list(space.grid())
    assert len(points) == space.size == len({json.dumps(p) for p in points})
    assert points[0] == {"g": 1, "w": 8, "d": [1, 2]}
    assert points[-1] == {"g": 4, "w": 64, "d": [2, 2]}


def test_a_continuous_space_has_no_grid_but_samples():
    spec = SPACE.replace("w: range(8, 65, step=8) = 16", "w: loguniform(8, 64) = 16.0")
    spec = spec.replace("let k = w * g", "let k = round(w) * g")
    space = specgen.space(spec)
    assert space.size is None
    with pytest.raises(specgen.SpecError, match="`w` is continuous"):
        space.grid()
    values = [p["w"] for p in space.sample(200, seed=0)]
    assert all(8 <= v <= 64 for v in values)
    assert sum(v < 22.6 for v in values) > 60  # log-uniform: half below the geometric mean


@pytest.mark.parametrize(
    "point",
    [{"g": 3}, {"g": "4"}, {"nope": 1}, {"d": [1]}, {"w": None}, {1: 2}, None, [1, 2], {"g": 2.5}],
)
def test_evaluate_never_raises(point):
    result = specgen.space(SPACE).evaluate(point)
    assert isinstance(result, specgen.SpecError)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["g", "w", "d", "other"]),
        st.one_of(
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=True, allow_infinity=True),
            st.booleans(),
            st.lists(st.integers(-5, 70), max_size=4),
            st.text(max_size=3),
            st.none(),
        ),
    )
)
def test_random_candidates_give_a_network_or_a_spec_error(point):
    """A search loop must never crash on a bad candidate."""
    result = _FUZZED.evaluate(point)
    assert isinstance(result, specgen.Network | specgen.SpecError)
    if isinstance(result, specgen.Network):
        assert all(d.domain.contains(_tuple(result.params[d.name])) for d in _FUZZED.dimensions)


def _tuple(v):
    return tuple(v) if isinstance(v, list) else v


_FUZZED = specgen.space(SPACE)


def test_evaluate_keeps_fixed_parameters():
    space = specgen.space(SHUFFLE, {"g": 8})
    assert "g" not in space.names
    net = space.evaluate({"width": 1.0})
    assert (net.cost.params, net.cost.macs) == (2434768, 138365952)


def test_shufflenet_search_defaults_are_the_paper_networks():
    for g in (1, 2, 3, 4, 8):
        a = specgen.compile(SHUFFLE, {"g": g})
        b = specgen.compile(EXAMPLES / "shufflenet_v1.conv", {"g": g})
        assert (a.cost.params, a.cost.macs) == (b.cost.params, b.cost.macs)


# ---- runs and the Pareto front -------------------------------------------------------------


def test_pareto_front_is_the_non_dominated_feasible_set():
    space = specgen.space(SPACE)
    objs = [Objective.parse("params"), Objective.parse("max:w * g")]
    cands = space.run(objs, sampler="grid")
    rows = [(c.values[0], -c.values[1]) for c in cands if c.feasible]
    feasible = [c for c in cands if c.feasible]
    assert {i for i, c in enumerate(feasible) if c.pareto} == brute_pareto(rows)
    assert not any(c.pareto for c in cands if not c.feasible)
    again = pareto_front(cands, ["minimize", "maximize"])
    assert sorted(id(c) for c in again) == sorted(id(c) for c in feasible if c.pareto)


def test_igc_search_recovers_l_equals_m_times_s():
    """The widest IGC block for a weight budget has L = M·S (S = 9 for a 3x3 kernel)."""
    for budget, (m, width) in [(162, (1, 9)), (1296, (2, 18)), (4374, (3, 27))]:
        space = specgen.space(IGC, {"budget": budget})
        cands = space.run(["max:width"], sampler="grid")
        (best,) = [c for c in cands if c.pareto]
        assert (best.point["M"], best.point["L"]) == (m, width) and width == 9 * m
        assert best.network.cost.params == budget


# ---- the CLI -------------------------------------------------------------------------------


def test_search_jsonl_matches_cost_and_flags(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    r = cli("search", str(SHUFFLE), "--trials", "200", "--sampler", "random", "--seed", "0",
            "--format", "jsonl", "-o", str(out))  # fmt: skip
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 200
    assert set(rows[0]) == {"point", "feasible", "cost", "error", "pareto", "architecture",
                            "repeat_of"}  # fmt: skip
    for row in rows:  # a repeat names the first row with its architecture, never on the front
        if row["repeat_of"] is not None:
            assert rows[row["repeat_of"]]["architecture"] == row["architecture"]
            assert rows[row["repeat_of"]]["repeat_of"] is None and not row["pareto"]
    for row in rows:
        net = specgen.compile(SHUFFLE, row["point"])
        assert row["error"] is None
        assert row["cost"]["params"] == net.cost.params and row["cost"]["macs"] == net.cost.macs
        assert row["cost"]["flops"] == net.cost.flops
        assert row["feasible"] == (net.cost.macs <= 140e6)
    feasible = [r for r in rows if r["feasible"]]
    front = brute_pareto([(r["cost"]["params"], r["cost"]["macs"]) for r in feasible])
    assert {i for i, r in enumerate(feasible) if r["pareto"]} == front
    assert not any(r["pareto"] for r in rows if not r["feasible"])
    # the same points through `specgen cost`, for a few of them
    for row in rows[:3]:
        sets = [a for k, v in row["point"].items() for a in ("--set", f"{k}={json.dumps(v)}")]
        c = cli("cost", str(SHUFFLE), *sets, "--format", "json")
        cost = json.loads(c.out)
        assert (cost["params"], cost["macs"]) == (row["cost"]["params"], row["cost"]["macs"])


def test_search_table_ends_with_the_front_and_best_spec_builds(cli, tmp_path):
    best = tmp_path / "best.conv"
    r = cli("search", str(IGC), "--sampler", "grid", "--objective", "max:width",
            "--best-spec", str(best))  # fmt: skip
    assert r.code == 0, r.err
    tail = r.out.rstrip().splitlines()
    assert tail[-3].startswith(
        "800 candidates (800 architectures, 0 repeats): 79 feasible, 0 invalid; Pareto front "
        "over max"
    )
    assert tail[-1].split()[1:4] == ["2", "18", "yes"]
    text = best.read_text()
    assert "M: range(1, 9) = 2, L: range(1, 101) = 18" in text
    assert cli("check", str(best)).code == 0
    assert cli("build", str(best), "--target", "torch").code == 0


def test_search_usage_errors(cli, tmp_path):
    r = cli("search", str(EXAMPLES / "shufflenet_v1.conv"))
    assert r.code == 2 and "declares no search space" in r.err
    r = cli("search", str(SHUFFLE), "--objective", "max:nope", "--trials", "2")
    assert r.code == 2 and "unknown name `nope`" in r.err
    r = cli("search", str(SHUFFLE), "--trials", "0")
    assert r.code == 2
    r = cli("search", str(SHUFFLE), "-o", str(tmp_path))
    assert r.code == 2 and "is a directory" in r.err


def test_progress_bar_on_a_terminal_only(tmp_path):
    """A terminal's stderr gets the bar; a pipe gets nothing but the results."""
    import pty

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "specgen", "search", str(IGC), "--trials", "30", "--seed", "0"]
    primary, secondary = pty.openpty()
    try:
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=secondary, timeout=120)
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
    assert r.returncode == 0
    assert b"30/30" in shown and b"candidates, " in shown and b"\x1b[" in shown  # rich's bar
    piped = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == b""


def test_best_spec_needs_a_feasible_candidate(cli, tmp_path):
    best = tmp_path / "best.conv"
    r = cli("search", str(IGC), "--trials", "5", "--max-params", "1", "--best-spec", str(best))
    assert r.code == 2 and "no feasible candidate: --best-spec was not written" in r.err
    assert not best.exists()


def test_a_storage_that_cannot_open_is_a_usage_error(cli, tmp_path):
    r = cli("search", str(IGC), "--trials", "2", "--storage", "sqlite:////no/such/dir/x.db")
    assert r.code == 2
    assert (
        "cannot open the storage sqlite:////no/such/dir/x.db: (sqlite3.OperationalError)" in r.err
    )


def test_max_budgets_from_the_command_line(cli, tmp_path):
    path = tmp_path / "space.conv"
    path.write_text(SPACE)
    r = cli("search", str(path), "--sampler", "grid", "--max-params", "2000", "--format", "jsonl")
    assert r.code == 0, r.err
    rows = [json.loads(x) for x in r.out.splitlines()]
    assert len(rows) == 48
    for row in rows:
        ok = row["cost"]["params"] <= 2000 and row["cost"]["macs"] <= 3e6
        assert row["feasible"] == ok


# ---- Optuna --------------------------------------------------------------------------------

optuna = pytest.importorskip("optuna")


def test_optimize_hands_the_objective_compiled_networks():
    seen = []

    def objective(net):
        seen.append(net)
        return net.cost.macs

    spec = SPACE.replace("choice(1, 2, 4)", "choice(1, 2, 3, 4)").replace("w * g", "w")
    space = specgen.space(spec)
    study = space.optimize(objective, n_trials=40, sampler="tpe", seed=0)
    assert all(isinstance(n, specgen.Network) for n in seen)
    states = [t.state for t in study.trials]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(states) == 40 and pruned  # g=3 divides only w=24 and w=48
    for t in pruned:
        assert t.user_attrs["error"] == "group-divisibility"
    for t in study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            net = specgen.compile(spec, t.user_attrs["point"])
            assert t.user_attrs["feasible"] == (net.cost.macs <= 3e6)
            if t.user_attrs["feasible"]:
                assert t.value == net.cost.macs
            else:  # never handed to the objective: the worst value, marked skipped
                assert t.value == float("inf") and t.user_attrs["skipped"] == "infeasible"
    assert study.best_trial.user_attrs["feasible"]
    assert all(n.feasible for n in seen)


@pytest.mark.parametrize("sampler", ["grid", "random", "tpe", "nsga2"])
def test_every_sampler_runs_through_optuna(sampler, tmp_path):
    space = specgen.space(SPACE)
    n = 48 if sampler == "grid" else 12
    cands = space.run(["params", "macs"], n, sampler=sampler, seed=1,
                      storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s")  # fmt: skip
    assert len(cands) == n
    if sampler == "grid":
        assert len({json.dumps(c.point) for c in cands}) == 48
    assert any(c.pareto for c in cands)


def _workers(storage: str, study: str, trials: int) -> list[subprocess.CompletedProcess]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "specgen", "search", str(SHUFFLE), "--sampler", "random",
           "--trials", str(trials), "--storage", storage, "--study", study,
           "--format", "jsonl"]  # fmt: skip
    procs = [
        subprocess.Popen([*cmd, "--seed", str(seed)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
        for seed in (1, 2)
    ]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def _check_shared(storage: str, study_name: str, trials: int) -> None:
    done = _workers(storage, study_name, trials)
    for d in done:
        assert d.returncode == 0, d.stderr
        assert len(d.stdout.splitlines()) == trials
    study = optuna.load_study(study_name=study_name, storage=storage)
    assert len(study.trials) == 2 * trials
    assert len({t.number for t in study.trials}) == 2 * trials
    points = {json.dumps(t.user_attrs["point"], sort_keys=True) for t in study.trials}
    mine = {
        json.dumps(json.loads(line)["point"], sort_keys=True)
        for d in done
        for line in d.stdout.splitlines()
    }
    assert mine == points  # one study holds both workers' trials


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(tmp_path):
    _check_shared(f"sqlite:///{tmp_path / 'study.db'}", "shared", 15)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own, on a Unix socket in a temporary folder."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip(
            "no PostgreSQL server here (initdb and pg_ctl not on PATH; .ci/run installs it)"
        )
    pytest.importorskip(
        "psycopg2", reason="psycopg2 is not installed (pip install psycopg2-binary)"
    )
    # not under pytest's folder: the server's user must be able to reach it
    base = Path(tempfile.mkdtemp(prefix="specgen-pg-"))
    data = base / "data"
    os.chmod(base, 0o777)
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        prefix = [runuser, "-u", "nobody", "--"]
    port = _free_port()
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)  # fmt: skip
    opts = f"-p {port} -k {base} -c listen_addresses=''"
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", opts, "-w", "-l",
                    str(base / "log"), "start"], check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql+psycopg2://postgres@/postgres?host={base}&port={port}"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_one_postgres_study(postgres):
    _check_shared(postgres, "shared", 15)


def test_without_optuna_the_space_api_still_works():
    code = (
        "import sys; sys.modules['optuna'] = None\n"
        "import specgen\n"
        f"s = specgen.space({str(SHUFFLE)!r})\n"
        "c = s.run(['params', 'macs'], 5, sampler='random', seed=0)\n"
        "assert len(c) == 5 and any(x.pareto for x in c)\n"
        "try:\n    s.run(['params'], 2, sampler='tpe')\nexcept ImportError as e:\n"
        "    print(e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "needs Optuna: pip install 'specgen[search]'" in r.stdout


# ---- found in review ---------------------------------------------------------------------


def test_best_spec_pins_the_set_values_too(cli, tmp_path):
    best = tmp_path / "best.conv"
    r = cli("search", str(IGC), "--sampler", "grid", "--objective", "max:width",
            "--set", "budget=4374", "--best-spec", str(best))  # fmt: skip
    assert r.code == 0, r.err
    net = specgen.compile(best)
    assert net.params["budget"] == 4374 and (net.params["M"], net.params["L"]) == (3, 27)
    assert net.feasible


def test_a_resumed_study_must_be_the_same_search(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    spec = tmp_path / "v1.conv"
    spec.write_text("network n(c: choice(4, 8) = 4)\ninput 3x8x8\nlayers:\n    conv 1x1 out=c\n")
    base = ["search", str(spec), "--sampler", "tpe", "--trials", "3", "--storage", db,
            "--study", "x"]  # fmt: skip
    assert cli(*base).code == 0
    assert cli(*base).code == 0  # resumed: the same search
    r = cli(*base, "--objective", "macs")
    assert r.code == 2 and "study `x` optimizes minimize, minimize" in r.err
    spec.write_text(spec.read_text().replace("choice(4, 8)", "choice(4, 8, 16)"))
    r = cli(*base)
    assert r.code == 2 and "was made with another search space" in r.err


def test_huge_ranges_and_grids_through_optuna(cli, tmp_path):
    spec = tmp_path / "huge.conv"
    spec.write_text(
        "network n(a: range(1, 10**15) = 3, b: range(1, 100000) = 3)\ninput 3x8x8\n"
        "layers:\n    relu\n"
    )
    start = time.perf_counter()
    r = cli("search", str(spec), "--sampler", "tpe", "--trials", "5", "--seed", "0")
    assert r.code == 0 and time.perf_counter() - start < 30
    r = cli("search", str(spec), "--sampler", "grid", "--trials", "3", "--storage",
            f"sqlite:///{tmp_path / 'g.db'}")  # fmt: skip
    assert r.code == 2 and "Optuna's grid sampler holds them all" in r.err
    r = cli("search", str(spec), "--sampler", "tpe", "--seed", str(2**32))
    assert r.code == 2 and "2**32-1" in r.err


def test_default_type_must_fit_the_domain():
    spec = "network n(w: uniform(0.5, 2.0, step=0.5) = 1)\ninput 3x8x8\nlayers:\n    relu\n"
    err = compile_error(spec)
    assert "`w` = 1 makes it an integer, but its domain" in err.diagnostics[0].message
    assert err.diagnostics[0].hint == "write the default as 1.0"
    assert compile_text(spec.replace("= 1)", "= 1.0)")).params["w"] == 1.0
    err = compile_error(spec.replace("uniform(0.5, 2.0, step=0.5) = 1", "choice(true, 1) = 1"))
    assert "holds true" in err.diagnostics[0].message


def test_optuna_keeps_booleans_and_numbers_apart(tmp_path):
    spec = "network n(a: choice(true, false) = true, b: choice(1, 2) = 1)\ninput 3x8x8\n"
    spec += "layers:\n    relu\n"
    space = specgen.space(spec)
    study = space.optimize(lambda net: 0.0, 12, sampler="random", seed=0,
                           storage=f"sqlite:///{tmp_path / 'b.db'}", study_name="b")  # fmt: skip
    for t in study.trials:
        assert type(t.user_attrs["point"]["a"]) is bool
    from specgen.tools.search.study import _scalar_choices

    assert not _scalar_choices([True, 1, 2]) and not _scalar_choices([1, 1.0])
    assert _scalar_choices([1, 2.5]) and _scalar_choices([True, False])


def test_callable_constraints_read_numpy_booleans():
    np = pytest.importorskip("numpy")
    space = specgen.space(SPACE)
    cands = space.run(["params"], 6, sampler="grid",
                      constraints=[lambda net: np.int64(net.cost.params) < 10**9])  # fmt: skip
    assert all(c.violations[-1] == 0.0 for c in cands)


def test_stepped_floats_from_optuna_sit_on_the_grid():
    spec = "network n(w: uniform(0.1, 0.9, step=0.1) = 0.5)\ninput 3x8x8\nlayers:\n    relu\n"
    study = specgen.space(spec).optimize(lambda net: 0.0, 20, sampler="tpe", seed=0)
    grid = {p["w"] for p in specgen.space(spec).grid()}
    assert {t.user_attrs["point"]["w"] for t in study.trials} <= grid


def test_search_cli_odds_and_ends(cli, tmp_path):
    r = cli("search", str(SHUFFLE), "--trials", "2", "--seed", "0",
            "--objective", "max(macs, params),min:params")  # fmt: skip
    assert r.code == 0, r.err
    assert "max(macs, params)" in r.out
    r = cli("search", str(SHUFFLE), "--trials", "2", "-o", str(SHUFFLE))
    assert r.code == 2 and "is named twice" in r.err
    r = cli("search", str(IGC), "--set", "M=2", "--set", "L=18", "--trials", "2")
    assert r.code == 2 and "--set fixes every searched parameter" in r.err
    err = compile_error(
        "network n(a: range(0, 8, 2, step=2) = 0)\ninput 3x8x8\nlayers:\n    relu\n"
    )
    assert "the step is given twice" in err.diagnostics[0].message
