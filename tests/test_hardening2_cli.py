"""Issue 18 (hardening, round 2), the command line and its tools: `graph -o` is a path, its
size and Graphviz's time are bounded, CSV cells are inert in spreadsheets, FILE arguments are
always paths, spec text reaches the terminal escaped, and the rough edges of cost, graph and
verify (depth counting, constraint warnings, `-o /dev/stdout`, the command list in the docs).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT, compile_text, run_module

import specgen
import specgen.tools.cli
import specgen.tools.cli.build
import specgen.tools.cli.status
from specgen.errors import printable
from specgen.tools import graph
from specgen.tools.report import cost_tree, csv_text, opened, rows

SHUFFLENET = str(EXAMPLES / "shufflenet_v1.conv")
SMALL = "network n\ninput 3x8x6\nlayers:\n    conv 1x1 out=4 bn relu\n"
# `n` calls of a block, each with its own argument (so none is folded into "×n")
MANY = """network many(n=10)
input 8x8x8

block b(k):
    conv 1x1 out=8 bn relu

layers:
    for i in range(n):
        b(i)
"""


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---- 4: `graph -o svg` is a file name, never a format ----------------------------------------


@pytest.mark.parametrize("word", ["svg", "png", "pdf", "dot", "gv", "SVG"])
def test_graph_o_a_bare_format_name_is_refused_and_nothing_is_drawn(
    cli, tmp_path, monkeypatch, word
):
    """It used to draw the diagram, throw it away and exit 0 with no file."""
    monkeypatch.chdir(tmp_path)
    r = cli("graph", str(EXAMPLES / "igc.conv"), "-o", word)
    assert r.code == 2 and r.out == ""
    assert f"{word}: a file name without a suffix, so the format is unknown" in r.err
    assert f"`-o net.{word.lower()}`" in r.err
    assert list(tmp_path.iterdir()) == []


def test_graph_o_without_a_suffix_is_refused(cli, tmp_path):
    r = cli("graph", str(EXAMPLES / "igc.conv"), "-o", str(tmp_path / "net"))
    assert r.code == 2 and "without a suffix" in r.err and ".svg" in r.err
    assert list(tmp_path.iterdir()) == []


def test_graph_write_takes_every_name_as_a_path(tmp_path):
    text = graph.to_dot(specgen.compile(str(EXAMPLES / "igc.conv")))
    with pytest.raises(graph.GraphError, match="without a suffix"):
        graph.write(text, "dot")
    graph.write(text, str(tmp_path / "net.gv"))
    assert (tmp_path / "net.gv").read_text(encoding="utf-8") == text
    assert graph.render(text, "dot") == text.encode()  # the API's format names stay


# ---- 14: how much Graphviz is given, and for how long --------------------------------------


def test_a_diagram_past_max_boxes_is_refused_before_graphviz(cli, tmp_path, monkeypatch):
    spec = write(tmp_path, "many.conv", MANY)
    net = specgen.compile(spec, {"n": 60})
    with pytest.raises(graph.TooLarge, match=r"more than 100 boxes.*--depth N"):
        graph.to_dot(net, depth=1, max_boxes=100)
    assert graph.boxes(net, depth=1) == 2 + 60 * 2  # input, output; a frame and a box each
    # the CLI gives Graphviz at most MAX_BOXES: `dot` is never started past it
    monkeypatch.setattr(graph, "MAX_BOXES", 100)
    monkeypatch.setattr(graph, "dot_program", lambda: "/nonexistent/dot")
    started = []
    monkeypatch.setattr(graph.subprocess, "run", lambda *a, **k: started.append(a))
    out = tmp_path / "many.svg"
    r = cli("graph", spec, "--set", "n=60", "--depth", "1", "-o", str(out))
    assert r.code == 2 and "more than 100 boxes" in r.err and "-o FILE.dot" in r.err
    assert started == [] and not out.exists()
    # DOT text is written at any size: no Graphviz runs
    r = cli("graph", spec, "--set", "n=60", "--depth", "1", "-o", str(tmp_path / "many.dot"))
    assert r.code == 0 and (tmp_path / "many.dot").stat().st_size > 0


def test_graphviz_is_stopped_after_its_timeout(cli, tmp_path, monkeypatch):
    """A `dot` that never finishes: stopped, a clean error (exit 2), no file, no traceback."""
    slow = tmp_path / "dot"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setattr(graph, "dot_program", lambda: str(slow))
    text = graph.to_dot(specgen.compile(str(EXAMPLES / "igc.conv")))
    start = time.monotonic()
    with pytest.raises(graph.TooLarge, match=r"stopped after 0\.5 s"):
        graph.render(text, "svg", timeout=0.5)
    assert time.monotonic() - start < 10
    monkeypatch.setattr(graph, "DOT_TIMEOUT", 0.5)
    monkeypatch.setattr(graph.write, "__kwdefaults__", {"timeout": 0.5})
    out = tmp_path / "igc.svg"
    r = cli("graph", str(EXAMPLES / "igc.conv"), "-o", str(out))
    assert r.code == 2 and "Graphviz's dot was stopped after 0.5 s" in r.err
    assert "Traceback" not in r.err and not out.exists()


# ---- graph: a default depth for large networks, --block NAME:K, identity shortcuts ---------


def test_a_large_network_is_drawn_folded_by_default_and_says_so(cli, tmp_path):
    spec = write(tmp_path, "many.conv", MANY)
    r = cli("graph", spec, "--set", "n=100")
    assert r.code == 0
    assert "drawn with --depth 0" in r.err and "--depth N chooses" in r.err
    net = specgen.compile(spec, {"n": 100})
    assert r.out == graph.to_dot(net, depth=0)
    assert graph.default_depth(net) == 0
    # a network that fits stays open, silently
    r = cli("graph", SHUFFLENET)
    assert r.code == 0 and r.err == ""
    assert r.out == graph.to_dot(specgen.compile(SHUFFLENET))
    # an explicit --depth is drawn as asked
    r = cli("graph", spec, "--set", "n=100", "--depth", "1")
    assert r.code == 0 and r.err == "" and "<B>b10.conv1</B>" in r.out


def test_block_k_draws_the_kth_call(cli):
    net = specgen.compile(SHUFFLENET)
    fifth = graph.to_dot(net, block="unit:5")
    assert "<B>unit5</B>: <B>unit(g=3)</B> in" in fifth and "<B>unit5.conv1</B>" in fifth
    assert "unit1.conv1" not in fifth
    assert "<B>unit1.conv1</B>" in graph.to_dot(net, block="unit:1")
    r = cli("graph", SHUFFLENET, "--block", "unit:14")
    assert r.code == 2
    assert "--block unit:14: shufflenet_v1(g=3, classes=1000) calls `unit` 13 times" in r.err
    assert "hint: --block unit:1 to --block unit:13" in r.err
    for index in ("0", "\u00b2", "\u0663"):  # not a positive ASCII number: refused, exit 2
        r = cli("graph", SHUFFLENET, "--block", f"unit:{index}")
        assert r.code == 2 and "--block expects NAME or NAME:K" in r.err, r.err


def test_a_block_error_names_block_not_expand(cli):
    r = cli("graph", SHUFFLENET, "--block", "unti")
    assert r.code == 2 and "--expand" not in r.err
    assert "error: --block: shufflenet_v1 has no block `unti`" in r.err
    assert "did you mean `unit`?" in r.err


def test_a_shortcut_whose_if_is_false_is_drawn_as_the_dashed_identity():
    text = """network n(p=false)
