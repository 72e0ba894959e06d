"""Memory traffic and latency as costs (issue 23): the traffic formulas on hand-computed
cases, the units a network runs as, latency tables (format, merge, fit), prediction as a cost
term of constraints, objectives and searches, and the command line.  The measuring side
(`specgen profile`) is in test_profile.py; how well predictions match measurements is a
benchmark (bench/latency_prediction.py), not a timed test."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import EXAMPLES, HEADER

import specgen
from specgen.passes import latency as L
from specgen.passes.traffic import own_traffic, traffic_bytes
from specgen.passes.units import FIRST, network_keys, units
from specgen.tools.report import to_csv, to_json, to_table

# ---- traffic: hand-computed ------------------------------------------------------------------


def _rows(text: str) -> dict[str, int]:
    net = specgen.compile(text)
    return {r.name: r.traffic for r in net.cost.layers}


def test_pointwise_conv_is_shufflenet_v2_memory_access_cost():
    # Ma et al. 2018, eq. (1): MAC = h·w·(c1 + c2) + c1·c2 for a 1x1 conv (no bias)
    rows = _rows("network n\ninput 32x14x14\nlayers:\n    pwconv 64 bias=false\n")
    h = w = 14
    assert rows["pwconv1"] == 4 * (h * w * (32 + 64) + 32 * 64)


def test_layer_traffic_by_hand():
    text = (
        "network n\ninput 16x8x8\nlayers:\n"
        "    conv 3x3 out=32 stride=2 group=4 bn relu\n"  # 32x4x4
        "    dwconv 3x3\n"  # bias (no bn after it): 32·9 + 32
        "    flatten\n"
        "    fc 10\n"
    )
    rows = _rows(text)
    assert rows["conv1"] == 4 * (16 * 64 + 32 * (16 // 4) * 9 + 32 * 16)
    # BatchNorm reads its scale, shift, running mean and running variance
    assert rows["bn1"] == 4 * (32 * 16 + 4 * 32 + 32 * 16)
    assert rows["relu1"] == 4 * (2 * 32 * 16)
    assert rows["dwconv1"] == 4 * (32 * 16 + 32 * 9 + 32 + 32 * 16)
    assert rows["flatten1"] == 0  # a view
    assert rows["fc1"] == 4 * (512 + 512 * 10 + 10 + 10)


def test_merges_and_se_by_hand():
    text = (
        "network n\ninput 16x8x8\nlayers:\n"
        "    residual:\n"
        "        relu\n"
        "    concat:\n"
        "        identity\n"
        "        branch:\n"
        "            relu\n"
        "    se 4\n"
    )
    net = specgen.compile(text)
    m = 16 * 64
    relu = 2 * m
    residual = 2 * m + m  # reads both operands, writes the sum
    concat = 2 * m + 2 * m  # the identity branch moves nothing; the concatenation: 2m in, 2m out
    se = 2 * (2 * m) + (32 * 4 + 4 * 32 + 4 + 32) + 2 * m  # reads the map twice, and its weights
    assert net.cost.traffic == 4 * (relu + residual + relu + concat + se)
    assert own_traffic(net.ir.body.children[0][1]) == (2 * m, m)


def test_traffic_totals_agree_everywhere():
    net = specgen.compile(EXAMPLES / "shufflenet_v2.conv")
    report = json.loads(to_json(net))
    assert report["memory"]["traffic_bytes"] == net.cost.traffic == traffic_bytes(net.ir.body)
    # the depth-1 rows add up to the total (merges of composites included)
    assert sum(n["traffic_bytes"] for n in report["tree"]) == net.cost.traffic
    rows = list(csv.DictReader(io.StringIO(to_csv(net, depth=1))))
    assert sum(int(r["traffic_bytes"]) for r in rows) == net.cost.traffic
    table = to_table(net)
    assert "traffic" in table.splitlines()[2] and "memory traffic" in table


def test_deploy_form_moves_less():
    net = specgen.compile(EXAMPLES / "mobilenet_v2.conv")
    # each folded BatchNorm no longer reads and writes its map
    assert net.deploy().cost.traffic < net.cost.traffic


def test_traffic_as_a_constraint_term():
    text = HEADER.replace("layers:", "constraint traffic <= 100\nlayers:") + "    relu\n"
    net = specgen.compile(text)
    assert [c.satisfied for c in net.constraints] == [False]


# ---- units -----------------------------------------------------------------------------------


def test_units_group_a_conv_with_its_batchnorm_and_activation():
    net = specgen.compile(
        "network n\ninput 3x16x16\nlayers:\n"
        "    conv 3x3 out=8 bn relu\n"
        "    residual:\n"
        "        conv 3x3 out=8 bn\n"
        "    relu\n"
        "    conv 3x3 out=8 bn relu\n"
    )
    us = units(net.ir.body)
    assert [u.path for u in us] == ["conv1", "residual1/conv2", "residual1", "relu2", "conv3"]
    assert us[0].fused == ("bn1", "relu1") and us[0].first and us[0].key.startswith(FIRST)
    assert us[1].fused == ("residual1/bn2",)
    assert us[2].merge is not None and us[2].key == "add[8x16x16,8x16x16]"
    # conv3 is conv1's configuration on another input: a key of its own, but no `input:`
    assert us[4].key != us[0].key and not us[4].first
    assert network_keys(net.ir.body) == tuple(u.key for u in us)


def test_units_ignore_what_does_not_change_time():
    a = specgen.compile(HEADER + "    conv 3x3 bn(0.001)\n    dropout 0.5\n")
    b = specgen.compile(HEADER + "    conv 3x3 bn(0.1, 0.5)\n    dropout 0.2\n")
    assert network_keys(a.ir.body) == network_keys(b.ir.body)
    c = specgen.compile(HEADER + "    conv 3x3 group=2 bn\n    dropout 0.2\n")
    assert network_keys(c.ir.body)[0] != network_keys(a.ir.body)[0]


def test_repeated_blocks_are_one_configuration():
    net = specgen.compile(EXAMPLES / "shufflenet_v2.conv")
    keys = network_keys(net.ir.body)
    assert len(set(keys)) < len(keys) / 3  # 104 units, 28 configurations


# ---- tables ----------------------------------------------------------------------------------

DEVICE = {"device": "cpu", "processor": "test", "machine": "x", "threads": 1, "torch": "t"}


def synthetic(nets, per=0.1, call=0.01, runtime="eager", **device) -> L.LatencyTable:
    """A table giving every unit of `nets` `per` ms (a merge a tenth of it)."""
    run = L.Run(runtime, 1, "nchw", call)
    for net in nets:
        form = net.ir if runtime == "eager" else net.deploy().ir
        for u in units(form.body):
            t = per / 10 if u.merge is not None else per
            run.entries[u.key] = L.Entry(t, 0.0, 5, u.label)
    return L.LatencyTable({**DEVICE, **device}, [run], name="t.json")


@pytest.fixture(scope="module")
def mobilenet():
    return specgen.compile(EXAMPLES / "mobilenet_v2.conv")


def test_prediction_is_the_documented_sum(mobilenet):
    table = synthetic([mobilenet])
    run = table.run()
    run.scale, run.per_unit_ms = 1.5, 0.002
    model = L.LatencyModel(table, run)
    us = units(mobilenet.ir.body)
    later = us[1:]
    merges = sum(u.merge is not None for u in later)
    # the first unit as measured (0.1), then each later one less the call, scaled, + per_unit
    expected = 0.1 + 1.5 * ((len(later) - merges) * (0.1 - 0.01) + merges * 0.0)
    expected += 0.002 * len(later)
    assert model.total(mobilenet.ir) == pytest.approx(expected, rel=1e-12)
    prediction = model.predict(mobilenet.ir)
    assert prediction.total_ms == pytest.approx(expected, rel=1e-12)
    assert prediction.own["features.0.0"] == pytest.approx(0.1)
    assert prediction.fused["features.0.1"] == "features.0.0"


def test_a_network_of_one_unit_is_that_unit():
    net = specgen.compile(HEADER + "    conv 3x3 out=8 bn relu\n")
    table = synthetic([net], per=0.37)
    run = table.run()
    run.scale, run.per_unit_ms = 0.5, 0.1
    assert L.LatencyModel(table, run).total(net.ir) == pytest.approx(0.37)


def test_deploy_runtimes_predict_the_deploy_form(mobilenet):
    table = synthetic([mobilenet], runtime="deploy")
    model = L.LatencyModel(table, table.run())
    layers = [u for u in units(mobilenet.deploy().ir.body) if u.merge is None]
    assert model.total(mobilenet.ir) == pytest.approx(0.1 + (len(layers) - 1) * 0.09)
    # the folded BatchNorms show as riding in their conv's unit
    assert model.predict(mobilenet.ir).fused["features.0.1"] == "features.0.0"


def test_table_round_trip_and_merge(tmp_path, mobilenet):
    table = synthetic([mobilenet])
    path = tmp_path / "t.json"
    path.write_text(table.dumps())
    again = L.LatencyTable.load(path)
    assert again.to_json() == table.to_json()
    other = synthetic([specgen.compile(EXAMPLES / "shufflenet_v2.conv")], per=0.2)
    again.merge(other)
    run = again.run("eager", 1, "nchw")
    assert len(run.entries) == len(table.run().entries | other.run().entries)
    with pytest.raises(L.LatencyError, match="another device.*threads: 1 here, 2 there"):
        again.merge(synthetic([mobilenet], threads=2))


def test_a_model_that_is_not_a_number_is_refused(tmp_path, mobilenet):
    """A NaN scale would make every `latency <= X` comparison false without a word."""
    data = synthetic([mobilenet]).to_json()
    data["runs"][0]["scale"] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(L.LatencyError, match="malformed"):
        L.LatencyTable.load(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not JSON"),
        ('{"schema": "other"}', "schema specgen.latency/1 expected"),
        ('{"schema": "specgen.latency/1", "device": {}, "runs": [{"runtime": "x"}]}', "malformed"),
    ],
)
def test_bad_tables_are_refused(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(L.LatencyError, match=message):
        L.LatencyTable.load(path)


def test_choosing_a_run(mobilenet):
    table = synthetic([mobilenet])
    table.merge(synthetic([mobilenet], runtime="deploy"))
    with pytest.raises(L.LatencyError, match="several runs"):
        table.run()
    assert table.run("deploy").runtime == "deploy"
    with pytest.raises(L.LatencyError, match="no run for runtime onnxruntime"):
        table.run("onnxruntime")


def test_fit_recovers_scale_and_per_unit_cost():
    run = L.Run("eager", 1, "nchw", call_ms=0.02)
    for i, (summed, n) in enumerate([(5.0, 40), (12.0, 100), (30.0, 60), (8.0, 200)]):
        measured = 0.3 + 1.2 * summed + 0.01 * (n - 1)  # first unit 0.3 ms
        run.networks[f"n{i}"] = L.Network(f"n{i}", measured, 0.3, summed, n)
    run.fit()
    assert run.scale == pytest.approx(1.2) and run.per_unit_ms == pytest.approx(0.01)
    # two networks: the scale alone
    run.networks = {
        "n0": L.Network("n0", 0.3 + 2 * 5.0, 0.3, 5.0, 40),
        "n1": L.Network("n1", 0.3 + 2 * 12.0, 0.3, 12.0, 100),
    }
    run.fit()
    assert run.scale == pytest.approx(2.0) and run.per_unit_ms == 0.0
    # a network of one unit says nothing about the units between: none to fit on
    run.networks = {"one": L.Network("one", 0.5, 0.3, 0.0, 1)}
    run.fit()
    assert (run.scale, run.per_unit_ms) == (1.0, 0.0)


# ---- latency as a cost term ------------------------------------------------------------------


def test_latency_in_constraints_and_objectives(mobilenet):
    table = synthetic([mobilenet])
    model = L.LatencyModel(table, table.run())
    expected = model.total(mobilenet.ir)
    src = (EXAMPLES / "mobilenet_v2.conv").read_text()
    head = "constraint latency <= {}\nobjective minimize latency\nlayers:"
    for bound, holds in ((expected * 1.01, True), (expected * 0.99, False)):
        text = src.replace("layers:", head.format(bound), 1)
        net = specgen.compile(text, latency=model)
        assert [c.satisfied for c in net.constraints] == [holds]
        assert net.objectives[0].value == pytest.approx(expected)
        assert net.latency_ms == pytest.approx(expected)


def test_latency_without_a_table_says_how_to_get_one():
    err = pytest.raises(
        specgen.SpecError,
        specgen.compile,
        HEADER.replace("layers:", "constraint latency < 5\nlayers:") + "    relu\n",
    ).value
    assert err.first.code == "unknown-name"
    assert "specgen profile" in err.first.hint


def test_a_missing_configuration_is_named(mobilenet):
    table = synthetic([mobilenet])
    model = L.LatencyModel(table, table.run())
    text = HEADER.replace("layers:", "constraint latency < 5\nlayers:") + "    conv 5x5 out=7\n"
    err = pytest.raises(specgen.SpecError, specgen.compile, text, latency=model).value
    assert err.first.code == "latency"
    assert "1 layer configuration not in t.json" in err.first.message
    assert "conv 5x5  16x8x8 -> 7x8x8" in err.first.message
    with pytest.raises(L.MissingConfigs) as info:
        model.total(specgen.compile(text.replace("constraint latency < 5\n", "")).ir)
    assert len(info.value.units) == 1


def test_search_candidates_carry_the_tables_prediction():
    path = EXAMPLES / "shufflenet_search.conv"
    plain = specgen.space(path).run(["params"], 8, seed=3, keep_networks=True)
    nets = [c.network for c in plain if c.network is not None]
    table = synthetic(nets[:-1])  # the last point's own configurations may be missing
    model = L.LatencyModel(table, table.run())
    run = specgen.space(path, latency=model).run(
        ["params"], 8, seed=3, constraints=["latency <= 5.0"], keep_networks=True
    )
    assert [c.point for c in run] == [c.point for c in plain]
    for c, net in zip(run[:-1], nets[:-1], strict=False):
        assert c.cost["latency"] == model.total(net.ir)
        assert c.feasible == (c.cost["latency"] <= 5.0 and c.cost["macs"] <= 140e6)
    if set(network_keys(nets[-1].ir.body)) - set(table.run().entries):
        assert run[-1].error is not None and run[-1].error.first.code == "latency"


# ---- the command line ------------------------------------------------------------------------


@pytest.fixture
def table_file(tmp_path, mobilenet):
    path = tmp_path / "t.json"
    path.write_text(synthetic([mobilenet]).dumps())
    return path


def test_cost_latency_json(cli, table_file, mobilenet):
    result = cli("cost", str(EXAMPLES / "mobilenet_v2.conv"), "--latency", str(table_file),
                 "--format", "json")  # fmt: skip
    assert result.code == 0, result.err
    report = json.loads(result.out)
    model = L.load_model(table_file)
    assert report["latency_ms"] == pytest.approx(model.total(mobilenet.ir), rel=1e-12)
    assert report["latency"]["run"] == "eager, batch 1, nchw"
    rows = {r["path"]: r for r in report["layers"]}
    assert rows["features.0.1"]["fused_into"] == "features.0.0"
    assert sum(n["latency_ms"] for n in report["tree"]) == pytest.approx(report["latency_ms"])


def test_cost_latency_table_and_csv(cli, table_file):
    spec = str(EXAMPLES / "mobilenet_v2.conv")
    table = cli("cost", spec, "--latency", str(table_file), "--color", "never", "--depth", "1")
    assert table.code == 0
    assert table.out.splitlines()[2].split()[-1] == "ms"
    assert "latency " in table.out and "ms predicted by" in table.out
    text = cli("cost", spec, "--latency", str(table_file), "--format", "csv").out
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[1]["latency_ms"] == "0.0"  # bn1, fused
    plain = cli("cost", spec, "--format", "csv").out
    assert "latency_ms" not in plain.splitlines()[0]


def test_cli_latency_mistakes(cli, table_file, tmp_path):
    spec = str(EXAMPLES / "shufflenet_v2.conv")
    missing = cli("cost", spec, "--latency", str(table_file))
    assert missing.code == 2 and "not in" in missing.err and "Traceback" not in missing.err
    assert cli("cost", spec, "--latency", str(tmp_path / "none.json")).code == 2
    other = cli("cost", spec, "--latency", str(table_file), "--runtime", "deploy")
    assert other.code == 2 and "no run for runtime deploy" in other.err
    search = cli("search", str(EXAMPLES / "shufflenet_search.conv"), "--max-latency", "5")
    assert search.code == 2 and "--latency TABLE" in search.err


def test_search_max_latency(cli, tmp_path):
    space = specgen.space(EXAMPLES / "shufflenet_search.conv")
    nets = [space.evaluate(p) for p in space.sample(40, seed=0)]
    table = synthetic([n for n in nets if isinstance(n, specgen.Network)], per=0.05)
    path = tmp_path / "t.json"
    path.write_text(table.dumps())
    model = L.load_model(path)
    result = cli("search", str(EXAMPLES / "shufflenet_search.conv"), "--latency", str(path),
                 "--max-latency", "6", "--trials", "40", "--seed", "0", "--format", "jsonl",
                 "--objective", "min:latency")  # fmt: skip
    assert result.code == 0, result.err
    lines = [json.loads(x) for x in result.out.splitlines()]
    timed = [c for c in lines if c["cost"] is not None]
    assert timed
    for c in timed:
        net = specgen.compile(EXAMPLES / "shufflenet_search.conv", c["point"])
        assert c["cost"]["latency"] == model.total(net.ir)
        assert c["feasible"] == (c["cost"]["latency"] <= 6 and c["cost"]["macs"] <= 140e6)
    text = cli("search", str(EXAMPLES / "shufflenet_search.conv"), "--latency", str(path),
               "--trials", "5", "--seed", "0").out  # fmt: skip
    assert "latency ms" in text.splitlines()[0]


def test_parser_knows_the_runtimes():
    from specgen.tools.cli import parser

    assert parser.RUNTIMES == L.RUNTIMES and parser.LAYOUTS == L.LAYOUTS
    assert "latency" in specgen.language.domains.COST_TERMS
