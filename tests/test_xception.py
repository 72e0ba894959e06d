"""Xception (examples/xception.conv) against keras.applications.Xception at 299×299.

The counts are written out by hand below (Chollet 2017 as Keras builds it) and must equal both
the compiler's and Keras' own.  Then the generated Keras model gets the application model's
weights (its BatchNorm statistics made random first, so that a wrong epsilon, a missing ReLU or
a different pool padding shows), and both run on the same input: every block's output and the
class probabilities agree.  Two changed specs (PyTorch's BatchNorm epsilon; symmetric
`padding=1` on the strided pools instead of Keras' `same`) keep every shape and must diverge,
the second exactly at the one pool whose input is even (74×74).
"""

from __future__ import annotations

import json
import os
import re

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from conftest import EXAMPLES, compile_text, keras_trainable  # noqa: E402

import specgen  # noqa: E402

XCEPTION = EXAMPLES / "xception.conv"

# the blocks of the spec, in order, and the Add of keras.applications.Xception each one ends in
BLOCKS = ["down1", "down2", "down3", *[f"middle{i}" for i in range(1, 9)], "down4"]
# C×H×W after each block: the entry flow halves 147 -> 74 -> 37 -> 19, the exit flow 19 -> 10
BLOCK_SHAPES = (
    [(128, 74, 74), (256, 37, 37), (728, 19, 19)] + [(728, 19, 19)] * 8 + [(1024, 10, 10)]
)


