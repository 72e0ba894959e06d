"""The cost view: the tree of blocks, composites and layers, --depth, and the table, JSON,
CSV and markdown renderings; colour only on a terminal (NO_COLOR, --color).

ShuffleNet V1 g=3 (examples/shufflenet_v1.conv), counted by hand: a stem of 4 layers
(conv, bn, relu, maxpool), 3 `down` blocks (concat of an avgpool and a branch of 8 layers,
then relu) and 13 `unit` blocks (residual of 8 layers, then relu), gap and fc.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys

import pytest
from conftest import EXAMPLE_FILES, EXAMPLES, HEADER, compile_text, run_module

import specgen
import specgen.tools.cli
from specgen.tools.report import cost_tree, opened, render, rows, to_table, tree_depth

SHUFFLENET = str(EXAMPLES / "shufflenet_v1.conv")
PARAMS, MACS = 1_865_728, 137_460_672  # the published counts (docs/cost.md)
STEM = ["conv1", "bn1", "relu1", "maxpool1"]
BLOCKS = ["down1", "unit1", "unit2", "unit3", "down2"] + [f"unit{i}" for i in range(4, 11)]
BLOCKS += ["down3", "unit11", "unit12", "unit13"]
TOP = STEM + BLOCKS + ["gap1", "fc1"]
# --depth counts block calls, not composites: 0 the totals alone; 1 the network's lines; 2
# also each block's body, its composite with everything in it (down: concat, avgpool, branch
# of 8 layers, relu; unit: residual of 8 layers, relu), which is every row
ROWS = {0: 0, 1: 22, 2: 22 + 3 * (1 + 1 + 1 + 8 + 1) + 13 * (1 + 8 + 1)}
FULL = ROWS[2]
LAYERS = 4 + 3 * 10 + 13 * 9 + 2
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def net():
    return specgen.compile(SHUFFLENET)


def table_names(out: str) -> list[str]:
    """The name column of a plain table, indentation kept, total row left out."""
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("-"))) + 1
    end = start + lines[start:].index(next(line for line in lines[start:] if line[:1] == "-"))
    return [re.match(r"\s*\S+", line).group(0) for line in lines[start:end]]


# ---- the tree ------------------------------------------------------------------------------


def test_row_counts_at_each_depth(net):
    tree = cost_tree(net)
    assert tree_depth(tree) == 2
    assert {d: len(rows(tree, d)) for d in ROWS} == ROWS
    assert len(rows(tree)) == FULL == len(rows(tree, 99))
    assert sum(n.kind == "layer" for n in rows(tree)) == LAYERS == len(net.cost.layers)


def test_the_tree_adds_up_at_every_depth(net):
    """At any depth, the rows shown with nothing shown below them add up to the totals, and
    every parent is the sum of its children."""
    tree = cost_tree(net)
    for depth in range(1, 3):
        shown = rows(tree, depth)
        frontier = [n for n in shown if not n.children or not opened(n, depth)]
        assert sum(n.params for n in frontier) == PARAMS, depth
        assert sum(n.macs for n in frontier) == MACS, depth
        assert sum(n.activations for n in frontier) == net.cost.activations
    assert sum(n.params for n in tree) == PARAMS and sum(n.macs for n in tree) == MACS
    for n in rows(tree):
        if n.children:
            assert n.params == sum(c.params for c in n.children), n.path
            assert n.macs == sum(c.macs for c in n.children), n.path


def test_top_level_layers_and_block_totals(net):
    tree = cost_tree(net)
    assert [n.local for n in tree] == TOP
    kinds = {n.local: n.kind for n in tree}
    assert kinds["conv1"] == kinds["fc1"] == "layer" and kinds["unit1"] == "block"
    by_name = {n.local: n for n in tree}
    # unit(g=3) at 240 channels: 1x1 g3 240->60 (4,800) + bn 120 + dw 3x3 60 (540) + bn 120
    # + 1x1 g3 60->240 (4,800) + bn 480; MACs: the three convs at 28x28
    assert by_name["unit1"].params == 4800 + 120 + 540 + 120 + 4800 + 480
    assert by_name["unit1"].macs == (4800 + 540 + 4800) * 28 * 28
    # down1: ungrouped 1x1 24->60 at 56x56, dw 3x3 s2 60, 1x1 g3 60->216 at 28x28
    assert by_name["down1"].params == 1440 + 120 + 540 + 120 + 4320 + 432
    assert by_name["down1"].macs == 1440 * 56 * 56 + (540 + 4320) * 28 * 28
    unit1 = by_name["unit1"]
    assert [c.local for c in unit1.children] == ["residual1", "relu2"]
    assert [c.kind for c in unit1.children] == ["composite", "layer"]
    down1 = by_name["down1"]
    concat, _ = down1.children
    assert [c.local for c in concat.children] == ["avgpool1", "branch1"]
    assert concat.children[1].op == "branch" and len(concat.children[1].children) == 8


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_every_example_tree_adds_up(path):
    """For every example: the frontier at each depth adds up to the totals, the layers are
    the flat report's, in its order, and the block rows are its blocks."""
    net = specgen.compile(path)
    tree = cost_tree(net)
    c = net.cost
    for depth in range(1, tree_depth(tree) + 1):
        frontier = [n for n in rows(tree, depth) if not n.children or not opened(n, depth)]
        assert (sum(n.params for n in frontier), sum(n.macs for n in frontier)) == (
            c.params,
            c.macs,
        )
    every = rows(tree)
    assert [(n.name, n.params, n.macs) for n in every if n.kind == "layer"] == [
        (r.name, r.params, r.macs) for r in c.layers
    ]
    assert [n.name for n in every if n.kind == "block"] == [b.name for b in c.blocks]
    assert len({n.path for n in every}) == len(every)  # paths are unique