input 8x8x8
layers:
    residual:
        conv 1x1 out=8
        shortcut:
            if p:
                conv 1x1 out=8
"""
    dot = graph.to_dot(compile_text(text))
    into_add = [line for line in dot.splitlines() if "->" in line and "identity" in line]
    assert into_add == ['    n1 -> n3 [label="identity 8×8×8" style=dashed]']
    assert "shortcut 8×8×8" not in dot
    projected = graph.to_dot(compile_text(text, {"p": True}))
    assert 'label="shortcut 8×8×8"' in projected and "style=dashed" not in projected


# ---- 9: CSV cells a spreadsheet would evaluate -----------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_text_cells_are_made_inert(start):
    assert csv_text(f"{start}cmd|' /C calc'!A0") == f"'{start}cmd|' /C calc'!A0"
    assert csv_text("unit1/conv1") == "unit1/conv1"


def test_csv_file_names_that_look_like_formulas_are_quoted(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = ["=HYPERLINK(1).conv", "+1.conv", "-2.conv", "@SUM(A1).conv", "ok.conv"]
    for name in names:
        write(tmp_path, name, SMALL)
    r = cli("cost", "--format", "csv", "--", *names)  # `--`: -2.conv is a file
    assert r.code == 0, r.err
    table = list(csv.DictReader(io.StringIO(r.out)))
    shown = ["'=HYPERLINK(1).conv", "'+1.conv", "'-2.conv", "'@SUM(A1).conv", "ok.conv"]
    assert [row["file"] for row in table] == [name for name in shown for _ in range(3)]
    for row in table:  # numbers stay numbers
        assert row["params"].isdigit() and float(row["macs_share"]) >= 0


# ---- 10: a FILE argument is always a path -----------------------------------------------------


@pytest.mark.parametrize(
    "command", [["check"], ["cost"], ["graph"], ["build", "--target", "torch"], ["search"]]
)
def test_a_file_argument_with_a_line_break_is_a_path_not_spec_text(cli, command):
    r = cli(command[0], SMALL, *command[1:])
    assert r.code == 2 and r.out == ""
    # the name is shown escaped, on one line: `network n\x0ainput ...: error: no such file`
    assert r.err.startswith("network n\\x0ainput 3x8x6\\x0alayers:")
    assert r.err.rstrip("\n").endswith("error: no such file") and r.err.count("\n") == 1


def test_a_file_whose_name_has_a_line_break_is_read(cli, tmp_path):
    path = write(tmp_path, "two\nlines.conv", SMALL)
    r = cli("check", path)
    assert r.code == 0 and r.out.startswith("ok: <Network n() 3x8x6 -> 4x8x6>"), r.err


# ---- 11: control characters from a spec reach the terminal escaped ---------------------------


ESC = "\x1b"
HOSTILE = (
    "network n\n"
    "input 3x8x8\n"
    f'assert 1 == 2, "bad {ESC}[31mred{ESC}[0m {ESC}[2J \u202e rtl"\n'
    "layers:\n"
    "    conv 1x1 out=4\n"
)


def test_printable_escapes_what_a_terminal_acts_on():
    assert printable(f"a{ESC}[2Jb\u202ec\td\x7f\x9b\u2028") == (
        "a\\x1b[2Jb\\u202ec\td\\x7f\\x9b\\u2028"
    )
    assert printable("x\ny") == "x\\x0ay" and printable("x\ny", newlines=True) == "x\ny"
    assert printable("conv 3×3 → 116, é") == "conv 3×3 → 116, é"  # text stays text


def test_an_assert_message_and_the_echoed_line_are_escaped(cli, tmp_path):
    path = write(tmp_path, "hostile.conv", HOSTILE)
    r = cli("check", path)
    assert r.code == 2 and ESC not in r.err and "\u202e" not in r.err
    lines = r.err.splitlines()
    assert lines[0] == f"{path}:3:8: error: bad \\x1b[31mred\\x1b[0m \\x1b[2J \\u202e rtl"
    assert lines[1] == ' 3 | assert 1 == 2, "bad \\x1b[31mred\\x1b[0m \\x1b[2J \\u202e rtl"'
    assert lines[2] == "   |        ^^^^^^"


def test_the_caret_stays_under_the_span_after_escapes(cli, tmp_path):
    """A control character before the span widens the echoed line: the caret moves too."""
    text = f"network n\ninput 3x8x8\nlayers:\n    conv 1x1 out=4  # {ESC}]0;t\x07\n"
    text += f"    conv 1x1 out=4 group=3  # {ESC}[2J\n"
    path = write(tmp_path, "comment.conv", text)
    r = cli("check", path)
    assert r.code == 2 and ESC not in r.err and "\x07" not in r.err
    source, caret = r.err.splitlines()[1:3]
    assert source == " 5 |     conv 1x1 out=4 group=3  # \\x1b[2J"
    assert caret.index("^") == source.index("group=3") and caret.count("^") == len("group=3")


def test_a_span_over_control_characters_gets_a_caret_as_wide_as_shown(cli, tmp_path):
    text = f'network n\ninput 3x8x8\nimport "a{ESC}b.conv"\nlayers:\n    conv 1x1 out=4\n'
    path = write(tmp_path, "imp.conv", text)
    r = cli("check", path)
    assert r.code == 2 and ESC not in r.err
    assert "cannot import `a\\x1bb.conv`: no such file" in r.err
    source, caret = r.err.splitlines()[1:3]
    assert caret.count("^") == len('"a\\x1bb.conv"')
    assert caret.index("^") == source.index('"a\\x1bb')


def test_constraint_text_and_file_names_are_escaped_on_stdout_and_in_usage_errors(
    cli, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    name = f"x{ESC}[2J.conv"
    write(tmp_path, name, SMALL.replace("layers:", "constraint params <= 1\nlayers:"))
    r = cli("check", name, name.replace("x", "y"))
    assert ESC not in r.out + r.err and "x\\x1b[2J.conv: ok:" in r.out
    r = cli("build", name, "--target", "torch", "-o", f"no{ESC}/x.py")
    assert r.code == 2 and ESC not in r.err and "no\\x1b/x.py: no such folder" in r.err


# ---- cost: depth counts block calls, 0 is the totals, the op column is never cut ---------------


def test_no_composite_row_is_ever_shown_folded():
    """A folded composite only repeated its block's numbers (`residual1` under `unit1`)."""
    for path in sorted(EXAMPLES.glob("*.conv")):
        tree = cost_tree(specgen.compile(str(path)))
        for depth in range(0, 4):
            shown = rows(tree, depth)
            ids = {id(n) for n in shown}
            for n in shown:
                if n.kind == "composite":
                    assert all(id(c) in ids for c in n.children), (path.name, depth, n.path)
                if n.children and opened(n, depth):
                    assert all(id(c) in ids for c in n.children)


