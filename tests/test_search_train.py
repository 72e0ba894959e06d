"""A search that trains: an infeasible or repeated candidate never reaches the objective (in
one process, and with two workers sharing one SQLite study), the objective may take the trial
to report and be pruned, the trained model can be kept, and the worked example trains for
real on scikit-learn's digits."""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT

import specgen
from specgen.passes.fingerprint import architecture_key

optuna = pytest.importorskip("optuna")

SHUFFLE = EXAMPLES / "shufflenet_search.conv"


def _counting(calls: list):
    """An objective that records the architecture of every network it is called with."""

    def objective(net):
        calls.append((architecture_key(net.ir), net.feasible, net.cost.macs))
        return net.cost.params

    return objective


@pytest.mark.parametrize("sampler", ["tpe", "nsga2"])
def test_the_objective_never_sees_an_infeasible_or_repeated_candidate(sampler):
    calls: list = []
    space = specgen.space(SHUFFLE)
    result = space.optimize(
        _counting(calls), n_trials=200, directions=["maximize"], sampler=sampler, seed=0
    )
    keys = [k for k, _, _ in calls]
    assert all(feasible and macs <= 140e6 for _, feasible, macs in calls)
    assert len(keys) == len(set(keys))  # never twice on one architecture
    n = result.counts
    assert n["trials"] == 200 and n["evaluated"] == len(calls)
    assert n["infeasible"] > 0 and n["repeats"] > 0  # the search did propose both
    assert n["evaluated"] + n["repeats"] + n["infeasible"] + n["invalid"] == 200
    for c in result.candidates:
        t = result.study.trials[c.number]
        if c.state == "infeasible":
            assert not t.user_attrs["feasible"] and t.user_attrs["cost"]["macs"] > 140e6
        if c.repeat_of is not None:  # the original's value, recorded as this trial's
            original = result.study.trials[c.repeat_of]
            assert t.values == original.values
            assert t.user_attrs["architecture"] == original.user_attrs["architecture"]
    # the front lists distinct architectures
    fronts = [c.architecture for c in result.front]
    assert len(fronts) == len(set(fronts)) == 1  # one objective: one best architecture


def test_two_points_giving_one_network_are_one_candidate():
    space = specgen.space(SHUFFLE)
    a = space.evaluate({"g": 8, "width": 1.0})
    b = space.evaluate({"g": 8, "width": 1.0, "classes": 1000})
    c = space.evaluate({"g": 8, "width": 1.25})
    assert architecture_key(a.ir) == architecture_key(b.ir) != architecture_key(c.ir)
    # channel counts are rounded to multiples of 4·g: two widths, one network
    same = [w for w in (0.5, 0.75, 1.0) if space.evaluate({"g": 8, "width": w}).ir]
    keys = {architecture_key(space.evaluate({"g": 8, "width": w}).ir) for w in same}
    assert len(keys) <= len(same)


WORKER = """
import json, sys
import specgen
from specgen.passes.fingerprint import architecture_key
path, storage, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])

def objective(net):
    with open(path, "a") as f:
        f.write(json.dumps([architecture_key(net.ir), net.feasible]) + "\\n")
    return net.cost.params

specgen.space(sys.argv[4]).optimize(objective, n_trials=100, directions=["maximize"],
    sampler="tpe", seed=seed, storage=storage, study_name="shared")
"""