def find(tree, path):
    (node,) = [n for n in rows(tree) if n.path == path]
    return node


@pytest.mark.parametrize(
    "path, name, label, shapes, attrs",
    [
        ("conv1", "conv1", "conv 3x3 s2", ("3x224x224", "24x112x112"), (3, 2, 1)),
        ("maxpool1", "maxpool1", "maxpool 3x3 s2", ("24x112x112", "24x56x56"), (3, 2, None)),
        (
            "down1/concat1/avgpool1",
            "down1.avgpool1",
            "avgpool 3x3 s2",
            ("24x56x56", "24x28x28"),
            (3, 2, None),
        ),
        # stage 2's first pointwise conv is not grouped (g1=1)
        (
            "down1/concat1/branch1/conv1",
            "down1.conv1",
            "conv 1x1",
            ("24x56x56", "60x56x56"),
            (1, 1, 1),
        ),
        (
            "down1/concat1/branch1/dwconv1",
            "down1.dwconv1",
            "dwconv 3x3 s2 g60",
            ("60x56x56", "60x28x28"),
            (3, 2, 60),
        ),
        (
            "down1/concat1/branch1/conv2",
            "down1.conv2",
            "conv 1x1 g3",
            ("60x28x28", "216x28x28"),
            (1, 1, 3),
        ),
        (
            "unit11/residual1/dwconv1",
            "unit11.dwconv1",
            "dwconv 3x3 g240",
            ("240x7x7", "240x7x7"),
            (3, 1, 240),
        ),
        ("fc1", "fc1", "fc", ("960x1x1", "1000"), (None, None, None)),
    ],
)
def test_known_layers(net, path, name, label, shapes, attrs):
    node = find(cost_tree(net), path)
    assert (node.name, node.label, (str(node.input), str(node.output))) == (name, label, shapes)
    kernel, stride, groups = attrs
    got = dict(node.attrs)
    assert got.get("kernel") == (None if kernel is None else (kernel, kernel))
    assert got.get("stride") == (None if stride is None else (stride, stride))
    assert got.get("groups") == groups


def test_shuffle_and_block_labels(net):
    tree = cost_tree(net)
    assert find(tree, "unit1/residual1/shuffle1").label == "shuffle g3"
    assert find(tree, "down1").label == "down(out=240, g=3, g1=1)"
    assert find(tree, "unit4").label == "unit(g=3)"


NESTED = """network n
input 16x8x8
block inner:
    conv 3x3 out=in
block outer:
    residual:
        inner
        shortcut:
            conv 1x1 out=in
    relu
layers:
    outer
    split sizes=[4, 12]:
        relu
        branch:
            conv 1x1 out=12 group=4 dilation=2
            identity
"""