def test_depth_2_opens_the_blocks_the_readme_shows(cli):
    r = cli("cost", SHUFFLENET, "--depth", "2")
    lines = r.out.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith("unit1 ")]
    assert lines[at + 1].split()[:2] == ["residual1", "residual"]
    assert lines[at + 2].split()[:3] == ["conv1", "conv", "1x1"]


def test_depth_0_is_the_totals_only(cli):
    r = cli("cost", SHUFFLENET, "--depth", "0")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[2].split()[:2] == ["name", "op"] and set(lines[3]) == {"-"}
    assert lines[4].split()[:4] == ["total", "3x224x224", "1000", "1,865,728"]
    assert "depth 0 of 2: the totals only" in r.out
    doc = json.loads(cli("cost", SHUFFLENET, "--format", "json", "--depth", "0").out)
    assert doc["tree"] == [] and doc["params"] == 1_865_728 and doc["layers"]
    out = cli("cost", SHUFFLENET, "--format", "csv", "--depth", "0").out
    assert out.count("\n") == 1 and out.startswith("path,depth,")


def test_the_op_column_keeps_long_calls_whole(cli, tmp_path):
    spec = write(
        tmp_path,
        "long.conv",
        "network n\ninput 8x8x8\n\nblock wide(first_argument, second_argument, third):\n"
        "    conv 1x1 out=8\n\nlayers:\n    wide(1, 2, 3)\n",
    )
    call = "wide(first_argument=1, second_argument=2, third=3)"
    for fmt in ("table", "markdown"):
        r = cli("cost", spec, "--depth", "1", "--format", fmt)
        assert call in r.out and "…" not in r.out, fmt


