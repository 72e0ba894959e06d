"""The family code of the Keras target: one function per block definition, a network function
taking the spec's parameters and `input_shape`.  At the defaults and a documented member of
every example's family its model has the per-point code's layers (names and weight shapes,
so weights transfer by name as before) and the compiler's parameter count; `verify`
(tests/test_keras.py) compares its outputs with PyTorch's block by block
(tests/test_rough_edges.py loads its saved `.keras` files in a process that imports keras
alone).  Then the keras.applications shape, the spec's rules as ValueErrors, another input
size, and the forms that stay per-point."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from test_family import POINTS, points  # noqa: E402

import specgen  # noqa: E402
from specgen.targets import get_emitter  # noqa: E402
from specgen.targets.keras_family import Untranslatable, keras_family_source  # noqa: E402
from specgen.targets.transfer import torch_to_keras  # noqa: E402
from specgen.targets.verify import verify  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _weights(model) -> dict[str, list[tuple]]:
    return {
        layer.name: [tuple(w.shape) for w in layer.weights]
        for layer in model.layers
        if layer.weights
    }


# the defaults and the next point of test_family's list (its first documented member);
# test_keras.py verifies the outputs of every example and variant
CASES = [(name, i) for name in sorted(POINTS) for i in range(min(2, len(points(name))))]


@pytest.mark.parametrize("name, index", CASES)
def test_keras_family_member_takes_the_pytorch_weights_by_name(name, index):
    """Every layer with weights has its PyTorch module's name and layout (the transfer checks
    both ways that each has a counterpart, and every shape); the trainable count is the
    compiler's; the output is the inferred shape."""
    point = points(name)[index]
    net = specgen.compile(EXAMPLES / f"{name}.conv", point)
    keras_family_source(net)  # written as family code, not the fallback
    model = net.to_keras()
    torch_to_keras(net.to_torch(), model)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == net.cost.params
    out = net.output_shape
    assert model.output_shape[1:] == ((out.c,) if out.flat else (out.h, out.w, out.c))


def test_the_family_model_has_the_per_point_layers():
    """The per-point code of the same member: the same layers with weights, in the same
    order, with the same shapes (at a member where convs are grouped, shuffled, split)."""
    net = specgen.compile(EXAMPLES / "shufflenet_v1.conv", {"g": 8})
    family = net.to_keras()
    per_point = get_emitter("keras").build(net, family=False)
    assert list(_weights(family).items()) == list(_weights(per_point).items())


def _namespace(net) -> dict:
    code, _ = keras_family_source(net)
    namespace: dict = {}
    exec(compile(code, "<keras family>", "exec"), namespace)
    return namespace


def test_resnet_is_one_function_per_block_taking_the_family():
    net = specgen.compile(EXAMPLES / "resnet.conv")
    code = net.emit("keras")
    assert "def basic(x, planes, stride, *, name):" in code
    assert "def bottleneck(x, planes, stride, *, groups, width_per_group, name):" in code
    assert (
        "def resnet(\n    depth=50, groups=1, width_per_group=64, classes=1000, input_shape=None\n)"
        in code
    )
    assert "basic_1" not in code and "bottleneck_2" not in code
    resnet = _namespace(net)["resnet"]
    model = resnet(depth=18, classes=10)
    ref = specgen.compile(EXAMPLES / "resnet.conv", {"depth": 18, "classes": 10}).to_torch()
    assert model.count_params() - 2 * sum(
        m.num_features for m in ref.modules() if isinstance(m, torch.nn.BatchNorm2d)
    ) == sum(p.numel() for p in ref.parameters())
    assert model.get_layer("layer4-1-conv2") is not None  # torchvision's path, `-` for `.`


def test_the_network_function_checks_the_spec_rules():
    resnet = _namespace(specgen.compile(EXAMPLES / "resnet.conv"))["resnet"]
    with pytest.raises(ValueError, match="depth is one of 18, 34, 50, 101, 152"):
        resnet(depth=20)
    search = _namespace(specgen.compile(EXAMPLES / "shufflenet_search.conv"))
    with pytest.raises(ValueError, match=r"parameter `g` = 5 is outside its domain choice"):
        search["shufflenet_search"](g=5)