def test_nested_blocks_shortcut_and_split_paths():
    net = compile_text(NESTED)
    tree = cost_tree(net)
    got = [(n.path, n.name, n.kind, n.label) for n in rows(tree)]
    assert got == [
        ("outer1", "outer1", "block", "outer"),
        ("outer1/residual1", "outer1.residual1", "composite", "residual"),
        ("outer1/residual1/inner1", "outer1.inner1", "block", "inner"),
        ("outer1/residual1/inner1/conv1", "outer1.inner1.conv1", "layer", "conv 3x3"),
        ("outer1/residual1/shortcut", "outer1.shortcut", "composite", "shortcut"),
        ("outer1/residual1/shortcut/conv1", "outer1.conv1", "layer", "conv 1x1"),
        ("outer1/relu1", "outer1.relu1", "layer", "relu"),
        ("split1", "split1", "composite", "split 4+12"),
        ("split1/relu1", "relu1", "layer", "relu"),
        ("split1/branch1", "branch1", "composite", "branch"),
        ("split1/branch1/conv1", "conv1", "layer", "conv 1x1 d2 g4"),
        ("split1/branch1/identity1", "identity1", "layer", "identity"),
    ]
    # the module paths of the layers are those of the flat report (and the generated code)
    assert [n.name for n in rows(tree) if n.kind == "layer"] == [r.name for r in net.cost.layers]
    assert find(tree, "split1/relu1").input.c == 4  # the split's first part
    # 16*16*9 + 16 bias; 16*16 + 16; 12*3 + 12
    assert [n.params for n in tree] == [2320 + 272, 48]


# ---- the table -------------------------------------------------------------------------------


def test_table_at_depth_2(cli):
    """Depth 2 opens every block call and, in it, every composite: no composite row stands
    folded, repeating its block's numbers."""
    r = cli("cost", SHUFFLENET, "--depth", "2")
    assert r.code == 0 and r.err == ""
    names = table_names(r.out)
    assert len(names) == ROWS[2]
    assert names[:8] == STEM + ["down1", "  concat1", "    avgpool1", "    branch1"]
    assert names[16:20] == ["  relu2", "unit1", "  residual1", "    conv1"]
    assert names[-2:] == ["gap1", "fc1"]
    header = r.out.splitlines()[2].split()
    assert header[:8] == ["name", "op", "input", "output", "params", "MACs", "MACs", "%"]
    assert "folded" not in r.out  # depth 2 is everything here
    r = cli("cost", SHUFFLENET, "--depth", "1")
    assert "depth 1 of 2: block calls nested deeper are folded" in r.out
    (unit1,) = [line.split() for line in r.out.splitlines() if line.startswith("unit1 ")]
    share = f"{100 * 7_949_760 / MACS:.1f}%"
    assert unit1[:7] == [
        "unit1", "unit(g=3)", "240x28x28", "240x28x28", "10,860", "7,949,760", share
    ]  # fmt: skip
    assert unit1[7].endswith("MiB")  # its memory traffic
    total = [line.split() for line in r.out.splitlines() if line.startswith("total")]
    assert total[0][:6] == ["total", "3x224x224", "1000", "1,865,728", "137,460,672", "100.0%"]


def test_full_table_lists_every_layer_and_no_folding_note(cli):
    r = cli("cost", SHUFFLENET)
    names = table_names(r.out)
    assert len(names) == FULL
    assert "    conv1" in names and "      conv1" in names  # a residual's, a branch's
    assert "folded" not in r.out


@pytest.mark.parametrize("args", [["--blocks"], ["--depth", "1"]])
def test_depth_1_keeps_top_level_layers(cli, args):
    r = cli("cost", SHUFFLENET, *args)
    assert r.code == 0
    assert table_names(r.out) == TOP


