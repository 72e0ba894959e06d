"""`pip install .` (not editable) into a clean virtual environment ships the grammar and the
templates: `specgen` then works from any directory."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_runs_from_anywhere(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = wheels.glob("specgen-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    spec = ROOT / "examples" / "shufflenet_v1.conv"
    out = subprocess.run(
        [str(env_dir / "bin" / "specgen"), "cost", str(spec), "--set", "g=8"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "2,434,768" in out and "138,365,952" in out
    code = subprocess.run(
        [str(env_dir / "bin" / "specgen"), "build", str(spec), "--target", "torch"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "class ShufflenetV1(nn.Sequential):" in code
    # the core imports no framework (none is installed in this environment anyway)
    probe = "import specgen, sys; specgen.compile(sys.argv[1]); print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'keras', 'tensorflow')))"
    mods = subprocess.run(
        [str(python), "-c", probe, str(spec)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert mods.strip() == "[]"
