"""`specgen verify` on the Keras JAX backend (needs `jax`; skipped without it).

The backend is chosen before Keras is first imported, so every check runs in a subprocess with
KERAS_BACKEND=jax (or `--backend jax`).  The small examples and a spec with every layer that
has a multi-layer Keras form run by default; every example at full size is `slow` (JAX compiles
each weight initialiser's shape once: a few minutes on two cores).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT, SMALL
from test_rough_edges import CUSTOM_FREE

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None or importlib.util.find_spec("keras") is None,
    reason="needs jax and keras (pip install 'specgen[jax]')",
)

_VERIFY_ALL = """\
import sys, specgen
from specgen.targets.verify import verify
bad = []
for source, split_groups in eval(sys.argv[1]):
    net = specgen.compile(source)
    r = verify(net, split_groups=split_groups)
    assert r.backend == "jax", r.backend
    if not r.passed:
        bad.append(r.render())
print("FAILED" if bad else "ALL PASSED", *bad)
"""


def _run_on_jax(script: str, *args: str, timeout: float = 1800) -> str:
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": str(ROOT),
    }
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_verify_cli_on_the_jax_backend(module_cli):
    out = module_cli("verify", str(EXAMPLES / "shuffle.conv"), "--backend", "jax", timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "PyTorch vs Keras (jax backend)" in out.stdout
    assert out.stdout.rstrip().endswith("passed: every block within 0.0001 x its output's scale")


@pytest.mark.slow
def test_verify_passes_on_jax_for_the_small_examples_and_every_layer_form():
    cases = [(str(EXAMPLES / name), False) for name in SMALL]
    cases += [(CUSTOM_FREE, False), (CUSTOM_FREE, True), (str(EXAMPLES / "group_conv.conv"), True)]
    out = _run_on_jax(_VERIFY_ALL, repr(cases))
    assert out.strip() == "ALL PASSED", out[-3000:]


def test_hard_sigmoid_is_pytorchs_within_one_ulp_on_jax():
    script = """\
import numpy as np, torch, specgen, keras
net = specgen.compile("network n\\ninput 1x1x4096\\nlayers:\\n    hsigmoid\\n")
x = np.concatenate([np.linspace(-4, 4, 2048), np.random.default_rng(3).normal(size=2048) * 3])
x = x.astype("float32")
x[:5] = [-3.0, 3.0, 0.0, -2.9999998, 2.9999998]
ref = torch.nn.Hardsigmoid()(torch.from_numpy(x)).numpy()
got = keras.ops.convert_to_numpy(net.to_keras()(x.reshape(1, 1, 4096, 1))).reshape(-1)
np.testing.assert_array_max_ulp(got, ref, maxulp=1)
print(keras.backend.backend(), int((got != ref).sum()))
"""
    backend, differ = _run_on_jax(script).split()
    # XLA turns a division by a broadcast constant into a multiplication by its reciprocal
    # (TensorFlow and PyTorch divide: bit for bit there, test_layers_new.py)
    assert backend == "jax" and int(differ) < 4096 // 2


@pytest.mark.slow
def test_verify_passes_on_jax_for_every_example():
    cases = [(str(p), False) for p in sorted(EXAMPLES.glob("*.conv"))]
    out = _run_on_jax(_VERIFY_ALL, repr(cases))
    assert out.strip() == "ALL PASSED", out[-3000:]