def test_vs_dense_column_only_when_a_row_has_a_ratio(cli):
    r = cli("cost", str(EXAMPLES / "separable.conv"), "--depth", "1")
    (row,) = [line.split() for line in r.out.splitlines() if line.startswith("sepconv1")]
    # 128*9 + 128*128 + 2*(2*128) params; dense ratio 1/128 + 1/9; no groups in the label
    assert row[:3] == ["sepconv1", "sepconv", "3x3"]
    assert row[-1] == f"{1 / 128 + 1 / 9:.4f}" and "18,048" in row
    r = cli("cost", SHUFFLENET, "--depth", "1")
    assert "vs dense" not in r.out  # no grouped layer at depth 1


@pytest.mark.parametrize(
    "args",
    [
        ["--depth", "-1"],
        ["--depth", "two"],
        ["--depth", "1", "--blocks"],
        ["--color", "sometimes"],
        ["--format", "yaml"],
    ],
)
def test_bad_view_options_exit_2(cli, args):
    r = cli("cost", SHUFFLENET, *args)
    assert r.code == 2 and r.out == ""
    assert "usage:" in r.err and "Traceback" not in r.err


# ---- JSON, CSV, markdown ------------------------------------------------------------------------


def test_json_keeps_its_keys_and_adds_the_tree(cli, net):
    doc = json.loads(cli("cost", SHUFFLENET, "--format", "json").out)
    assert doc["schema"] == "specgen.cost/2"
    assert [r["name"] for r in doc["layers"]] == [r.name for r in net.cost.layers]
    assert [r["name"] for r in doc["blocks"]] == [b.name for b in net.cost.blocks]
    for old, row in zip(net.cost.layers, doc["layers"], strict=True):
        assert (row["op"], row["output"], row["params"], row["macs"]) == (
            old.op,
            old.output.as_list(),
            old.params,
            old.macs,
        )
        assert row["activations"] == old.activations
        assert row.get("dense_ratio") == old.dense_ratio
    dw = next(r for r in doc["layers"] if r["name"] == "down1.dwconv1")
    assert dw["input"] == [60, 56, 56] and dw["output"] == [60, 28, 28]
    assert (dw["kernel"], dw["stride"], dw["groups"]) == ([3, 3], [2, 2], 60)
    assert dw["path"] == "down1/concat1/branch1/dwconv1" and dw["depth"] == 4
    assert dw["macs_share"] == pytest.approx(540 * 28 * 28 / MACS)
    assert [n["name"] for n in doc["tree"]] == TOP
    assert sum(n["params"] for n in doc["tree"]) == PARAMS
    assert sum(n["macs_share"] for n in doc["tree"]) == pytest.approx(1.0)
    down1 = doc["tree"][4]
    assert down1["kind"] == "block" and down1["args"] == {"out": 240, "g": 3, "g1": 1}
    assert down1["children"][0]["children"][1]["children"][4]["path"] == dw["path"]


def test_json_tree_folds_at_depth(cli):
    doc = json.loads(cli("cost", SHUFFLENET, "--format", "json", "--depth", "1").out)
    units = [n for n in doc["tree"] if n["kind"] == "block"]
    assert len(units) == 16 and all(n["folded"] and "children" not in n for n in units)
    assert "folded" not in doc["tree"][0]  # a layer has nothing to fold
    assert len(doc["layers"]) == LAYERS  # the flat lists are never folded


def test_csv_parses_back(cli):
    out = cli("cost", SHUFFLENET, "--format", "csv", "--depth", "2").out
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == ROWS[2]
    assert {int(r["depth"]) for r in table} == {1, 2, 3, 4}  # the nesting, composites too
    top = [r for r in table if r["depth"] == "1"]
    assert [r["path"] for r in top] == TOP
    assert sum(int(r["params"]) for r in top) == PARAMS
    assert sum(int(r["macs"]) for r in top) == MACS
    assert sum(float(r["macs_share"]) for r in top) == pytest.approx(1.0)
    conv1 = table[0]
    assert (conv1["kernel"], conv1["stride"], conv1["groups"]) == ("3x3", "2x2", "1")
    assert (conv1["input"], conv1["output"], conv1["kind"]) == ("3x224x224", "24x112x112", "layer")
    concat = next(r for r in table if r["path"] == "down1/concat1")
    assert (concat["kind"], concat["name"], concat["kernel"]) == ("composite", "down1.concat1", "")
    full = list(csv.DictReader(io.StringIO(cli("cost", SHUFFLENET, "--format", "csv").out)))
    assert len(full) == FULL
    dw = next(r for r in full if r["name"] == "unit1.dwconv1")
    assert float(dw["dense_ratio"]) == pytest.approx(1 / 60)


