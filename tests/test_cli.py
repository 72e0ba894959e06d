"""The command line: exit codes, the cost table, the JSON report and its schema, --set."""

from __future__ import annotations

import json
import math
import re
import sys

import pytest
from conftest import EXAMPLES, HEADER, ROOT

import specgen.tools.cli.common

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

SHUFFLENET = str(EXAMPLES / "shufflenet_v1.conv")
MOBILENET = str(EXAMPLES / "mobilenet_v1.conv")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ---- exit codes ------------------------------------------------------------------------------


def test_check_ok(cli):
    r = cli("check", SHUFFLENET)
    assert r.code == 0
    assert r.err == ""
    assert r.out.startswith("ok: ")
    assert "1,865,728 params" in r.out and "137,460,672 MACs" in r.out


def test_check_with_set(cli):
    r = cli("check", SHUFFLENET, "--set", "g=8")
    assert r.code == 0
    assert "2,434,768 params" in r.out and "138,365,952 MACs" in r.out


def test_check_bad_spec_exits_2(cli, tmp_path):
    path = write(tmp_path, "bad.conv", HEADER + "    shuffle group=5\n")
    r = cli("check", path)
    assert r.code == 2
    assert r.out == ""
    assert r.err.startswith(f"{path}:4:13: error: shuffle group=5 does not divide the 16 channels")
    assert "hint: groups dividing 16: 1, 2, 4, 8, 16" in r.err


def test_cost_bad_spec_exits_2(cli, tmp_path):
    path = write(tmp_path, "bad.conv", HEADER + "    conv 1x1 out=in/3\n")
    for fmt in ("table", "json"):
        r = cli("cost", path, "--format", fmt)
        assert r.code == 2
        assert r.out == ""
        assert f"{path}:4:18: error: 16 / 3 does not divide exactly" in r.err


def test_all_errors_are_printed(cli, tmp_path):
    path = write(tmp_path, "bad.conv", HEADER + "    conb 3x3\n    shuffle group=5\n    fc 10\n")
    r = cli("check", path)
    assert r.code == 2
    assert [f"{path}:{n}:" in r.err for n in ("4:5", "5:13", "6:5")] == [True] * 3


def test_missing_file(cli, tmp_path):
    path = str(tmp_path / "nope.conv")
    r = cli("check", path)
    assert r.code == 2
    assert r.err.strip() == f"{path}: error: no such file"
    assert cli("cost", path).code == 2


def test_directory(cli, tmp_path):
    r = cli("check", str(tmp_path))
    assert r.code == 2
    assert "is a directory" in r.err


def test_missing_file_without_conv_suffix(cli, tmp_path):
    path = str(tmp_path / "missing.txt")
    r = cli("check", path)
    assert r.code == 2
    assert "no such file" in r.err


def test_internal_error_exits_3_without_traceback(cli, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(specgen.tools.cli.common, "compile", broken)
    monkeypatch.delenv("SPECGEN_DEBUG", raising=False)
    r = cli("check", SHUFFLENET)
    assert r.code == 3
    assert "internal error: RuntimeError: boom" in r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("frobnicate", SHUFFLENET),
        ("check",),
        ("cost", SHUFFLENET, "--format", "xml"),
    ],
)
def test_usage_errors_exit_2(cli, args):
    r = cli(*args)
    assert r.code == 2
    assert "Traceback" not in r.err
    assert "usage:" in r.err


# ---- the table ----------------------------------------------------------------------------------


def table_total(out: str) -> list[str]:
    (line,) = [line for line in out.splitlines() if line.startswith("total")]
    return line.split()


def test_cost_table_with_set_g8(cli):
    r = cli("cost", SHUFFLENET, "--set", "g=8")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].startswith("shufflenet_v1(g=8, classes=1000)")
    assert (
        "input 3x224x224" in lines[0]
        and "output 1000" in lines[0]
        and "output 1000x" not in lines[0]
    )
    total = table_total(r.out)
    assert total[:6] == ["total", "3x224x224", "1000", "2,434,768", "138,365,952", "100.0%"]
    # the traffic total (hand-computed on small cases in test_latency.py), in MiB
    traffic = specgen.compile(SHUFFLENET, {"g": 8}).cost.traffic
    assert total[6:] == [f"{traffic / 2**20:.1f}MiB"]
    assert "FLOPs 276,731,904 (2·MACs)" in r.out  # 2 * 138,365,952
    fc = [line.split() for line in lines if line.startswith("fc1 ")]
    # 1536*1000 + 1000 params; 1,536,000 / 138,365,952 = 1.11% of the MACs; traffic: the
    # input, the weights and bias, the output: 4·(1536 + 1,537,000 + 1000) bytes = 5.9 MiB
    assert fc == [["fc1", "fc", "1536x1x1", "1000", "1,537,000", "1,536,000", "1.1%", "5.9MiB"]]


