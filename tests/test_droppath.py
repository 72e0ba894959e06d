"""`droppath p`: stochastic depth with torchvision's per-sample semantics (StochasticDepth(p,
"row")): the same masks from the same random state in training, the identity in evaluation,
in the per-point and the family code; Keras' Dropout with one draw per sample; no cost."""

from __future__ import annotations

import copy
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from torchvision_import import import_torchvision  # noqa: E402

import specgen  # noqa: E402
from specgen.targets import get_emitter  # noqa: E402

torch = pytest.importorskip("torch")

SPEC = """network n
input 8x5x5
layers:
    residual:
        conv 3x3 out=8 bn relu
        droppath 0.3
    gap
    fc 4 droppath(0.5)
"""


@pytest.mark.parametrize("family", [True, False])
def test_droppath_draws_torchvisions_masks(family):
    ops = import_torchvision("torchvision.ops")
    if ops is None:
        pytest.skip("torchvision is not installed")
    net = specgen.compile(SPEC)
    plain = specgen.compile(SPEC.replace("droppath 0.3", "identity").replace(" droppath(0.5)", ""))
    assert (net.cost.params, net.cost.macs) == (plain.cost.params, plain.cost.macs)
    model = get_emitter("torch").build(net, family=family)
    reference = copy.deepcopy(model)  # torchvision's module where each DropPath is
    for module in list(reference.modules()):
        for name, child in list(module.named_children()):
            if type(child).__name__ == "DropPath":
                setattr(module, name, ops.StochasticDepth(child.p, "row"))
    x = torch.randn(32, 8, 5, 5)
    torch.manual_seed(3)
    got = model.train()(x)
    torch.manual_seed(3)
    expected = reference.train()(x)
    assert torch.equal(got, expected)
    assert 0 < int((got == 0).all(dim=1).sum()) < 32  # whole samples were dropped
    model.eval()
    drop = [m for m in model.modules() if type(m).__name__ == "DropPath"]
    assert len(drop) == 2 and all(torch.equal(m(x), x) for m in drop)  # eval: the identity


def test_droppath_in_keras_is_a_per_sample_dropout():
    keras = pytest.importorskip("keras")
    from specgen.targets.verify import verify

    net = specgen.compile(SPEC)
    assert verify(net).passed  # evaluation: the identity in both
    model = net.to_keras()
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [tuple(d.noise_shape) for d in drops] == [(None, 1, 1, 1), (None, 1)]
    import numpy as np

    x = np.random.default_rng(0).normal(size=(64, 5, 5, 8)).astype("float32")
    y = keras.ops.convert_to_numpy(drops[0](x, training=True))
    dropped = (y == 0).reshape(64, -1).all(axis=1)
    kept = ~dropped
    assert dropped.any() and kept.any()
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-6)


def test_droppath_needs_its_probability():
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile("network n\ninput 8x5x5\nlayers:\n    droppath 1.5\n")
    assert info.value.diagnostics[0].span.line == 4
    with pytest.raises(specgen.SpecError):
        specgen.compile("network n\ninput 8x5x5\nlayers:\n    droppath\n")


def test_a_bare_trailing_droppath_is_a_located_error():
    """`conv 3x3 droppath`: the trailing layer's missing `p` is reported (it once left the
    network unbuilt without a word, an internal error: found by the grammar fuzz)."""
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile("network n\ninput 8x4x4\nlayers:\n    conv 3x3 out=8 droppath dropout\n")
    d = info.value.diagnostics[0]
    assert d.message == "droppath needs `p=`" and (d.span.line, d.span.column) == (4, 20)