def test_markdown_is_a_github_table(cli):
    out = cli("cost", SHUFFLENET, "--format", "markdown", "--depth", "2").out
    lines = [line for line in out.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]
    assert cells[0] == [
        "name", "op", "input", "output", "params", "MACs", "MACs %", "traffic", "vs dense"
    ]  # fmt: skip
    assert cells[1] == [":---", ":---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]
    assert all(len(c) == 9 for c in cells)
    body, total = cells[2:-1], cells[-1]
    assert len(body) == ROWS[2]
    assert body[5][0] == "&emsp;concat1" and body[4][0] == "down1"
    assert total[:5] == ["**total**", "", "**3x224x224**", "**1000**", "**1,865,728**"]
    top = [row for row in body if not row[0].startswith("&emsp;")]
    assert sum(int(row[4].replace(",", "")) for row in top) == PARAMS


# ---- colour ------------------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    """A stdout that says it is a terminal (and has no file descriptor)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def tty(monkeypatch):
    """Run the CLI in-process with a terminal as stdout; returns (code, text)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setenv("TERM", "xterm")

    def run(*args: str) -> tuple[int, str]:
        stream = FakeTTY()
        monkeypatch.setattr(sys, "stdout", stream)
        code = specgen.tools.cli.main(list(args))
        return code, stream.getvalue()  # monkeypatch puts the real stdout back at teardown

    return run


def test_no_ansi_when_piped(cli):
    r = cli("cost", SHUFFLENET)
    assert "\x1b" not in r.out
    done = run_module("cost", "examples/igc.conv")
    assert done.returncode == 0 and done.stdout.startswith("igc(M=2, L=8)")
    assert "\x1b" not in done.stdout


def test_colour_on_a_terminal_and_never(tty):
    code, out = tty("cost", SHUFFLENET, "--depth", "2")
    assert code == 0 and ANSI.search(out)
    code, out = tty("cost", SHUFFLENET, "--depth", "2", "--color", "never")
    assert code == 0 and "\x1b" not in out


def test_no_color_is_honoured_unless_forced(tty, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    code, out = tty("cost", SHUFFLENET)
    assert code == 0 and "\x1b" not in out
    _, forced = tty("cost", SHUFFLENET, "--color", "always")  # an explicit flag wins
    assert ANSI.search(forced)
    monkeypatch.setenv("NO_COLOR", "")  # empty: not set (no-color.org)
    assert ANSI.search(tty("cost", SHUFFLENET)[1])


def test_forced_colour_shows_the_same_cells(cli):
    """Colour changes the look, not the content: stripped of escapes, every row has the
    plain table's cells."""
    plain = cli("cost", SHUFFLENET, "--depth", "2").out
    coloured = cli("cost", SHUFFLENET, "--depth", "2", "--color", "always").out
    assert ANSI.search(coloured)
    stripped = ANSI.sub("", coloured)

    def cells(text: str) -> list[list[str]]:
        return [line.split() for line in text.splitlines() if line.strip(" -─")]

    assert cells(stripped) == cells(plain)


def test_only_the_table_is_coloured(cli):
    for fmt in ("json", "csv", "markdown"):
        out = cli("cost", SHUFFLENET, "--format", fmt, "--color", "always").out
        assert "\x1b" not in out, fmt


def test_a_narrow_terminal_wraps_only_the_op_column(net):
    """The op column gives way by wrapping, never by cutting: a call keeps every argument."""
    out = ANSI.sub("", to_table(net, depth=1, color=True, width=70))
    lines = out.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith("down1 ")]
    down1 = lines[at].split()
    assert down1[-4:-1] == ["6,972", "8,326,080", f"{100 * 8_326_080 / MACS:.1f}%"]
    assert "…" not in out
    # the call goes on in the op column of the lines under it, the other columns empty there
    more = [line.split() for line in lines[at + 1 : at + 3] if line.startswith(" ")]
    assert down1[1] + "".join("".join(cells) for cells in more) == "down(out=240,g=3,g1=1)"