def test_cost_table_default_and_other_sets(cli):
    expected = {
        None: ("1,865,728", "137,460,672"),
        "g=1": ("1,531,936", "143,078,976"),
        "g=4": ("1,968,344", "134,339,776"),
    }
    for setting, (params, macs) in expected.items():
        args = ["cost", SHUFFLENET] + (["--set", setting] if setting else [])
        r = cli(*args)
        assert r.code == 0
        assert table_total(r.out)[3:5] == [params, macs]


def test_cost_table_blocks(cli):
    """--blocks is --depth 1: the network's own lines, blocks folded, top-level layers kept."""
    r = cli("cost", SHUFFLENET, "--blocks")
    assert r.code == 0
    assert r.out == cli("cost", SHUFFLENET, "--depth", "1").out
    lines = r.out.splitlines()
    header = lines[2].split()
    assert header[0] == "name"
    names = [line.split()[0] for line in lines[4:] if line and not line.startswith("-")]
    names = names[: names.index("total")]
    # stem (4 layers), stage 2: down + 3 units, stage 3: down + 7 units, stage 4: down + 3
    # units, then gap and fc
    assert names[:9] == ["conv1", "bn1", "relu1", "maxpool1", "down1", "unit1", "unit2"] + [
        "unit3",
        "down2",
    ]
    assert names[-2:] == ["gap1", "fc1"]
    assert len(names) == 4 + 3 + 13 + 2
    assert table_total(r.out)[3:5] == ["1,865,728", "137,460,672"]


def test_cost_table_vs_dense_column(cli, tmp_path):
    path = write(tmp_path, "g.conv", HEADER + "    conv 3x3 out=16 group=4\n")
    r = cli("cost", path)
    (row,) = [line.split() for line in r.out.splitlines() if line.startswith("conv1")]
    # 16*4*9 + 16 bias = 592 params, 576*64 MACs (all of them), 1/4 of the dense weights;
    # traffic 4·(1024 in + 592 + 1024 out) = 10,560 bytes
    assert row == ["conv1", "conv", "3x3", "g4", "16x8x8", "16x8x8", "592", "36,864", "100.0%"] + [
        "10.3KiB",
        "0.2500",
    ]


# ---- JSON -----------------------------------------------------------------------------------------

TOP_KEYS = {
    "schema": str,
    "network": str,
    "parameters": dict,
    "input": list,
    "output": list,
    "params": int,
    "macs": int,
    "flops": int,
    "memory": dict,
    "layers": list,
    "blocks": list,
    "tree": list,
}
MEMORY_KEYS = {
    "params_bytes",
    "activations",
    "activation_bytes",
    "peak_activations",
    "peak_activation_bytes",
    "traffic_bytes",
}
LAYER_KEYS = {"name", "op", "output", "params", "macs", "activations"}
BLOCK_KEYS = {"name", "op", "output", "params", "macs"}
# added with the cost tree (docs/cost.md): where a row sits, its input, its share of the MACs
ROW_KEYS = {"path", "depth", "label", "input", "macs_share"}
ROW_KEYS |= {"traffic_bytes"}  # added with memory traffic (issue 23)
OPTIONAL_KEYS = {"dense_ratio", "kernel", "stride", "dilation", "groups", "args"}


