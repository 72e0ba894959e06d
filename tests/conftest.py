"""Shared helpers for the specgen test suite.

Every expected number in these tests is computed by hand (or taken from
the published counts in docs/cost.md), never by asking specgen.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import specgen
import specgen.tools.cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.conv"))

# The smallest useful header: most tests only write the `layers:` body after it.
HEADER = "network n\ninput 16x8x8\nlayers:\n"


def spec(body: str, header: str = HEADER) -> str:
    """A spec made of `header` and `body` (lines of the body indented by four spaces)."""
    return header + body


def compile_text(text: str, params: dict | None = None, filename: str | None = None):
    """Compile spec text (never a path) and return the Network."""
    return specgen.compile(text, params=params, filename=filename)


def compile_or_error(text: str, params: dict | None = None):
    """A Network or the SpecError of compiling `text`; any other exception fails the test."""
    try:
        return specgen.compile(text, params)
    except specgen.SpecError as err:
        return err


def compile_error(text: str, params: dict | None = None, filename: str | None = None):
    """Compile spec text that must fail and return the SpecError."""
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(text, params=params, filename=filename)
    return info.value


def keras_trainable(model) -> int:
    """Trainable parameters of a Keras model: what the cost report counts (Keras's
    count_params() adds BatchNormalization's moving statistics)."""
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def layer_rows(net) -> dict:
    """{path: LayerCost} of a compiled network."""
    return {row.name: row for row in net.cost.layers}


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run `specgen.tools.cli.main([...])` in-process and capture what it prints."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()  # drop anything printed before
        try:
            code = specgen.tools.cli.main(list(args))
        except SystemExit as exc:  # argparse exits on usage errors and --version
            code = exc.code if isinstance(exc.code, int) else 2
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_module(
    *args: str, cwd: Path = ROOT, timeout: float = 60, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run `python -m specgen ARGS` in a fresh interpreter (`input`: its standard input)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SPECGEN_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "specgen", *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def module_cli():
    """`python -m specgen` as a subprocess (slower: use it for a handful of tests)."""
    return run_module


# ---- shared by the target tests (test_torch.py, test_keras.py) ---------------------------------

# every example, plus the parameter variants the issues name
VARIANTS = [
    *[(p.name, {}) for p in sorted(EXAMPLES.glob("*.conv"))],
    *[("shufflenet_v1.conv", {"g": g}) for g in (1, 2, 4, 8)],
    ("mobilenet_v1.conv", {"width": 0.75}),
    ("mobilenet_v1.conv", {"width": 0.5}),
]
SMALL = ["group_conv.conv", "shuffle.conv", "igc.conv", "gdc.conv", "separable.conv"]


def variant_id(variant) -> str:
    name, params = variant
    return name.removesuffix(".conv") + "".join(f"-{k}{val}" for k, val in params.items())


def check_golden(code: str, golden: Path) -> None:
    """Compare generated code with its golden file; SPECGEN_UPDATE_GOLDEN=1 rewrites it."""
    import os

    if os.environ.get("SPECGEN_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(code)
    assert golden.exists(), "run with SPECGEN_UPDATE_GOLDEN=1 to create the golden file"
    assert code == golden.read_text(), "generated code changed; SPECGEN_UPDATE_GOLDEN=1 accepts it"
