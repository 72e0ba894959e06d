"""torchvision's checkpoints load into the examples as they are: resnet, mobilenet_v2,
shufflenet_v2, regnet, mobilenet_v3 and efficientnet name their modules with `as "PATH"` as
torchvision 0.28 does, so that each member's state_dict has torchvision's keys, in its order and
with its shapes, `load_state_dict(strict=True)` takes torchvision's weights, and the outputs are
bit-identical in eval mode (every parameter and BatchNorm statistic randomized).  The comparison
with torchvision skips where it is not installed; the spot checks of the names, the cost rows,
`Network.shapes` and the Keras layer names do not need it."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from conftest import EXAMPLES  # noqa: E402
from torchvision_import import import_torchvision  # noqa: E402

import specgen  # noqa: E402

torch = pytest.importorskip("torch")

REGNET_Y_400MF = {
    "w0": 48,
    "wa": 27.89,
    "wm": 2.09,
    "depth": 16,
    "group_width": 8,
    "se_ratio": 0.25,
}

# (id, example, --set values, torchvision constructor, its keyword arguments)
# examples/efficientnet.conv's documented variants (torchvision's _efficientnet_conf and
# constructors: width and depth multipliers, input size, dropout; B5-B7's BatchNorm settings)
EFFICIENTNET = {
    "b1": {"depth": 1.1, "size": 240},
    "b2": {"width": 1.1, "depth": 1.2, "size": 260, "drop": 0.3},
    "b3": {"width": 1.2, "depth": 1.4, "size": 300, "drop": 0.3},
    "b4": {"width": 1.4, "depth": 1.8, "size": 380, "drop": 0.4},
    "b5": {"width": 1.6, "depth": 2.2, "size": 456, "drop": 0.4, "eps": 1e-3, "momentum": 0.01},
    "b6": {"width": 1.8, "depth": 2.6, "size": 528, "drop": 0.5, "eps": 1e-3, "momentum": 0.01},
    "b7": {"width": 2.0, "depth": 3.1, "size": 600, "drop": 0.5, "eps": 1e-3, "momentum": 0.01},
}

MEMBERS = [
    ("resnet18", "resnet.conv", {"depth": 18}, "resnet18", {}),
    ("resnet50", "resnet.conv", {"depth": 50}, "resnet50", {}),
    ("resnet101", "resnet.conv", {"depth": 101}, "resnet101", {}),
    (
        "resnext50_32x4d",
        "resnet.conv",
        {"groups": 32, "width_per_group": 4},
        "resnext50_32x4d",
        {},
    ),
    ("mobilenet_v2", "mobilenet_v2.conv", {}, "mobilenet_v2", {}),
    ("mobilenet_v2-0.5", "mobilenet_v2.conv", {"width": 0.5}, "mobilenet_v2", {"width_mult": 0.5}),
    ("shufflenet_v2_x1_0", "shufflenet_v2.conv", {}, "shufflenet_v2_x1_0", {}),
    ("regnet_x_400mf", "regnet.conv", {}, "regnet_x_400mf", {}),
    ("regnet_y_400mf", "regnet.conv", REGNET_Y_400MF, "regnet_y_400mf", {}),
    ("mobilenet_v3_large", "mobilenet_v3.conv", {}, "mobilenet_v3_large", {}),
    ("mobilenet_v3_small", "mobilenet_v3.conv", {"small": True}, "mobilenet_v3_small", {}),
    (
        "mobilenet_v3_large-0.75",
        "mobilenet_v3.conv",
        {"width": 0.75},
        "mobilenet_v3_large",
        {"width_mult": 0.75},
    ),
    (
        "mobilenet_v3_small-0.5",
        "mobilenet_v3.conv",
        {"small": True, "width": 0.5},
        "mobilenet_v3_small",
        {"width_mult": 0.5},
    ),
    ("efficientnet_b0", "efficientnet.conv", {}, "efficientnet_b0", {}),
    ("efficientnet_b1", "efficientnet.conv", EFFICIENTNET["b1"], "efficientnet_b1", {}),
    ("efficientnet_b3", "efficientnet.conv", EFFICIENTNET["b3"], "efficientnet_b3", {}),
    ("efficientnet_b5", "efficientnet.conv", EFFICIENTNET["b5"], "efficientnet_b5", {}),
    ("efficientnet_b7", "efficientnet.conv", EFFICIENTNET["b7"], "efficientnet_b7", {}),
]

# 64x64 keeps every network valid (a 2x2 map before the global pool, after stride 32) and the
# file fast; the generated modules, like torchvision's, take any size
INPUT = (2, 3, 64, 64)


def _randomize(model, seed: int) -> None:
    """Every floating-point parameter and buffer from a seeded generator: weights and biases
    around 0, BatchNorm's running_var in [0.5, 1.5), so that no BatchNorm is the identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue  # num_batches_tracked
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            else:
                tensor.copy_(0.2 * torch.randn(tensor.shape, generator=gen))


