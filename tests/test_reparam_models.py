"""examples/repvgg.conv and examples/mobileone.conv against timm's `repvgg_*` and
`mobileone_s*` (timm.models.byobnet): parameters() and FlopCounterMode MACs equal in the
training form and, for the deploy form (`Network.deploy()`, each `rep:` one conv with a
bias), equal those of timm's `reparameterize_model(...)`; timm's state_dict (randomised,
BatchNorm running_var in [0.5, 1.5)) loads by key with strict=True and the eval outputs
agree; the deploy form with `fold_torch`'s weights agrees with timm's re-parameterised model.

Not bit for bit: a `rep:` adds its branches in the order they are written (the order of
timm's state_dict: identity, conv_kxk, conv_1x1), timm adds conv_1x1 + conv_kxk first and
the identity last, so float32 sums round differently (~1e-6 of the output's scale).
"""

from __future__ import annotations

import pytest
from conftest import EXAMPLES

import specgen

# the --set lines of each example's header comment
REPVGG = {
    "a0": {},
    "a1": {"widths": [1, 1, 1, 2.5], "stem": 64},
    "a2": {"widths": [1.5, 1.5, 1.5, 2.75], "stem": 64},
    "b0": {"depths": [4, 6, 16, 1], "widths": [1, 1, 1, 2.5], "stem": 64},
    "b1": {"depths": [4, 6, 16, 1], "widths": [2, 2, 2, 4], "stem": 64},
    "b2": {"depths": [4, 6, 16, 1], "widths": [2.5, 2.5, 2.5, 5], "stem": 64},
    "b3": {"depths": [4, 6, 16, 1], "widths": [3, 3, 3, 5], "stem": 64},
}
MOBILEONE = {
    "s0": {},
    "s1": {"widths": [1.5, 1.5, 2, 2.5], "stem": 64, "branches": 1},
    "s2": {"widths": [1.5, 2, 2.5, 4], "stem": 64, "branches": 1},
    "s3": {"widths": [2, 2.5, 3, 4], "stem": 64, "branches": 1},
    "s4": {"widths": [3, 3.5, 3.5, 4], "stem": 64, "branches": 1, "se_blocks": [0, 0, 5, 1]},
}
# timm model name -> (example, its --set values)
VARIANTS = {
    **{f"repvgg_{v}": ("repvgg.conv", p) for v, p in REPVGG.items()},
    **{f"mobileone_{v}": ("mobileone.conv", p) for v, p in MOBILEONE.items()},
}
# timm 1.0.31's models as its counters see them at 3x224x224, batch 1: params (parameters()),
# MACs (FlopCounterMode's flops / 2), in the training form and after reparameterize_model
COUNTS = {
    "repvgg_a0": (9_108_968, 1_512_581_120, 8_309_384, 1_361_451_008),
    "repvgg_a1": (14_092_264, 2_626_488_320, 12_789_864, 2_363_967_488),
    "repvgg_a2": (28_210_600, 5_685_345_280, 25_499_944, 5_116_951_552),
    "repvgg_b0": (15_817_960, 3_397_191_680, 14_339_048, 3_057_600_512),
    "repvgg_b1": (57_415_016, 13_128_089_600, 51_829_480, 11_815_485_440),
    "repvgg_b2": (89_022_376, 20_418_170_880, 80_315_112, 18_376_609_792),
    "repvgg_b3": (123_085_288, 29_120_696_320, 110_960_872, 26_208_882_688),
    "mobileone_s0": (5_293_272, 1_051_935_232, 2_078_504, 275_110_400),
    "mobileone_s1": (4_825_192, 830_062_080, 4_764_840, 825_057_024),
    "mobileone_s2": (7_884_648, 1_304_027_392, 7_808_168, 1_298_426_496),
    "mobileone_s3": (10_170_600, 1_902_112_768, 10_078_312, 1_895_790_592),
    "mobileone_s4": (14_951_248, 2_986_802_432, 14_838_352, 2_979_269_760),
}
# the weight-loading comparison builds, randomises and re-parameterises the whole model
SLOW = {"repvgg_b1", "repvgg_b2", "repvgg_b3"}
SIZE = 64


def _compile(name: str, **extra):
    example, values = VARIANTS[name]
    return specgen.compile(EXAMPLES / example, {**values, **extra})


