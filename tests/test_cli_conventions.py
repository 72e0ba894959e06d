"""Command-line conventions (issue 11): `-` reads standard input, several files per `check`,
colour only on a terminal (NO_COLOR honoured), progress for slow steps, the frameworks' log
noise silenced during `verify`, and `specgen graph`."""

from __future__ import annotations

import io
import sys
import time

import pytest
from conftest import EXAMPLES, ROOT, run_module

import specgen.tools.cli
from specgen.tools.cli.common import _color
from specgen.tools.cli.status import _Activity

BAD = "network bad()\ninput 3x8x8\nlayers:\n    conv 3x3 out=5 group=2\n"


def _run(args, stdin: str = "", timeout: float = 120):
    return run_module(*args, input=stdin, timeout=timeout)


# ---- standard input ---------------------------------------------------------------------------


def test_check_reads_standard_input():
    r = _run(["check", "-"], stdin=(EXAMPLES / "igc.conv").read_text())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok: <Network igc(M=2, L=8)")


def test_a_mistake_on_standard_input_is_located_in_stdin():
    r = _run(["check", "-"], stdin=BAD)
    assert r.returncode == 2
    assert r.stderr.startswith("<stdin>:4:20: error: conv input channels (3) are not divisible")
    assert "Traceback" not in r.stderr


def test_cost_and_build_read_standard_input():
    text = (EXAMPLES / "shufflenet_v1.conv").read_text()
    r = _run(["cost", "-", "--format", "json"], stdin=text)
    assert r.returncode == 0, r.stderr
    assert '"params": 1865728' in r.stdout
    r = _run(["build", "-", "--target", "torch"], stdin=text)
    assert r.returncode == 0 and "class ShufflenetV1(nn.Sequential):" in r.stdout


def test_standard_input_once(cli):
    r = cli("check", "-", "-")
    assert r.code == 2 and "`-` (standard input) can be given once" in r.err


# ---- several files ----------------------------------------------------------------------------


def test_check_several_files(cli, tmp_path):
    bad = tmp_path / "bad.conv"
    bad.write_text(BAD)
    r = cli("check", str(EXAMPLES / "gdc.conv"), str(bad), str(EXAMPLES / "igc.conv"))
    assert r.code == 2  # one failed: the others are still checked and reported
    lines = r.out.splitlines()
    assert lines[0].startswith(f"{EXAMPLES / 'gdc.conv'}: ok: <Network gdc(")
    assert lines[1].startswith(f"{EXAMPLES / 'igc.conv'}: ok: <Network igc(")
    assert r.err.startswith(f"{bad}:4:20: error:")
    r = cli("check", str(EXAMPLES / "gdc.conv"), str(EXAMPLES / "igc.conv"))
    assert r.code == 0 and len(r.out.splitlines()) == 2


def test_one_file_keeps_the_plain_form(cli):
    r = cli("check", str(EXAMPLES / "gdc.conv"))
    assert r.code == 0 and r.out.startswith("ok: <Network gdc(")


# ---- colour -----------------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert _color(_Tty()) is True
    assert _color(io.StringIO()) is False
    assert _color(None) is False
    assert _color(io.StringIO(), "always") is True
    assert _color(_Tty(), "never") is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert _color(_Tty()) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert _color(_Tty()) is False


def test_diagnostics_are_coloured_on_a_terminal_only(monkeypatch, tmp_path):
    bad = tmp_path / "bad.conv"
    bad.write_text(BAD)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert specgen.tools.cli.main(["check", str(bad)]) == 2
    coloured = tty.getvalue()
    assert "\x1b[1;31merror:\x1b[0m" in coloured and "\x1b[1;31m^^^^^^^\x1b[0m" in coloured
    # without the escapes it is the plain diagnostic
    plain = _run(["check", str(bad)]).stderr
    assert "\x1b" not in plain
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    monkeypatch.setenv("NO_COLOR", "1")
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert specgen.tools.cli.main(["check", str(bad)]) == 2
    assert "\x1b" not in tty.getvalue()


# ---- progress ---------------------------------------------------------------------------------


def test_activity_shows_after_a_delay_and_is_erased(monkeypatch):
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setattr(_Activity, "DELAY", 0.05)
    monkeypatch.setattr(_Activity, "PERIOD", 0.02)
    with _Activity("working"):
        time.sleep(0.3)
    text = tty.getvalue()
    assert "specgen: working... 0 s" in text
    assert text.endswith("\r\x1b[2K")  # the line is erased at the end