@pytest.mark.parametrize("member", MEMBERS, ids=[m[0] for m in MEMBERS])
def test_torchvision_checkpoint_loads_strictly_and_computes_the_same(member):
    models = import_torchvision("torchvision.models")
    if models is None:
        pytest.skip("torchvision is not installed")
    _, example, values, ctor, kwargs = member
    reference = getattr(models, ctor)(weights=None, **kwargs).eval()
    _randomize(reference, seed=0)
    generated = specgen.compile(EXAMPLES / example, values).to_torch().eval()

    theirs, ours = reference.state_dict(), generated.state_dict()
    assert list(ours) == list(theirs)  # the same keys, in the same (registration) order
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs.values()]
    generated.load_state_dict(theirs, strict=True)

    x = torch.randn(*INPUT, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(x), generated(x)
    assert got.shape == expected.shape == (2, 1000)
    assert torch.equal(got, expected)


# Hand-picked keys of torchvision 0.28's state_dicts (first, last and the renamed parts of
# each, in its order), checked without torchvision.
SPOT_KEYS = {
    "resnet18": [
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_mean",
        "layer4.1.bn2.bias",
        "fc.weight",
        "fc.bias",
    ],
    "resnet50": ["layer1.0.downsample.0.weight", "layer3.5.conv3.weight", "layer4.2.bn3.weight"],
    "mobilenet_v2": [
        "features.0.0.weight",
        "features.0.1.running_var",
        "features.1.conv.0.0.weight",  # t = 1: no expansion, the depthwise conv is first
        "features.1.conv.1.weight",
        "features.1.conv.2.bias",
        "features.2.conv.0.0.weight",
        "features.2.conv.1.0.weight",
        "features.2.conv.2.weight",
        "features.2.conv.3.running_mean",
        "features.17.conv.3.weight",
        "features.18.0.weight",
        "features.18.1.bias",
        "classifier.1.weight",
    ],
    "shufflenet_v2_x1_0": [
        "conv1.0.weight",
        "conv1.1.bias",
        "stage2.0.branch1.0.weight",
        "stage2.0.branch1.3.running_var",
        "stage2.0.branch2.0.weight",
        "stage2.0.branch2.3.weight",  # the depthwise conv, after a ReLU at branch2.2
        "stage2.3.branch2.6.weight",
        "stage3.7.branch2.5.weight",
        "stage4.3.branch2.6.bias",
        "conv5.0.weight",
        "conv5.1.running_mean",
        "fc.weight",
    ],
    "regnet_x_400mf": [
        "stem.0.weight",
        "stem.1.bias",
        "trunk_output.block1.block1-0.proj.0.weight",
        "trunk_output.block1.block1-0.f.a.0.weight",
        "trunk_output.block1.block1-0.f.b.1.running_var",
        "trunk_output.block1.block1-0.f.c.1.bias",
        "trunk_output.block4.block4-11.f.c.0.weight",
        "fc.weight",
    ],
    "regnet_y_400mf": [
        "trunk_output.block2.block2-2.f.se.fc1.weight",
        "trunk_output.block2.block2-2.f.se.fc2.bias",
        "trunk_output.block4.block4-5.f.c.1.weight",
    ],
    "mobilenet_v3_large": [
        "features.0.0.weight",
        "features.1.block.0.0.weight",  # exp == in: no expansion
        "features.4.block.2.fc1.weight",  # squeeze-and-excitation
        "features.4.block.3.1.running_var",
        "features.15.block.3.0.weight",
        "features.16.0.weight",
        "classifier.0.weight",
        "classifier.3.bias",  # after Hardswish (.1) and Dropout (.2)
    ],
    "mobilenet_v3_small": [
        "features.1.block.1.fc1.weight",
        "features.11.block.3.1.bias",
        "features.12.0.weight",
        "classifier.3.weight",
    ],
    "efficientnet_b0": [
        "features.0.0.weight",
        "features.1.0.block.0.0.weight",  # t = 1: no expansion
        "features.1.0.block.1.fc1.weight",
        "features.2.0.block.0.0.weight",
        "features.2.1.block.2.fc2.bias",
        "features.6.3.block.3.1.running_var",
        "features.7.0.block.3.0.weight",
        "features.8.0.weight",
        "classifier.1.weight",
    ],
}

SPOT_COUNTS = {  # len(state_dict()) of torchvision 0.28's models
    "resnet18": 122,
    "resnet50": 320,
    "mobilenet_v2": 314,
    "shufflenet_v2_x1_0": 338,
    "regnet_x_400mf": 428,
    "regnet_y_400mf": 384,
    "mobilenet_v3_large": 312,
    "mobilenet_v3_small": 244,
    "efficientnet_b0": 360,
}


@pytest.mark.parametrize("name", list(SPOT_KEYS))
def test_state_dict_keys_are_torchvisions(name):
    _, example, values, _, _ = next(m for m in MEMBERS if m[0] == name)
    keys = list(specgen.compile(EXAMPLES / example, values).to_torch().state_dict())
    assert len(keys) == SPOT_COUNTS[name]
    spots = SPOT_KEYS[name]
    assert not [k for k in spots if k not in keys]
    positions = [keys.index(k) for k in spots]
    assert positions == sorted(positions)  # listed in torchvision's order


def test_mobilenet_v3_small_has_torchvisions_counts():
    """torchvision 0.28's mobilenet_v3_small (weights=None): parameters(), and MACs as
    FlopCounterMode's count / 2 at batch 1."""
    net = specgen.compile(EXAMPLES / "mobilenet_v3.conv", {"small": True})
    assert (net.cost.params, net.cost.macs) == (2_542_856, 56_510_400)


def test_cost_rows_shapes_and_keras_names_use_the_paths():
    net = specgen.compile(EXAMPLES / "resnet.conv", {"depth": 18})
    rows = [row.name for row in net.cost.layers]
    for path in ("conv1", "layer1.0.conv1", "layer2.0.downsample.0", "layer4.1.bn2", "fc"):
        assert path in rows
        assert path in net.shapes
    assert "layer1.0" in net.shapes  # the block call itself
    assert net.shapes["layer2.0.downsample.0"].as_list() == [128, 28, 28]
    assert net.shapes["layer4.1"].as_list() == [512, 7, 7]
    assert not [r for r in rows if r.startswith(("basic", "fc1"))]  # no automatic names left

    pytest.importorskip("keras")
    names = {layer.name for layer in net.to_keras().layers}
    for name in ("conv1", "layer1-0-conv1", "layer2-0-downsample-0", "layer2-0-downsample-1"):
        assert name in names
    assert "layer4-1-bn2" in names and "fc" in names
    assert not [n for n in names if "." in n]


@pytest.mark.parametrize("variant", ["b0", "b5"])
def test_efficientnet_trains_as_torchvisions_with_stochastic_depth(variant):
    """In train mode, with the same random state, torchvision's EfficientNet and the spec's
    (the `droppath` probabilities rising over the blocks, dropout before the classifier)
    draw the same masks and give the same outputs, bit for bit."""
    models = import_torchvision("torchvision.models")
    if models is None:
        pytest.skip("torchvision is not installed")
    reference = getattr(models, f"efficientnet_{variant}")(weights=None).train()
    _randomize(reference, seed=0)
    values = {} if variant == "b0" else EFFICIENTNET[variant]
    generated = specgen.compile(EXAMPLES / "efficientnet.conv", values).to_torch().train()
    generated.load_state_dict(reference.state_dict(), strict=True)
    ours = [m.p for m in generated.modules() if type(m).__name__ == "DropPath"]
    theirs = [m.p for m in reference.modules() if type(m).__name__ == "StochasticDepth"]
    # one per residual block (torchvision makes one per block, used by the residual ones)
    assert ours and set(ours) <= set(theirs)
    x = torch.randn(*INPUT, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(7)
    expected = reference(x)
    torch.manual_seed(7)
    got = generated(x)
    assert torch.equal(got, expected)
