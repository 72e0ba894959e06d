"""examples/efficientnet_v2.conv is torchvision 0.28's EfficientNet V2 S, M and L
(`efficientnet_v2_s/m/l`, weights=None): the same parameter and MAC counts (`parameters()`,
FlopCounterMode / 2 at batch 1 and the variant's input size), the same state_dict keys in the
same order, `load_state_dict(strict=True)` of torchvision's weights (every parameter and
BatchNorm statistic randomized), bit-identical outputs in eval mode, and, in train mode from
the same seed, the same stochastic-depth and dropout masks.  The counts are also checked
without torchvision; the comparisons with it skip where it is not installed."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES
from test_checkpoints import INPUT, _randomize
from torchvision_import import import_torchvision

import specgen

torch = pytest.importorskip("torch")

SPEC = EXAMPLES / "efficientnet_v2.conv"

# variant: (the --set values of the example's header, torchvision constructor, input size,
# dropout, params, MACs, len(state_dict())): torchvision 0.28's parameters() and
# FlopCounterMode's MACs / 2 at batch 1 and the input size of its weights' transforms
VARIANTS = {
    "s": ({}, "efficientnet_v2_s", 384, 0.2, 21_458_488, 8_365_617_152, 782),
    "m": (
        {"variant": 1, "size": 480, "drop": 0.3},
        "efficientnet_v2_m",
        480,
        0.3,
        54_139_356,
        24_582_460_384,
        1120,
    ),
    "l": (
        {"variant": 2, "size": 480, "drop": 0.4},
        "efficientnet_v2_l",
        480,
        0.4,
        118_515_272,
        56_079_699_008,
        1548,
    ),
}

# Hand-picked keys of torchvision 0.28's efficientnet_v2_s state_dict, in its order
SPOT_KEYS = [
    "features.0.0.weight",  # the stem
    "features.0.1.running_var",
    "features.1.0.block.0.0.weight",  # fused, expand ratio 1: one 3x3 conv + BN + SiLU
    "features.1.1.block.0.1.bias",
    "features.2.0.block.0.0.weight",  # fused: the 3x3 expansion conv ...
    "features.2.0.block.1.0.weight",  # ... and the 1x1 projection
    "features.2.3.block.1.1.running_mean",
    "features.4.0.block.0.0.weight",  # MBConv: 1x1 expansion, depthwise, SE, projection
    "features.4.0.block.1.0.weight",
    "features.4.0.block.2.fc1.weight",
    "features.4.0.block.2.fc2.bias",
    "features.4.0.block.3.1.bias",
    "features.6.14.block.3.0.weight",
    "features.7.0.weight",  # the 1x1 conv to 1280
    "features.7.1.running_mean",
    "classifier.1.weight",  # after the dropout (.0)
    "classifier.1.bias",
]


def _torchvision_models():
    models = import_torchvision("torchvision.models")
    if models is None:
        pytest.skip("torchvision is not installed")
    return models


def _pair(variant: str, values: dict):
    """torchvision's model of `variant`, randomized, and the spec's at `values`, with
    torchvision's state_dict loaded (strict=True)."""
    ctor = VARIANTS[variant][1]
    reference = getattr(_torchvision_models(), ctor)(weights=None)
    _randomize(reference, seed=0)
    generated = specgen.compile(SPEC, {**VARIANTS[variant][0], **values}).to_torch()
    theirs, ours = reference.state_dict(), generated.state_dict()
    assert list(ours) == list(theirs)  # the same keys, in the same (registration) order
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs.values()]
    generated.load_state_dict(theirs, strict=True)
    return reference, generated


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_counts_are_torchvisions(variant):
    values, _, size, _, params, macs, _ = VARIANTS[variant]
    net = specgen.compile(SPEC, values)
    assert net.input_shape.as_list() == [3, size, size]
    assert (net.cost.params, net.cost.macs) == (params, macs)


def test_the_header_shows_each_variants_command_line():
    lines = [" ".join(line.split()) for line in SPEC.read_text(encoding="utf-8").splitlines()]
    for variant, (values, *_) in VARIANTS.items():
        sets = "".join(f" --set {k}={v}" for k, v in values.items())
        assert f"# specgen cost examples/efficientnet_v2.conv{sets} # {variant.upper()}" in lines


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_counts_equal_torchvisions_models(variant):
    """Counted on torchvision's model itself, built on the meta device (no weights, no
    arithmetic: FlopCounterMode counts the shapes)."""
    from torch.utils.flop_counter import FlopCounterMode

    models = _torchvision_models()
    values, ctor, size, _, params, macs, _ = VARIANTS[variant]
    with torch.device("meta"):
        reference = getattr(models, ctor)(weights=None).eval()
        x = torch.empty(1, 3, size, size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        reference(x)
    theirs = (sum(p.numel() for p in reference.parameters()), counter.get_total_flops() // 2)
    net = specgen.compile(SPEC, values)
    assert (net.cost.params, net.cost.macs) == theirs == (params, macs)


def test_state_dict_keys_are_torchvisions():
    keys = list(specgen.compile(SPEC).to_torch().state_dict())
    assert len(keys) == VARIANTS["s"][6]
    assert not [k for k in SPOT_KEYS if k not in keys]
    positions = [keys.index(k) for k in SPOT_KEYS]
    assert positions == sorted(positions)  # listed in torchvision's order


# (variant, input size): S and M at their own input sizes, L at a small one (the modules, like
# torchvision's, take any size) and, marked slow (~15 s on 2 cores), at its own
CHECKPOINT_CASES = [
    ("s", 384),
    ("m", 480),
    ("l", 64),
    pytest.param("l", 480, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("variant, size", CHECKPOINT_CASES)
def test_torchvision_checkpoint_loads_strictly_and_computes_the_same(variant, size):
    """torchvision's state_dict loads strictly and the eval-mode outputs are bit-identical;
    the stochastic-depth probabilities of the residual blocks and the dropout are
    torchvision's."""
    reference, generated = _pair(variant, {"size": size})
    assert len(reference.state_dict()) == VARIANTS[variant][6]
    residual = [
        m.stochastic_depth.p
        for m in reference.modules()
        if type(m).__name__ in ("MBConv", "FusedMBConv") and m.use_res_connect
    ]
    ours = [m.p for m in generated.modules() if type(m).__name__ == "DropPath"]
    assert ours == residual  # one per residual block, in order, the same floats
    dropouts = [m.p for m in generated.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [reference.classifier[0].p] == [VARIANTS[variant][3]]

    reference.eval()
    generated.eval()
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(x), generated(x)
    assert got.shape == expected.shape == (1, 1000)
    assert torch.equal(got, expected)


def test_trains_as_torchvisions_with_stochastic_depth():
    """In train mode, with the same random state, torchvision's EfficientNet V2 S and the
    spec's draw the same stochastic-depth and dropout masks: the outputs (and the BatchNorm
    statistics they update) are the same, bit for bit."""
    reference, generated = _pair("s", {"size": INPUT[-1]})
    reference.train()
    generated.train()
    x = torch.randn(*INPUT, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(7)
    expected = reference(x)
    torch.manual_seed(7)
    got = generated(x)
    assert torch.equal(got, expected)
    theirs, ours = reference.state_dict(), generated.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    torch.manual_seed(8)
    assert not torch.equal(reference(x), expected)  # the masks do depend on the seed


def test_an_unknown_variant_is_refused():
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(SPEC, {"variant": 3})
    assert info.value.message == "variant is 0 (S), 1 (M) or 2 (L)"