def test_cost_warns_when_the_point_breaks_a_constraint(cli, tmp_path):
    spec = write(tmp_path, "c.conv", SMALL.replace("layers:", "constraint params <= 10\nlayers:"))
    r = cli("cost", spec)
    assert r.code == 0 and r.out.startswith("n()  input 3x8x6")
    warning = f"specgen: warning: {spec}: constraint `params <= 10` does NOT hold at this point"
    assert r.err == warning + "\n"
    r = cli("cost", spec, "--format", "json")
    assert r.code == 0 and json.loads(r.out)["params"] == 20 and r.err == warning + "\n"
    ok = write(tmp_path, "ok.conv", SMALL.replace("layers:", "constraint params <= 100\nlayers:"))
    assert cli("cost", ok).err == ""


# ---- -o /dev/stdout --------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout")
def test_build_o_dev_stdout_writes_to_the_pipe(tmp_path):
    spec = write(tmp_path, "n.conv", SMALL)
    done = run_module("build", spec, "--target", "torch", "-o", "/dev/stdout")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('"""The `n` family as PyTorch modules') and done.stderr == ""
    assert os.path.exists("/dev/stdout") and not list(tmp_path.glob(".specgen-*"))


# ---- verify: C×H×W, and a status line from the start -----------------------------------------


@pytest.mark.slow
def test_verify_shows_shapes_as_c_h_w(tmp_path):
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    from specgen.targets.verify import verify

    report = verify(specgen.compile(SMALL))
    assert report.rows[-1].shape == (4, 8, 6)
    assert re.search(r"^output\s+4x8x6\s", report.render(), re.M)