def check_schema(doc: dict) -> None:
    assert set(doc) == set(TOP_KEYS)
    for key, kind in TOP_KEYS.items():
        assert type(doc[key]) is kind, key
    assert doc["schema"] == "specgen.cost/2"
    assert len(doc["input"]) == 3
    for shape in (doc["input"], doc["output"]):
        assert len(shape) in (1, 3) and all(type(v) is int and v > 0 for v in shape)
    assert set(doc["memory"]) == MEMORY_KEYS
    assert all(type(v) is int for v in doc["memory"].values())
    assert doc["layers"], "a network has layers"
    for row in doc["layers"]:
        assert LAYER_KEYS | ROW_KEYS <= set(row) <= LAYER_KEYS | ROW_KEYS | OPTIONAL_KEYS
        assert type(row["name"]) is str and type(row["op"]) is str
        assert len(row["output"]) in (1, 3) and all(type(v) is int for v in row["output"])
        for key in ("params", "macs", "activations"):
            assert type(row[key]) is int and row[key] >= 0
        if "dense_ratio" in row:
            assert type(row["dense_ratio"]) is float and 0 < row["dense_ratio"] <= 1
        assert row["activations"] == math.prod(row["output"])
    for row in doc["blocks"]:
        assert BLOCK_KEYS | ROW_KEYS <= set(row) <= BLOCK_KEYS | ROW_KEYS | OPTIONAL_KEYS
        assert type(row["params"]) is int and type(row["macs"]) is int
    assert len({row["name"] for row in doc["layers"]}) == len(doc["layers"])
    # totals are the sums of the layer rows
    assert doc["params"] == sum(row["params"] for row in doc["layers"])
    assert doc["macs"] == sum(row["macs"] for row in doc["layers"])
    assert doc["flops"] == 2 * doc["macs"]
    memory = doc["memory"]
    assert memory["activations"] == sum(row["activations"] for row in doc["layers"])
    assert memory["params_bytes"] == 4 * doc["params"]
    assert memory["activation_bytes"] == 4 * memory["activations"]
    assert memory["peak_activation_bytes"] == 4 * memory["peak_activations"]
    # the layers' traffic, plus the sums and concatenations of composites (never less)
    assert memory["traffic_bytes"] >= sum(row["traffic_bytes"] for row in doc["layers"])
    assert doc["output"] == doc["layers"][-1]["output"]


def cost_json(cli, *args) -> dict:
    r = cli("cost", *args, "--format", "json")
    assert r.code == 0, r.err
    assert r.err == ""
    return json.loads(r.out)


def test_json_shufflenet_g8(cli):
    doc = cost_json(cli, SHUFFLENET, "--set", "g=8")
    check_schema(doc)
    assert doc["network"] == "shufflenet_v1"
    assert doc["parameters"] == {"g": 8, "classes": 1000}
    assert doc["input"] == [3, 224, 224] and doc["output"] == [1000]
    assert (doc["params"], doc["macs"]) == (2_434_768, 138_365_952)
    first = doc["layers"][0]
    assert first == {
        "name": "conv1",
        "op": "conv",
        "output": [24, 112, 112],
        "params": 24 * 3 * 9,  # no bias: bn follows
        "macs": 24 * 3 * 9 * 112 * 112,
        "activations": 24 * 112 * 112,
        "path": "conv1",
        "depth": 1,
        "label": "conv 3x3 s2",
        "input": [3, 224, 224],
        "kernel": [3, 3],
        "stride": [2, 2],
        "dilation": [1, 1],
        "groups": 1,
        "macs_share": 24 * 3 * 9 * 112 * 112 / 138_365_952,
        "traffic_bytes": 4 * (3 * 224 * 224 + 24 * 3 * 9 + 24 * 112 * 112),  # in, weights, out
    }
    block_names = [b["name"] for b in doc["blocks"]]
    assert block_names[:2] == ["down1", "unit1"] and len(block_names) == 16
    assert sum(b["params"] for b in doc["blocks"]) + 24 * 27 + 48 + 1536 * 1000 + 1000 == (
        doc["params"]
    )


def test_json_mobilenet_width(cli):
    doc = cost_json(cli, MOBILENET, "--set", "width=0.5", "--set", "classes=10")
    check_schema(doc)
    assert doc["parameters"] == {"width": 0.5, "classes": 10}
    assert doc["layers"][-1]["params"] == 512 * 10 + 10


@pytest.mark.parametrize(
    "example", ["igc.conv", "gdc.conv", "separable.conv", "shufflenet_v2.conv"]
)
def test_json_schema_for_examples(cli, example):
    check_schema(cost_json(cli, str(EXAMPLES / example)))


def test_json_dense_ratio_of_igc(cli):
    doc = cost_json(cli, str(EXAMPLES / "igc.conv"))
    (igc,) = [row for row in doc["layers"] if row["op"] == "igc"]
    # M=2, L=8, 3x3: G(M*9 + L) / (G*G*9) = 26 / 144
    assert igc["params"] == 416
    assert igc["dense_ratio"] == pytest.approx(26 / 144)


