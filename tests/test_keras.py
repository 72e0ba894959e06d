"""The Keras 3 target and cross-framework verification.

Every example and parameter variant: the Keras model builds, has the inferred output shape
(NHWC), `trainable_weights` sum to the cost report's params and `count_params()` to params +
2·C per BatchNorm (Keras counts the moving statistics), and `verify` — PyTorch weights copied
into Keras, one random input, every block compared — passes on the TensorFlow backend here and
on the PyTorch backend in a subprocess.  Then .keras round trips, golden files, the
split-groups form, weight transfer both ways and its errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from conftest import SMALL, VARIANTS, check_golden, variant_id  # noqa: E402

import specgen  # noqa: E402
from specgen.tools.cli import main  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

from specgen.targets.transfer import TransferError, keras_to_torch, torch_to_keras  # noqa: E402
from specgen.targets.verify import verify  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "keras"


def _bn_channels(net) -> int:
    from specgen.passes.cost import walk

    return sum(n.out_shape.c for _, n in walk(net.ir.body) if type(n).__name__ == "BatchNorm")


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_keras_model_matches_compiler_and_pytorch(variant):
    name, params = variant
    net = specgen.compile(EXAMPLES / name, params)
    model = net.to_keras()
    out = net.output_shape
    expected = (
        (None, out.c)
        if (out.h, out.w) == (1, 1) and len(model.output_shape) == 2
        else (None, out.h, out.w, out.c)
    )
    assert model.output_shape == expected
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == net.cost.params
    assert model.count_params() == net.cost.params + 2 * _bn_channels(net)
    report = verify(net)
    assert report.passed, report.render()
    assert [r.name for r in report.rows] == [b.name for b in net.cost.blocks] + ["output"]


def test_mobilenet_keras_total_is_the_published_one():
    model = specgen.compile(EXAMPLES / "mobilenet_v1.conv").to_keras()
    assert model.count_params() == 4_253_864  # Keras's count: params + BN moving statistics


@pytest.mark.slow
def test_verify_passes_on_the_pytorch_keras_backend():
    script = (
        "import sys, specgen\n"
        "from specgen.targets.verify import verify\n"
        "bad = []\n"
        "for path, params in eval(sys.argv[1]):\n"
        "    r = verify(specgen.compile(path, params))\n"
        "    assert r.backend == 'torch', r.backend\n"
        "    bad += [] if r.passed else [path + str(params) + r.render()]\n"
        "print('FAILED' if bad else 'ALL PASSED', *bad)\n"
    )
    cases = repr([(str(EXAMPLES / n), p) for n, p in VARIANTS])
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script, cases], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ALL PASSED", out.stdout[-3000:]


def test_verify_cli_exit_codes_and_first_divergent_block(capsys, monkeypatch):
    path = str(EXAMPLES / "shufflenet_v1.conv")
    assert main(["verify", path, "--set", "g=2"]) == 0
    assert "passed" in capsys.readouterr().out
    # corrupt one weight after transfer: verify must fail and name the block
    import specgen.targets.verify as v

    real = v.torch_to_keras

    def corrupt(module, model):
        real(module, model)
        layer = model.get_layer("unit4-conv2")
        w = layer.get_weights()
        w[0] = w[0] * 1.5
        layer.set_weights(w)

    monkeypatch.setattr(v, "torch_to_keras", corrupt)
    assert main(["verify", path, "--set", "g=2"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: `unit4` is the first block that diverges" in out
    assert "unit3" in out and out.index("unit3") < out.index("DIVERGES")


def test_max_pool_pads_with_minus_infinity_like_pytorch():
    spec = "network p\ninput 3x9x9\nlayers:\n    maxpool 3x3 stride=2\n    avgpool 3x3 stride=2\n"
    net = specgen.compile(spec)
    model = net.to_keras()
    x = -np.abs(np.random.default_rng(0).normal(size=(1, 3, 9, 9))).astype("float32") - 1.0
    ref = net.to_torch().eval()(torch.from_numpy(x)).detach().numpy().transpose(0, 2, 3, 1)
    got = keras.ops.convert_to_numpy(model(x.transpose(0, 2, 3, 1)))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["shufflenet_v2.conv", "igc_cifar.conv", "mobilefacenet.conv"])
def test_keras_file_round_trip(name, tmp_path):
    net = specgen.compile(EXAMPLES / name)
    model = net.to_keras()
    x = np.random.default_rng(1).normal(size=(2, *net.input_shape.as_list())).astype("float32")
    x = x.transpose(0, 2, 3, 1)
    before = keras.ops.convert_to_numpy(model(x, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    after = keras.ops.convert_to_numpy(loaded(x, training=False))
    np.testing.assert_array_equal(before, after)


def test_split_groups_form_has_no_grouped_conv_and_computes_the_same():
    net = specgen.compile(EXAMPLES / "shufflenet_v1.conv", {"g": 4})
    plain = net.to_keras()
    split = net.to_keras(split_groups=True)
    grouped = [
        layer.name
        for layer in split.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.groups > 1
    ]
    assert grouped == []
    assert any(layer.name == "unit1-conv1-g3" for layer in split.layers)
    assert split.count_params() == plain.count_params()
    report = verify(net, split_groups=True)
    assert report.passed, report.render()
    code = net.emit("keras", split_groups=True)
    assert "groups=" not in code.split("def ", 1)[1]


def test_weight_transfer_both_ways_round_trips():
    net = specgen.compile(EXAMPLES / "mobilefacenet.conv")
    source = net.to_torch().eval()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        for m in source.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 1.5)
    model = net.to_keras()
    torch_to_keras(source, model)
    target = net.to_torch().eval()
    keras_to_torch(model, target)
    for (n, a), (_, b) in zip(
        source.state_dict().items(), target.state_dict().items(), strict=True
    ):
        if a.dtype.is_floating_point:
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=n)


def test_weight_transfer_refuses_models_of_different_specs():
    a = specgen.compile(EXAMPLES / "shufflenet_v1.conv", {"g": 3}).to_torch()
    b = specgen.compile(EXAMPLES / "shufflenet_v1.conv", {"g": 8}).to_keras()
    with pytest.raises(TransferError, match="same spec"):
        torch_to_keras(a, b)
    c = specgen.compile(EXAMPLES / "mobilenet_v1.conv").to_keras()
    with pytest.raises(TransferError, match="without a"):
        torch_to_keras(a, c)


@pytest.mark.parametrize("name", SMALL)
def test_golden_files(name):
    code = specgen.compile(EXAMPLES / name).emit("keras")
    check_golden(code, GOLDEN / (name.removesuffix(".conv") + ".py"))


def test_keras_code_is_black_ruff_clean_deterministic_and_standalone(tmp_path):
    path = tmp_path / "model.py"
    spec = str(EXAMPLES / "shufflenet_v2.conv")
    assert main(["build", spec, "--target", "keras", "-o", str(path)]) == 0
    assert path.read_text() == specgen.compile(spec).emit("keras")
    assert (
        subprocess.run([sys.executable, "-m", "black", "--check", "-q", str(path)]).returncode == 0
    )
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(path)],
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout
    script = "import model; m = model.shufflenet_v2(); print(m.count_params())"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) == 2_294_784  # 2,278,604 + 2·C of every BatchNorm
    assert main(["build", spec, "--target", "torch", "--split-groups"]) == 2


def test_every_padding_form_matches_pytorch():
    """padding="same" only where it equals PyTorch's padding (stride 1, d·(k-1) even and
    halved); explicit ZeroPadding2D for strided, even-kernel, asymmetric or other paddings."""
    spec = """\
network pads
input 6x15x15
layers:
    conv 3x3 out=6 bn
    conv 3x3 dilation=2 out=6
    conv 5x3 out=6
    conv 2x2 padding=1 out=6
    conv 3x3 padding=2 out=6
    dwconv 3x3 stride=2
    conv 3x3 stride=2 padding=1 out=6
"""
    net = specgen.compile(spec)
    code = net.emit("keras")
    assert code.count('padding="same"') == 3  # the 3x3, the dilated 3x3 and the 5x3
    assert code.count("ZeroPadding2D(") == 4
    report = verify(net)
    assert report.passed, report.render()