@pytest.mark.slow
def test_two_workers_never_evaluate_one_architecture_twice(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    calls = tmp_path / "calls.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(calls), storage, str(seed), str(SHUFFLE)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for seed in (1, 2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    seen = [json.loads(line) for line in calls.read_text().splitlines()]
    keys = [k for k, _ in seen]
    assert all(feasible for _, feasible in seen)
    assert len(keys) == len(set(keys))
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 200
    reused = [t for t in study.trials if "repeat_of" in t.user_attrs]
    assert reused and len(keys) + len(reused) <= 200


def test_the_objective_can_take_the_trial_and_keep_what_it_trained():
    space = specgen.space(SHUFFLE, {"classes": 10}, input=(3, 32, 32))

    def objective(net, trial):
        trial.report(1.0, 0)
        trial.set_user_attr("seen", trial.number)
        trial.keep(("model of", trial.number))
        return net.cost.macs

    result = space.optimize(objective, n_trials=20, sampler="random", seed=3)
    for c in result.candidates:
        if c.state == "complete":
            original = c.number if c.repeat_of is None else c.repeat_of
            assert c.kept == ("model of", original) == result.kept(c.number)
    # the explicit form, and an objective whose second parameter has a default
    rests: list = []
    space.optimize(lambda net, *rest: rests.append(rest) or 1.0, n_trials=3, with_trial=False)
    epochs: list = []
    space.optimize(lambda net, epochs_=3: epochs.append(epochs_) or 1.0, n_trials=3)
    assert rests and set(rests) == {()}
    assert epochs and set(epochs) == {3}
    trials: list = []
    space.optimize(lambda net, *rest: trials.append(rest) or 1.0, n_trials=3)
    assert trials and all(len(r) == 1 and hasattr(r[0], "keep") for r in trials)


def test_pruning_records_the_partial_result_and_repeats_reuse_it():
    """A curve whose values are known: a candidate of P parameters reports P·(step + 1) / 1e6
    at steps 0..4, so with the median pruner a candidate below the earlier complete ones'
    median at a step is stopped there; a repeat reports its original's curve (a repeat of
    a pruned architecture is pruned again) without a call."""
    space = specgen.space(SHUFFLE)
    calls: list = []

    def objective(net, trial):
        calls.append(trial.number)
        level = net.cost.params / 1e6
        for step in range(5):
            trial.report(level * (step + 1), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return level * 5

    result = space.optimize(
        objective, n_trials=40, directions=["maximize"], sampler="random", seed=0,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
    )  # fmt: skip
    pruned = [c for c in result.candidates if c.state == "pruned"]
    assert pruned and result.counts["pruned"] == len(pruned)
    for c in pruned:
        t = result.study.trials[c.number]
        step = t.last_step
        assert c.values == (t.intermediate_values[step],)
        if c.repeat_of is None:
            # the median of the earlier complete trials at that step is above its value
            earlier = [
                u.intermediate_values[step]
                for u in result.study.trials[: c.number]
                if u.state.name == "COMPLETE" and step in u.intermediate_values
            ]
            assert earlier and c.values[0] < statistics.median(earlier)
        else:
            assert c.number not in calls
    assert len(calls) == result.counts["evaluated"]


def test_run_fronts_list_distinct_architectures(cli):
    r = cli("search", str(SHUFFLE), "--sampler", "tpe", "--trials", "120", "--seed", "0",
            "--objective", "max:params")  # fmt: skip
    assert r.code == 0, r.err
    rows = r.out.splitlines()
    header = rows[0].split()
    assert header[-2:] == ["seen", "note"]
    summary = next(line for line in rows if "Pareto front over" in line)
    assert summary.endswith("(1):")  # one best architecture, however often it was proposed
    repeats = [line for line in rows[1:] if "= #" in line]
    assert repeats and f"{len(repeats)} repeats" in summary


def _example():
    spec = importlib.util.spec_from_file_location("search_train", EXAMPLES / "search_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_worked_example_trains_feasible_distinct_candidates():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn", reason="the worked example trains on scikit-learn's digits")
    example = _example()
    calls: list = []
    make = example.make_objective

    def counting(train, val, epochs, batch=32):
        inner = make(train, val, epochs, batch)

        def objective(net, trial):
            calls.append((architecture_key(net.ir), net.feasible))
            return inner(net, trial)

        return objective

    example.make_objective = counting
    result = example.search(trials=6, epochs=2, size=12, max_macs=1.5e6)
    keys = [k for k, _ in calls]
    assert calls and all(f for _, f in calls) and len(keys) == len(set(keys))
    done = [c for c in result.candidates if c.state == "complete"]
    assert done and max(c.values[0] for c in done) > 0.3  # chance is 0.1
    assert result.pareto_front(costs={"macs": "minimize"})


# ---- `objective` lines ------------------------------------------------------------------
OBJECTIVE_SPEC = SHUFFLE.read_text().replace(
    "constraint macs <= budget", "objective maximize params\nconstraint macs <= budget"
)
assert "objective maximize" in OBJECTIVE_SPEC


def test_the_spec_objective_is_the_search_default(cli, tmp_path):
    spec = tmp_path / "s.conv"
    spec.write_text(OBJECTIVE_SPEC)
    r = cli("check", str(spec))
    assert r.code == 0 and "objective: maximize `params` (1,865,728 at this point)" in r.out
    r = cli("search", str(spec), "--trials", "30", "--seed", "0")
    assert r.code == 0, r.err
    assert "Pareto front over max params (1):" in r.out
    space = specgen.space(spec)
    assert [(o.text, o.direction) for o in space.objectives] == [("params", "maximize")]
    best = space.run(n_trials=30, seed=0)
    front = [c for c in best if c.pareto]
    assert len(front) == 1
    assert front[0].cost["params"] == max(c.cost["params"] for c in best if c.feasible)
    # --objective still wins
    r = cli("search", str(spec), "--trials", "5", "--objective", "macs")
    assert "Pareto front over min macs" in r.out


@pytest.mark.parametrize(
    "line, message",
    [
        ("objective maximize nope", "unknown name `nope`"),
        ("objective minimize [params]", "an objective must be a number, not ["),
        ("objective smallest macs", "objective"),
    ],
)
def test_a_wrong_objective_is_located(cli, tmp_path, line, message):
    spec = tmp_path / "s.conv"
    spec.write_text("network n\ninput 3x8x8\n" + line + "\nlayers:\n    conv 1x1 out=4\n")
    r = cli("check", str(spec))
    assert r.code == 2 and message in r.err and ":3:" in r.err
    assert "Traceback" not in r.err


def test_objective_is_a_keyword_only_at_the_start_of_a_line():
    net = specgen.compile(
        "network n(objective=3, maximize=2)\ninput 3x8x8\nlet minimize = objective\n"
        "objective maximize minimize * maximize\nlayers:\n    conv 1x1 out=objective\n"
    )
    assert [(o.direction, o.value) for o in net.objectives] == [("maximize", 6)]


# ---- --input ------------------------------------------------------------------------------
def test_input_replaces_the_spec_input_and_the_frameworks_agree():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    net = specgen.compile(SHUFFLE, {"classes": 10}, input=(1, 16, 16))
    assert (net.input_shape.c, net.input_shape.h, net.input_shape.w) == (1, 16, 16)
    same = specgen.compile(SHUFFLE, {"classes": 10}, input="1x16x16")
    assert same.cost.macs == net.cost.macs
    model = net.to_torch().eval()
    assert sum(p.numel() for p in model.parameters()) == net.cost.params
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model(torch.randn(1, 1, 16, 16))
    assert out.shape == (1, 10)
    assert counter.get_total_flops() // 2 == net.cost.macs
    # the family code's input is the given one: its default member takes 1x16x16
    namespace: dict = {}
    exec(net.emit("torch"), namespace)
    family = next(v for k, v in namespace.items() if k == "ShufflenetSearch")(classes=10)
    assert family(torch.randn(2, 1, 16, 16)).shape == (2, 10)


def test_input_the_network_cannot_take_is_a_located_error(cli):
    r = cli("check", str(EXAMPLES / "alexnet.conv"), "--input", "3x32x32")
    assert r.code == 2
    assert "alexnet.conv:11:5" in r.err and "larger than its padded 2x2 input" in r.err
    for bad in ("3x32", "3x0x32", "axbxc", "3x32x32x1"):
        r = cli("cost", str(SHUFFLE), "--input", bad)
        assert r.code == 2 and "--input" in r.err and "Traceback" not in r.err
    with pytest.raises(TypeError):
        specgen.compile(SHUFFLE, input=(3, 32.0, 32))
    with pytest.raises(ValueError):
        specgen.compile(SHUFFLE, input="3x32")


@pytest.mark.parametrize("command", ["check", "cost", "build", "graph", "search"])
def test_every_command_takes_input(cli, tmp_path, command):
    args = {
        "check": [],
        "cost": ["--format", "json"],
        "build": ["--target", "torch", "-o", str(tmp_path / "n.py")],
        "graph": ["-o", str(tmp_path / "n.dot")],
        "search": ["--trials", "3", "--best-spec", str(tmp_path / "best.conv")],
    }[command]
    r = cli(command, str(SHUFFLE), "--input", "3x32x32", *args)
    assert r.code == 0, r.err
    if command == "check":
        assert "3x32x32 -> 1000" in r.out
    if command == "cost":
        small = specgen.compile(SHUFFLE, input=(3, 32, 32)).cost.macs
        assert json.loads(r.out)["macs"] == small
    if command == "search":  # the pinned spec is searched at that size
        assert "input 3x32x32" in (tmp_path / "best.conv").read_text()


ONE_POINT = """network one(w: choice(8) = 8)
input 3x8x8
layers:
    conv 3x3 out=w bn relu
"""


def test_an_architecture_whose_evaluation_failed_is_taken_over(tmp_path):
    """A worker whose objective raised leaves the architecture free: the next search on the
    shared study evaluates it once, and its repeats reuse that result."""
    storage = f"sqlite:///{tmp_path / 's.db'}"
    calls: list = []

    def objective(net):
        calls.append(net.cost.params)
        if len(calls) == 1:
            raise RuntimeError("the first training crashed")
        return 1.0

    space = specgen.space(ONE_POINT)
    with pytest.raises(RuntimeError, match="crashed"):
        space.optimize(objective, 3, sampler="random", storage=storage, study_name="s")
    result = space.optimize(objective, 3, sampler="random", storage=storage, study_name="s")
    assert len(calls) == 2  # the crash, then one evaluation for three trials
    states = [c.state for c in result.candidates]
    assert states == ["failed", "complete", "complete", "complete"]
    assert [c.repeat_of for c in result.candidates] == [None, None, 1, 1]