def test_another_input_shape_gives_pytorchs_outputs():
    """`input_shape` overrides the spec's input; layers that depend on the size read it off
    the tensor, so the model is the PyTorch model's on that input."""
    from specgen.targets.transfer import torch_to_keras

    net = specgen.compile(EXAMPLES / "mobilenet_v2.conv", {"width": 0.5, "classes": 10})
    model = _namespace(net)["mobilenet_v2"](width=0.5, classes=10, input_shape=(96, 128, 3))
    module = net.to_torch().eval()
    torch_to_keras(module, model)
    x = np.random.default_rng(0).normal(size=(2, 3, 96, 128)).astype("float32")
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    got = keras.ops.convert_to_numpy(model(x.transpose(0, 2, 3, 1), training=False))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_split_groups_and_deploy_stay_per_point():
    net = specgen.compile(EXAMPLES / "shufflenet_v1.conv", {"g": 4})
    assert "def unit_1(x, name: str):" in net.emit("keras", split_groups=True)
    assert "def unit(x, g, *, name):" in net.emit("keras") or "def unit(" in net.emit("keras")
    deploy = net.deploy()
    assert "def shufflenet_v1() -> keras.Model:" in deploy.emit("keras")


SPEC_CEIL = """
network pools(k=3)
input 8x15x15
layers:
    conv 3x3 out=8 bn relu
    avgpool k stride=2 ceil_mode=true
    maxpool 3x3 stride=2 padding=1 ceil_mode=true
    gap
    fc 4
"""


def test_what_the_family_cannot_write_gets_the_per_point_code():
    net = specgen.compile(SPEC_CEIL)
    with pytest.raises(Untranslatable, match="ceil mode"):
        keras_family_source(net)
    assert "def pools() -> keras.Model:" in net.emit("keras")
    assert net.to_keras().output_shape == (None, 4)


SPEC_HOSTILE = """
network hostile(place=2, pad=4)
input 8x16x16
block channel_shuffle(indices):
    conv 3x3 out=indices group=place bn relu
    shuffle place
layers:
    channel_shuffle(8 * pad)
    maxpool 3x3 stride=2 padding=1
    gap
    fc 3
"""


def test_names_of_the_code_are_never_taken_by_the_spec():
    net = specgen.compile(SPEC_HOSTILE)
    code = net.emit("keras")
    model = net.to_keras()
    assert model.output_shape == (None, 3)
    report = verify(net)
    assert report.passed, report.render()
    with pytest.raises(Untranslatable):  # its parameters shadow the helpers `place`, `pad`
        keras_family_source(net)
    assert "def hostile() -> keras.Model:" in code
    renamed = SPEC_HOSTILE.replace("place", "g").replace("pad=4", "m=4")
    other = specgen.compile(renamed.replace("8 * pad", "8 * m"))
    code = other.emit("keras")
    assert "def channel_shuffle_(x, indices_, *, g, name):" in code
    assert other.to_keras().output_shape == (None, 3)
    assert verify(other).passed


def test_a_conv_keras_cannot_write_is_a_located_error():
    """Keras' convolutions take a stride or a dilation above 1, not both (PyTorch's do)."""
    text = "network n\ninput 8x16x16\nlayers:\n    conv 3x3 out=8 stride=2 dilation=2\n"
    net = specgen.compile(text)
    with pytest.raises(specgen.SpecError, match="a stride or a dilation above 1, not both") as e:
        net.emit("keras")
    assert ":4:5:" in str(e.value)
    assert net.to_torch()(torch.zeros(1, 8, 16, 16)).shape == (1, 8, 8, 8)


# the examples whose Keras family code still repeats a run of six lines (`duplicates`), and
# why: each writes the same layers twice in the spec itself
KERAS_REPEATS = {
    "mobilenet_v3",  # two configuration tables of the same row shape (torchvision's)
    "resnet",  # `basic` and `bottleneck` each project their shortcut (1x1 conv, bn)
    "igc_cifar",  # `down` and `unit` both write `igc 3x3 ... bn relu` then `igc 3x3 ... bn`
    "separable",  # a sepconv, then the same thing written out, to compare them
    "mobileone",  # each block form spelt out with its branches (see test_family.REPEATS)
    "repvgg",  # the block with and without its identity branch, each written out
}


@pytest.mark.skipif(shutil.which("duplicates") is None, reason="needs the `duplicates` tool")
def test_the_keras_family_code_repeats_no_run_of_six_lines(tmp_path):
    repeating = set()
    for path in sorted(EXAMPLES.glob("*.conv")):
        folder = tmp_path / path.stem
        folder.mkdir()
        (folder / "model.py").write_text(specgen.compile(path).emit("keras"))
        out = subprocess.run(
            ["duplicates", "--repo", str(folder)], capture_output=True, text=True, check=True
        ).stdout
        if not out.startswith("no duplicates"):
            repeating.add(path.stem)
    assert repeating == KERAS_REPEATS