def test_without_rich_the_table_is_plain(net, monkeypatch):
    monkeypatch.setitem(sys.modules, "rich", None)  # `import rich...` raises ImportError
    assert to_table(net, color=True) == to_table(net)


def test_real_terminal_gets_colour():
    """End to end on a pseudo-terminal: the CLI looks at its actual stdout."""
    pty = pytest.importorskip("pty")
    import subprocess

    def run(extra_env: dict[str, str]) -> bytes:
        master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
        env.update(PYTHONPATH=str(EXAMPLES.parent), TERM="xterm", **extra_env)
        proc = subprocess.Popen(
            [sys.executable, "-m", "specgen", "cost", "examples/igc.conv"],
            cwd=EXAMPLES.parent,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.close(slave)
        data = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO once the child is gone
                break
            if not chunk:
                break
            data += chunk
        os.close(master)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        return data

    assert b"\x1b[" in run({})
    assert b"\x1b[" not in run({"NO_COLOR": "1"})


# ---- --deploy -----------------------------------------------------------------------------------


def test_deploy_view(cli):
    """BatchNorm folded: one bias of C replaces each bn's 2·C, the MACs stay."""
    bn_channels = 24 + (60 + 60 + 216) + 3 * 360 + 480 + 7 * 720 + 960 + 3 * 1440
    r = cli("cost", SHUFFLENET, "--deploy", "--depth", "1")
    assert r.code == 0
    names = table_names(r.out)
    assert names == [n for n in TOP if n != "bn1"]
    total = [line.split() for line in r.out.splitlines() if line.startswith("total")]
    assert total[0][3:5] == [f"{PARAMS - bn_channels:,}", f"{MACS:,}"]
    full = list(
        csv.DictReader(io.StringIO(cli("cost", SHUFFLENET, "--deploy", "--format", "csv").out))
    )
    assert len(full) == FULL - (1 + 16 * 3)  # every bn row is gone
    assert not [r for r in full if r["op"] == "bn"]
    conv1 = full[0]
    assert (conv1["params"], conv1["label"]) == (str(648 + 24), "conv 3x3 s2")


# ---- the Python side ----------------------------------------------------------------------------


def test_render_formats_and_bad_format(net):
    assert render(net, "table") == to_table(net)
    assert render(net, "table", color="always").count("\x1b[") > 10
    with pytest.raises(ValueError, match="unknown format"):
        render(net, "yaml")


def test_small_spec_table(cli, tmp_path):
    path = tmp_path / "g.conv"
    path.write_text(HEADER + "    conv 3x3 out=16 group=4 stride=2\n    relu\n")
    out = cli("cost", str(path)).out
    rows_ = [line.split() for line in out.splitlines() if line.startswith(("conv1", "relu1"))]
    # 16*4*9 + 16 bias = 592 params; 576 weights at 4x4 = 9,216 MACs, all of them; traffic
    # 4·(1024 in + 592 + 256 out) = 7,488 bytes and 4·(256 + 256) = 2,048 bytes
    assert rows_ == [
        ["conv1", "conv", "3x3", "s2", "g4", "16x8x8", "16x4x4", "592", "9,216", "100.0%"]
        + ["7.3KiB", "0.2500"],
        ["relu1", "relu", "16x4x4", "16x4x4", "0", "0", "2.0KiB"],
    ]


# ---- the documentation -------------------------------------------------------------------------


def doc_examples() -> list[tuple[str, str]]:
    """(command, output) of every `$ specgen cost examples/...` block in docs/cost.md; an
    output ending in `...` is a prefix."""
    text = (EXAMPLES.parent / "docs" / "cost.md").read_text(encoding="utf-8")
    found = re.findall(r"```console\n\$ specgen (cost examples/[^\n]+)\n(.*?)```", text, re.S)
    assert len(found) >= 3
    return found


@pytest.mark.parametrize("command, shown", doc_examples(), ids=lambda v: v[:50])
def test_docs_show_the_real_output(cli, command, shown):
    args = command.split()
    args[1] = str(EXAMPLES.parent / args[1])
    out = cli(*args).out
    if shown.endswith("...\n"):
        kept = shown.splitlines()[:-1]
        assert out.splitlines()[: len(kept)] == kept
    else:
        assert out == shown