def _variants(slow=frozenset()):
    return [pytest.param(v, marks=pytest.mark.slow) if v in slow else v for v in VARIANTS]


def _timm():
    """timm, or a skip when torch, torchvision or timm cannot be imported."""
    pytest.importorskip("torch")
    from torchvision_import import import_torchvision

    if import_torchvision("torchvision.models") is None:
        pytest.skip("torchvision is not importable")
    return pytest.importorskip("timm")


@pytest.fixture
def one_thread():
    """One intra-op thread: on a busy machine with few cores, PyTorch's thread pool waits
    out every small conv of these models (seconds per forward instead of ~0.1 s)."""
    torch = pytest.importorskip("torch")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randomize(model, seed: int) -> None:
    """As tests/test_checkpoints.py: weights and biases around 0, BatchNorm's running_var in
    [0.5, 1.5), so that no BatchNorm is the identity."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                tensor.zero_()  # num_batches_tracked
            elif name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            else:
                tensor.copy_(0.2 * torch.randn(tensor.shape, generator=gen))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_counts_are_timms(name):
    """Without timm: the spec's params and MACs, trained and deployed, are timm's."""
    net = _compile(name)
    deploy = net.deploy()
    assert (net.cost.params, net.cost.macs, deploy.cost.params, deploy.cost.macs) == COUNTS[name]


def test_the_published_counts():
    """The figures the issue quotes for the two defaults (A0 and S0)."""
    assert COUNTS["repvgg_a0"] == (9_108_968, 1_512_581_120, 8_309_384, 1_361_451_008)
    assert COUNTS["mobileone_s0"] == (5_293_272, 1_051_935_232, 2_078_504, 275_110_400)
    for example, name in (("repvgg.conv", "repvgg_a0"), ("mobileone.conv", "mobileone_s0")):
        net = specgen.compile(EXAMPLES / example)  # the defaults
        deploy = net.deploy()
        assert (net.cost.params, net.cost.macs) == COUNTS[name][:2]
        assert (deploy.cost.params, deploy.cost.macs) == COUNTS[name][2:]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_counts_equal_timms_counters(name):
    """timm's models on the meta device (no weights, no arithmetic: the same counts)."""
    timm = _timm()
    import torch
    from timm.utils.model import reparameterize_model
    from torch.utils.flop_counter import FlopCounterMode

    def count(model):
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.zeros(1, 3, 224, 224, device="meta"))
        return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2

    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False).eval()
        deployed = reparameterize_model(model)
    assert type(deployed) is type(model) and deployed is not model
    assert not any("conv_kxk" in key for key in deployed.state_dict())
    assert count(model) + count(deployed) == COUNTS[name]


@pytest.mark.parametrize("name", _variants(SLOW))
def test_timm_checkpoint_loads_and_computes_the_same(name, one_thread):
    timm = _timm()
    import torch
    from specgen.deploy import fold_torch
    from timm.utils.model import reparameterize_model

    reference = timm.create_model(name, pretrained=False).eval()
    _randomize(reference, seed=0)
    net = _compile(name, size=SIZE)
    eager = net.to_torch().eval()
    theirs, ours = reference.state_dict(), eager.state_dict()
    assert list(ours) == list(theirs)  # the same keys, in the same (registration) order
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs.values()]
    eager.load_state_dict(theirs, strict=True)

    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(x), eager(x)
    scale = expected.abs().max().item()
    assert got.shape == expected.shape == (2, 1000)
    assert (got - expected).abs().max().item() <= 1e-5 * scale

    # the deploy form: one conv per `rep:`, weights folded from the eager model's
    deploy = net.deploy().to_torch().eval()
    folded = fold_torch(net.ir, eager.state_dict())
    deploy.load_state_dict(folded, strict=True)
    reparameterized = reparameterize_model(reference)
    with torch.no_grad():
        expected, got = reparameterized(x), deploy(x)
    assert (got - expected).abs().max().item() <= 1e-4 * scale
    # the merged convs are timm's reparam_conv (named after the `rep:`, `rep1`, here)
    merged = {k.replace(".rep1.", ".reparam_conv."): v for k, v in folded.items()}
    reparam = reparameterized.state_dict()
    assert sorted(merged) == sorted(reparam)
    for key, value in reparam.items():
        assert merged[key].shape == value.shape
        assert (merged[key] - value).abs().max().item() <= 1e-5 * (1 + value.abs().max().item())