def xception_by_hand(classes: int = 1000) -> tuple[int, int, int]:
    """(params, MACs, BatchNorm channels) of keras.applications.Xception: every conv without
    bias and followed by BatchNorm, SeparableConv2D = 3×3 depthwise + 1×1 pointwise."""
    params = macs = bn = 0

    def conv(cin, cout, k, hw, groups=1):
        nonlocal params, macs
        weights = cout * (cin // groups) * k * k
        params += weights
        macs += weights * hw * hw

    def norm(c):
        nonlocal params, bn
        params += 2 * c
        bn += c

    def sep(cin, cout, hw):
        conv(cin, cin, 3, hw, groups=cin)
        conv(cin, cout, 1, hw)
        norm(cout)

    conv(3, 32, 3, 149)  # 299 -> 149, valid
    norm(32)
    conv(32, 64, 3, 147)  # 149 -> 147, valid
    norm(64)
    cin, hw = 64, 147

    def down(mid, out):  # two separable convs, the 3x3 stride-2 "same" pool, the shortcut
        nonlocal cin, hw
        sep(cin, mid, hw)
        sep(mid, out, hw)
        hw = (hw + 1) // 2  # "same": ceil(H / 2)
        conv(cin, out, 1, hw)  # 1x1 stride 2 + BatchNorm
        norm(out)
        cin = out

    down(128, 128)  # block2: 147 -> 74
    down(256, 256)  # block3: 74 -> 37
    down(728, 728)  # block4: 37 -> 19
    for _ in range(8 * 3):  # the middle flow: 8 blocks of 3 separable convs
        sep(728, 728, 19)
    down(728, 1024)  # block13: 19 -> 10
    sep(1024, 1536, 10)
    sep(1536, 2048, 10)
    params += 2048 * classes + classes
    macs += 2048 * classes
    return params, macs, bn


PARAMS, MACS, BN_CHANNELS = xception_by_hand()


def test_hand_count_is_the_keras_one():
    # keras.applications.Xception(weights=None).count_params() is 22,910,480: the trainable
    # parameters plus the moving mean and variance of every BatchNorm
    assert PARAMS == 22_855_952
    assert PARAMS + 2 * BN_CHANNELS == 22_910_480
    assert MACS == 8_357_403_496


def test_check_and_cost_through_the_cli(cli):
    done = cli("check", str(XCEPTION))
    assert done.code == 0, done.err
    assert done.out.startswith("ok: <Network xception(classes=1000) 3x299x299 -> 1000>")
    assert f"{PARAMS:,} params, {MACS:,} MACs" in done.out
    done = cli("cost", str(XCEPTION), "--format", "json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert (report["params"], report["macs"]) == (PARAMS, MACS)


def test_shapes_and_loops():
    net = specgen.compile(XCEPTION)
    assert (net.cost.params, net.cost.macs) == (PARAMS, MACS)
    assert [b.name for b in net.cost.blocks if "." not in b.name] == [*BLOCKS, "sep1", "sep2"]
    for name, (c, h, w) in zip(BLOCKS, BLOCK_SHAPES, strict=True):
        shape = net.shapes[name]
        assert (shape.c, shape.h, shape.w) == (c, h, w), name
    assert [(net.shapes[n].h, net.shapes[n].w) for n in ("conv1", "conv2")] == [
        (149, 149),
        (147, 147),
    ]
    # `classes` reaches the classifier and nothing else
    small = specgen.compile(XCEPTION, {"classes": 10})
    assert small.cost.params == PARAMS - 2048 * 990 - 990


def test_torch_module_counts_and_batchnorm():
    torch = pytest.importorskip("torch")
    module = specgen.compile(XCEPTION).to_torch().eval()
    assert sum(p.numel() for p in module.parameters()) == PARAMS
    norms = [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert sum(m.num_features for m in norms) == BN_CHANNELS
    assert {(m.eps, m.momentum) for m in norms} == {(1e-3, 0.01)}  # Keras' 1e-3 and 0.99
    with torch.no_grad():
        out = module(torch.randn(1, 3, 299, 299))
    assert out.shape == (1, 1000)
    torch.testing.assert_close(out.sum(), torch.tensor(1.0))


# ---- against keras.applications.Xception ------------------------------------------------------


def _prefix(block: int) -> str:
    """The spec's block call holding Keras' `block{N}_...` layers."""
    if block <= 4:
        return f"down{block - 1}-"
    if block <= 12:
        return f"middle{block - 4}-"
    return "down4-" if block == 13 else ""  # block14: the two top-level `sep` calls


def _randomize_batchnorm(model, x, rng) -> None:
    """Random BatchNorm statistics of the right scale: each layer's moving mean and variance
    are set to its batch statistics on `x` (one training pass with momentum 0), then
    perturbed, with random γ and β.  (Plain random statistics drown the small activations of
    randomly initialised convolutions: every image would give nearly the same output.)"""
    np = pytest.importorskip("numpy")
    norms = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    momentum = {layer.name: layer.momentum for layer in norms}
    for layer in norms:
        layer.momentum = 0.0  # moving statistics := this batch's
    model(x, training=True)
    for layer in norms:
        layer.momentum = momentum[layer.name]
        _, _, mean, var = layer.get_weights()
        c = mean.shape[0]
        weights = [
            rng.uniform(0.5, 1.5, c),
            rng.normal(0.0, 0.2, c),
            mean + rng.normal(0.0, 0.2, c) * np.sqrt(var),
            var * rng.uniform(0.5, 2.0, c),
        ]
        layer.set_weights([np.asarray(w, dtype="float32") for w in weights])


def _weights_by_generated_name(ref) -> dict[str, list]:
    """The application's weights under the generated model's layer names."""
    shortcut = {128: 1, 256: 2, 728: 3, 1024: 4}  # the shortcut convs have no names in Keras
    out: dict[str, list] = {}
    for layer in ref.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kind = type(layer).__name__
        if m := re.fullmatch(r"block1_conv(\d)(_bn)?", layer.name):
            out[("bn" if m[2] else "conv") + m[1]] = weights
        elif m := re.fullmatch(r"block(\d+)_sepconv(\d)(_bn)?", layer.name):
            path = _prefix(int(m[1])) + f"sep{m[2]}-"
            if m[3]:
                out[path + "bn1"] = weights
            else:  # SeparableConv2D: the depthwise kernel, then the pointwise one
                assert kind == "SeparableConv2D" and len(weights) == 2
                out[path + "dwconv1"], out[path + "pwconv1"] = weights[:1], weights[1:]
        elif layer.name == "predictions":
            out["fc1"] = weights
        else:
            block = shortcut[weights[0].shape[-1]]
            out[f"down{block}-" + ("bn1" if kind == "BatchNormalization" else "conv1")] = weights
    return out


class Reference:
    """keras.applications.Xception with random BatchNorm statistics, its outputs on one
    random batch of two 299×299 images, and its weights under the generated names."""

    def __init__(self) -> None:
        self.keras = keras = pytest.importorskip("keras")
        self.np = np = pytest.importorskip("numpy")
        rng = np.random.default_rng(2017)
        self.model = keras.applications.Xception(weights=None)
        self.x = rng.uniform(-1.0, 1.0, (2, 299, 299, 3)).astype("float32")
        _randomize_batchnorm(self.model, rng.uniform(-1.0, 1.0, (2, 299, 299, 3)), rng)
        self.weights = _weights_by_generated_name(self.model)
        self.adds = [layer for layer in self.model.layers if type(layer).__name__ == "Add"]
        probe = keras.Model(
            self.model.input,
            [a.output for a in self.adds]
            + [self.model.get_layer("avg_pool").output, self.model.output],
        )
        *self.blocks, self.features, self.probs = self.run(probe)
        kernel, bias = self.model.get_layer("predictions").get_weights()
        self.logits = self.features.astype("float64") @ kernel + bias

    def run(self, model) -> list:
        outputs = model(self.x, training=False)
        return [self.np.asarray(self.keras.ops.convert_to_numpy(o)) for o in outputs]

    def generated(self, net):
        """The generated Keras model with the application's weights, and its outputs: every
        block, the pooled features, the logits and the probabilities."""
        model = net.to_keras()
        named = {layer.name for layer in model.layers if layer.weights}
        assert named == set(self.weights)
        for name, weights in self.weights.items():
            model.get_layer(name).set_weights(weights)
        probe = self.keras.Model(
            model.input,
            [model.get_layer(b).output for b in BLOCKS]
            + [model.get_layer(n).output for n in ("gap1", "fc1")]
            + [model.output],
        )
        *blocks, features, logits, probs = self.run(probe)
        return model, blocks, features.reshape(len(self.x), -1), logits, probs


@pytest.fixture(scope="module")
def reference():
    return Reference()


def _close(got, expected, what: str, rtol: float = 1e-4) -> float:
    """Max absolute difference, asserted within rtol of the reference's largest value."""
    np = pytest.importorskip("numpy")
    assert got.shape == expected.shape, what
    diff = float(np.abs(got - expected).max())
    assert diff <= rtol * float(np.abs(expected).max()), (what, diff)
    return diff


def test_keras_counts_and_layers(reference):
    ref = reference.model
    assert ref.count_params() == PARAMS + 2 * BN_CHANNELS == 22_910_480
    assert keras_trainable(ref) == PARAMS
    net = specgen.compile(XCEPTION)
    model = net.to_keras()
    assert model.count_params() == ref.count_params()
    assert keras_trainable(model) == PARAMS
    configs = {layer.name: layer.get_config() for layer in model.layers}
    norms = [c for c in configs.values() if "epsilon" in c]
    assert len(norms) == 2 + 3 * 4 + 3 * 8 + 2  # entry, down blocks, middle flow, block14
    assert {(c["epsilon"], c["momentum"]) for c in norms} == {(1e-3, 0.99)}
    pools = [c for n, c in configs.items() if "maxpool" in n]
    assert [(c["pool_size"], c["strides"], c["padding"]) for c in pools] == [
        ((3, 3), (2, 2), "same")
    ] * 4


def test_block_shapes_match_keras(reference):
    net = specgen.compile(XCEPTION)
    model = net.to_keras()
    for name, add, (c, h, w) in zip(BLOCKS, reference.adds, BLOCK_SHAPES, strict=True):
        assert add.output.shape == (None, h, w, c) == model.get_layer(name).output.shape, name
    pools = [layer for layer in reference.model.layers if type(layer).__name__ == "MaxPooling2D"]
    assert [p.output.shape[1] for p in pools] == [74, 37, 19, 10]  # block2, 3, 4, 13 pools
    assert (
        model.get_layer("relu2").output.shape
        == reference.model.get_layer("block1_conv2_act").output.shape
        == (None, 147, 147, 64)
    )


def test_matches_keras_numerically(reference):
    np = reference.np
    _, blocks, features, logits, probs = reference.generated(specgen.compile(XCEPTION))
    for name, got, expected in zip(BLOCKS, blocks, reference.blocks, strict=True):
        _close(got, expected, name)
    _close(features, reference.features, "features")
    _close(logits, reference.logits, "logits")
    diff = _close(probs, reference.probs, "probabilities")
    assert diff <= 1e-6  # probabilities near 1/1000
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # the two images get different logits: matching them is not matching a constant
    assert np.abs(reference.logits[0] - reference.logits[1]).max() > 0.05


@pytest.mark.parametrize(
    "old, new, first",
    [
        ("bn(1e-3, 0.01)", "bn(1e-5, 0.1)", "down1"),  # PyTorch's BatchNorm defaults
        # symmetric pool padding: the same shapes, but the 74x74 map pads [1, 1, 1, 1] instead
        # of [0, 1, 0, 1] (147, 37 and 19 pad [1, 1, 1, 1] both ways)
        ("padding=same", "padding=1", "down2"),
    ],
    ids=["pytorch-eps", "symmetric-pool-padding"],
)
def test_changed_spec_keeps_shapes_but_diverges(reference, old, new, first):
    text = XCEPTION.read_text()
    assert old in text
    net = compile_text(text.replace(old, new), filename="xception-changed.conv")
    assert (net.cost.params, net.cost.macs) == (PARAMS, MACS)
    _, blocks, _, logits, _ = reference.generated(net)
    np = reference.np
    index = BLOCKS.index(first)
    for name, got, expected in zip(
        BLOCKS[:index], blocks[:index], reference.blocks[:index], strict=True
    ):
        _close(got, expected, name)  # the same up to the first changed block
    got, expected = blocks[index], reference.blocks[index]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() > 1e-3 * np.abs(expected).max()  # 10x the tolerance
    assert np.abs(logits - reference.logits).max() > 1e-3