def test_verify_shows_its_status_before_the_frameworks_import(cli, tmp_path, monkeypatch):
    """The status is up from the start: here keras is missing, and the status had been
    started (and said what it was importing) before that was found."""
    events: list[str] = []

    class Recorder:
        def __init__(self, what: str):
            events.append(f"start {what}")

        def __enter__(self):
            return self

        def update(self, what: str) -> None:
            events.append(what)

        def __exit__(self, *exc: object) -> None:
            events.append("stop")

    monkeypatch.setattr(specgen.tools.cli.build, "_Status", Recorder)
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` raises ImportError
    for name in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY"):  # put back after the test
        monkeypatch.setenv(name, os.environ.get(name, ""))
    r = cli("verify", write(tmp_path, "n.conv", SMALL))
    assert r.code == 2 and "keras is not installed" in r.err
    assert events == [
        "start verify: compiling the spec",
        "verify n: importing PyTorch and Keras",
        "stop",
    ]


def test_the_status_line_is_drawn_on_a_terminal_and_erased(monkeypatch):
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    terminal = os.fdopen(slave, "w")
    monkeypatch.setattr(sys, "stderr", terminal)
    try:
        with specgen.tools.cli.status._Status("verify n: importing PyTorch and Keras") as status:
            time.sleep(0.3)
            status.update("verify n: comparing")
            time.sleep(0.3)
        terminal.flush()
        os.set_blocking(master, False)
        shown = b""
        try:
            while chunk := os.read(master, 1 << 16):
                shown += chunk
        except (BlockingIOError, OSError):
            pass
    finally:
        terminal.close()
        os.close(master)
    text = shown.decode("utf-8", "replace")
    assert "specgen: verify n: importing PyTorch and Keras... 0 s" in text
    assert "verify n: comparing" in text


def test_no_status_line_when_stderr_is_not_a_terminal(capsys):
    with specgen.tools.cli.status._Status("verify n: importing") as status:
        status.update("verify n: comparing")
    assert capsys.readouterr().err == ""


# ---- docs: the command list is the real CLI's ------------------------------------------------


def test_the_language_docs_list_every_command_and_option():
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    block = re.search(r"Commands:\n\n```\n(.*?)```", text, re.S).group(1)
    parser = specgen.tools.cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    for name, command in sub.choices.items():
        line = next((x for x in block.splitlines() if x.startswith(f"specgen {name} ")), None)
        assert line is not None, name
        for action in command._actions:
            if action.option_strings and "--help" not in action.option_strings:
                written = [
                    o
                    for o in action.option_strings
                    if re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", line)
                ]
                assert written, (name, action.option_strings)


def test_out_of_memory_is_an_error_not_a_traceback(monkeypatch, capsys):
    """A MemoryError (a memory cap, a huge input the limits let through) ends in one line and
    exit 2, never a traceback or the "bug in specgen" message."""
    from specgen.tools import cli as cli_module

    def boom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cli_module, "build_parser", boom)
    assert cli_module.main(["check", "x.conv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("specgen: error: out of memory") and "Traceback" not in err
    assert "bug in specgen" not in err


def test_json_cost_of_a_list_of_tables_parameter(cli, tmp_path):
    """`Network.params` gives lists: the JSON report writes a list of tables as a list."""
    spec = "network n(cfg=[{1: 2}])\ninput 3x8x8\nlayers:\n    conv 1x1 out=cfg[0][1]\n"
    r = cli("cost", write(tmp_path, "t.conv", spec), "--format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["parameters"] == {"cfg": [{"1": 2}]}


@pytest.mark.parametrize(
    "command", [["check"], ["cost"], ["build", "--target", "torch"], ["search"]]
)
def test_an_empty_file_name_is_refused(cli, command):
    r = cli(command[0], "", *command[1:])
    assert r.code == 2 and "the file name is empty" in r.err and "directory" not in r.err


def test_fmt_shows_file_names_escaped(tmp_path, capsys):
    from specgen.tools.fmt import fmt_command

    path = write(tmp_path, "a\x1b[2Jb.conv", "network n\ninput 3x8x8\nlayers:\n  conv 1x1 out=4\n")
    assert (
        fmt_command([path], True, False, io.StringIO(), io.StringIO(), err := io.StringIO()) == 1
    )
    assert "\x1b" not in err.getvalue() and "a\\x1b[2Jb.conv" in err.getvalue()