# ---- --set ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, phrase",
    [
        ("h=8", "unknown parameter `h`"),
        ("gg=8", "did you mean `g`?"),
        ("g=", "no value given for `g`"),
        ("g", "--set expects NAME=VALUE, got `g`"),
        ("=3", "--set expects NAME=VALUE"),
        ("1g=2", "--set expects NAME=VALUE, got `1g=2`"),
        ("g=(", "unexpected end of file"),
        ("g=foo", "unknown name `foo`"),
        ("g=2.5", "parameter `g` expects a value like 3, got 2.5"),
        ("g=true", "parameter `g` expects a value like 3, got true"),
        ("g=5", "no entry for 5 in the table"),
        ("g=2**99", "exponent 99 is too large"),
        ("g=7/2", "7 / 2 does not divide exactly"),
    ],
)
def test_set_errors(cli, setting, phrase):
    r = cli("cost", SHUFFLENET, "--set", setting)
    assert r.code == 2
    assert phrase in r.err
    assert "Traceback" not in r.err
    assert r.out == ""


def test_set_error_points_into_the_spec(cli):
    r = cli("check", SHUFFLENET, "--set", "g=5")
    assert r.err.startswith(f"{SHUFFLENET}:7:57: error: no entry for 5 in the table")
    assert "hint: keys: 1, 2, 3, 4, 8" in r.err


def test_set_expression_values(cli):
    r = cli("check", SHUFFLENET, "--set", "g=2*4", "--set", "classes=10")
    assert r.code == 0
    # fc 1536 -> 10 instead of 1536 -> 1000
    assert f"{2_434_768 - 1536 * 990 - 990:,} params" in r.out


# ---- never a traceback ----------------------------------------------------------------------------

BAD_INPUTS = {
    "syntax.conv": HEADER + "    conv 3x3 out=)\n",
    "tabs.conv": HEADER + "\tconv 3x3\n",
    "group.conv": "network n\ninput 54x8x8\nlayers:\n    conv 1x1 out=54 group=4\n",
    "recursive.conv": "network n\ninput 16x8x8\nblock a:\n    a\nlayers:\n    a\n",
    "limit.conv": HEADER + "    relu x 99999999\n",
    "deep.conv": HEADER + "    conv 3x3 out=" + "-" * 200 + "1\n",
    "parens.conv": HEADER + "    conv 3x3 out=" + "(" * 5000 + "8\n",
    "unknown.conv": HEADER + "    conb 3x3 groups=2\n",
    "fc.conv": HEADER + "    fc 10\n",
    "empty.conv": "",
    "blank.conv": "\n\n   \n",
    "comment.conv": "# only a comment",
    "nul.conv": HEADER + "    relu\x00\n",
    "unicode.conv": HEADER + "    conv 3x3 out=8 ✓\n",
    "brackets.conv": HEADER + "    conv 3x3 out=[[[{(\n",
    "binary.conv": None,  # written as bytes below
    "latin1.conv": None,
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["check", "cost"])
def test_bad_inputs_never_print_a_traceback(cli, tmp_path, name, command):
    path = tmp_path / name
    if name == "binary.conv":
        path.write_bytes(bytes(range(256)) * 4)
    elif name == "latin1.conv":
        path.write_bytes("network n\n# café\ninput 16x8x8\nlayers:\n    relu\n".encode("latin-1"))
    else:
        path.write_text(BAD_INPUTS[name])
    r = cli(command, str(path))
    assert r.code == 2, r.err
    assert "Traceback" not in r.err
    assert "internal error" not in r.err
    assert r.err.startswith(str(path)) and "error:" in r.err
    assert r.out == ""


@pytest.mark.parametrize(
    "expr",
    [
        "9" * 5000,
        "1e400",
        pytest.param(
            "1e-300 ** -2",
        ),
        pytest.param(
            "1e15 // 1e-300",
        ),
    ],
    ids=["5000-digits", "float-literal", "float-power", "float-floordiv"],
)
def test_overflowing_numbers_exit_2(cli, tmp_path, expr):
    path = write(tmp_path, "big.conv", HEADER + f"    conv 3x3 out={expr}\n")
    r = cli("check", path)
    assert r.code == 2, r.err
    assert f"{path}:4:18: error:" in r.err
    assert "internal error" not in r.err


# ---- python -m specgen -----------------------------------------------------------------------------


def test_module_version(module_cli):
    r = module_cli("--version")
    assert r.returncode == 0
    assert r.stderr == ""
    assert re.fullmatch(r"specgen \d+\.\d+\.\d+\n", r.stdout)
    if tomllib is not None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        assert r.stdout == f"specgen {project['version']}\n"


def test_module_check_and_cost(module_cli, tmp_path):
    r = module_cli("check", "examples/shufflenet_v1.conv", "--set", "g=8")
    assert r.returncode == 0
    assert "2,434,768 params" in r.stdout
    bad = write(tmp_path, "bad.conv", HEADER + "    shuffle group=5\n")
    r = module_cli("cost", bad)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"{bad}:4:13: error:" in r.stderr