def test_activity_is_silent_when_quick_or_piped(monkeypatch):
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    with _Activity("quick"):
        pass
    assert tty.getvalue() == ""
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    monkeypatch.setattr(_Activity, "DELAY", 0.0)
    with _Activity("piped"):
        time.sleep(0.05)
    assert piped.getvalue() == ""


# ---- verify is quiet unless --verbose ---------------------------------------------------------


@pytest.mark.slow
def test_verify_silences_the_frameworks_log_noise():
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    r = _run(["verify", str(EXAMPLES / "igc.conv"), "--backend", "tensorflow"], timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # no oneDNN / cpu_feature_guard / absl / Keras warning lines
    assert "passed: every block within" in r.stdout


# ---- graph ------------------------------------------------------------------------------------


def test_graph_prints_dot_and_writes_files(cli, tmp_path):
    r = cli("graph", str(EXAMPLES / "igc.conv"))
    assert r.code == 0 and r.out.startswith('digraph "igc" {')
    out = tmp_path / "igc.dot"
    r = cli("graph", str(EXAMPLES / "igc.conv"), "-o", str(out))
    assert r.code == 0 and out.read_text().startswith('digraph "igc" {')


def test_graph_svg_with_graphviz(cli, tmp_path):
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` is not installed")
    out = tmp_path / "unit.svg"
    r = cli("graph", str(EXAMPLES / "shufflenet_v1.conv"), "--block", "unit", "-o", str(out))
    assert r.code == 0, r.err
    assert "<svg" in out.read_text()


def test_graph_mistakes_exit_2(cli, monkeypatch, tmp_path):
    r = cli("graph", str(EXAMPLES / "shufflenet_v1.conv"), "--expand", "nope")
    assert r.code == 2 and "has no block `nope`" in r.err
    r = cli("graph", str(EXAMPLES / "igc.conv"), "--depth", "-1")
    assert r.code == 2
    r = cli("graph", str(EXAMPLES / "igc.conv"), "-o", str(tmp_path / "x.gif"))
    assert r.code == 2 and "Traceback" not in r.err
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz
    r = cli("graph", str(EXAMPLES / "igc.conv"), "-o", str(tmp_path / "x.svg"))
    assert r.code == 2 and "apt-get install graphviz" in r.err
    assert not (tmp_path / "x.svg").exists()


def test_cost_several_files(cli, tmp_path):
    import csv
    import json

    gdc, igc = str(EXAMPLES / "gdc.conv"), str(EXAMPLES / "igc.conv")
    r = cli("cost", gdc, igc, "--format", "json")
    assert r.code == 0
    reports = json.loads(r.out)
    assert [(x["file"], x["params"], x["macs"]) for x in reports] == [
        (gdc, 91_904, 90_624),
        (igc, 448, 425_984),
    ]
    rows = list(csv.DictReader(cli("cost", gdc, igc, "--format", "csv").out.splitlines()))
    assert {row["file"] for row in rows} == {gdc, igc}
    assert sum(int(row["params"]) for row in rows if row["file"] == igc) == 448
    r = cli("cost", gdc, igc)
    assert r.out.startswith(f"==> {gdc} <==\ngdc(channels=512)")
    assert f"\n==> {igc} <==\nigc(M=2, L=8)" in r.out
    bad = tmp_path / "bad.conv"
    bad.write_text(BAD)
    r = cli("cost", gdc, str(bad), "--format", "json")
    assert r.code == 2 and "not divisible" in r.err
    assert [x["file"] for x in json.loads(r.out)] == [gdc]


def test_fmt_check_passes_on_every_example_and_formats_stdin():
    examples = sorted(str(p.relative_to(ROOT)) for p in EXAMPLES.glob("*.conv"))
    r = _run(["fmt", "--check", *examples])
    assert r.returncode == 0, r.stderr
    r = _run(
        ["fmt", "-"], stdin="network  x( g = 2 )\ninput 3x8x8\nlayers:\n  conv 3x3 out=8 # c\n"
    )
    assert r.returncode == 0
    assert r.stdout == "network x(g=2)\ninput 3x8x8\n\nlayers:\n    conv 3x3 out=8  # c\n"
    r = _run(["fmt", "--check", "-"], stdin="network x()\ninput 3x8x8\nlayers:\n  relu\n")
    assert r.returncode == 1
