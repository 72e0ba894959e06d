"""Network families written once, with conditionals and loops: every member's parameter and
MAC counts equal torchvision 0.28's own (its models built with weights=None; params from
`parameters()`, MACs from FlopCounterMode / 2 at batch 1), through the command line, and the
generated PyTorch module has the same parameter count and output shape."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES

import specgen

RESNET = str(EXAMPLES / "resnet.conv")
MOBILENET_V2 = str(EXAMPLES / "mobilenet_v2.conv")
REGNET = str(EXAMPLES / "regnet.conv")
MOBILENET_V3 = str(EXAMPLES / "mobilenet_v3.conv")
EFFICIENTNET = str(EXAMPLES / "efficientnet.conv")

# (spec, --set values, params, MACs): torchvision.models.resnet18 ... mobilenet_v2(width_mult)
BN_TF = {"eps": 1e-3, "momentum": 0.01}  # torchvision's BatchNorm settings of B5-B7

MEMBERS = [
    (RESNET, {"depth": 18}, 11_689_512, 1_814_073_344),
    (RESNET, {"depth": 34}, 21_797_672, 3_663_761_408),
    (RESNET, {"depth": 50}, 25_557_032, 4_089_184_256),
    (RESNET, {"depth": 101}, 44_549_160, 7_801_405_440),
    (RESNET, {"depth": 152}, 60_192_808, 11_513_626_624),
    (RESNET, {"groups": 32, "width_per_group": 4}, 25_028_904, 4_230_479_872),  # ResNeXt-50 32x4d
    (RESNET, {"depth": 101, "groups": 32, "width_per_group": 8}, 88_791_336, 16_414_015_488),
    (MOBILENET_V2, {}, 3_504_872, 300_774_272),
    (MOBILENET_V2, {"width": 0.25}, 1_519_112, 37_201_312),
    (REGNET, {}, 5_495_976, 413_812_608),  # regnet_x_400mf: widths derived in the spec
    (MOBILENET_V3, {}, 5_483_032, 216_589_760),  # mobilenet_v3_large
    # torchvision's width_mult (parameters() and FlopCounterMode at 224x224)
    (MOBILENET_V3, {"width": 0.75}, 3_377_576, 140_033_816),
    (MOBILENET_V3, {"width": 1.25}, 8_164_744, 343_461_000),
    (MOBILENET_V3, {"width": 0.5}, 1_734_576, 64_962_192),
    (EFFICIENTNET, {}, 5_288_548, 385_814_752),  # efficientnet_b0
    # B1-B7: torchvision's parameters() and FlopCounterMode's MACs at each variant's input
    # size (tests/test_checkpoints.py loads their state_dicts)
    (EFFICIENTNET, {"depth": 1.1, "size": 240}, 7_794_184, 686_802_832),
    (EFFICIENTNET, {"width": 1.1, "depth": 1.2, "size": 260, "drop": 0.3}, 9_109_994, 993_561_872),
    (
        EFFICIENTNET,
        {"width": 1.2, "depth": 1.4, "size": 300, "drop": 0.3},
        12_233_232,
        1_827_141_392,
    ),
    (
        EFFICIENTNET,
        {"width": 1.4, "depth": 1.8, "size": 380, "drop": 0.4},
        19_341_616,
        4_393_771_024,
    ),
    (
        EFFICIENTNET,
        {"width": 1.6, "depth": 2.2, "size": 456, "drop": 0.4, **BN_TF},
        30_389_784,
        10_266_384_752,
    ),
    (
        EFFICIENTNET,
        {"width": 1.8, "depth": 2.6, "size": 528, "drop": 0.5, **BN_TF},
        43_040_704,
        19_067_593_536,
    ),
    (
        EFFICIENTNET,
        {"width": 2.0, "depth": 3.1, "size": 600, "drop": 0.5, **BN_TF},
        66_347_960,
        37_745_884_192,
    ),
]


def member_id(member) -> str:
    spec, values, _, _ = member
    name = spec.rsplit("/", 1)[-1].removesuffix(".conv")
    return name + "".join(f"-{k}{v}" for k, v in values.items())


@pytest.mark.parametrize("member", MEMBERS, ids=member_id)
def test_member_numbers_through_the_cli(member, module_cli):
    spec, values, params, macs = member
    sets = [arg for k, v in values.items() for arg in ("--set", f"{k}={v}")]
    done = module_cli("cost", spec, "--format", "json", *sets)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["params"], report["macs"]) == (params, macs)


@pytest.mark.parametrize("member", MEMBERS, ids=member_id)
def test_member_builds_in_torch(member):
    torch = pytest.importorskip("torch")
    spec, values, params, _ = member
    net = specgen.compile(spec, values)
    module = net.to_torch().eval()
    assert sum(p.numel() for p in module.parameters()) == params
    with torch.no_grad():
        out = module(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1000)


def test_resnet_basic_block_refuses_resnext_widths():
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(RESNET, {"depth": 18, "groups": 32})
    first = info.value.diagnostics[0]
    assert first.code == "assert" and "needs groups=1" in first.message


def test_resnet_unknown_depth():
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(RESNET, {"depth": 20})
    assert info.value.diagnostics[0].message == "depth is one of 18, 34, 50, 101, 152"


def test_mobilenet_v2_shortcuts_follow_torchvision():
    """Shortcuts only where stride is 1 and the width is unchanged: 10 at width 1.0 (blocks
    3, 5-6, 8-10, 12-13, 15-16), 11 at 0.25 where the first block keeps 8 -> 8 channels."""

    def residuals(width: float) -> int:
        net = specgen.compile(MOBILENET_V2, {"width": width})
        return sum(1 for row in net.cost.blocks if row.name.count(".") == 1 and row.params
                   and any(n.startswith(row.name + ".conv") for n in net.shapes)
                   and _has_residual(net, row.name))  # fmt: skip

    assert residuals(1.0) == 10
    assert residuals(0.25) == 11


def _has_residual(net, block: str) -> bool:
    node = dict(net.ir.body.children)[block]
    return any(type(child).__name__ == "Residual" for _, child in node.body.children)


def test_regnet_stages_come_from_the_design_rule():
    """RegNetX-400MF: torchvision derives widths [32, 64, 160, 400] and depths [1, 2, 7, 12]."""
    net = specgen.compile(REGNET)
    blocks = [name for name in net.shapes if name.count(".") == 2 and name.startswith("trunk")]
    assert len(blocks) == 22
    widths = [net.shapes[name].c for name in blocks]
    assert [widths.count(w) for w in (32, 64, 160, 400)] == [1, 2, 7, 12]


def test_regnet_y_400mf_from_the_same_spec():
    """RegNetY-400MF (w0 48, wa 27.89, wm 2.09, depth 16, group width 8, SE ratio 0.25):
    torchvision's model documentation gives 4,344,144 parameters and 0.402 G multiply-adds
    (which it calls GFLOPS)."""
    values = {"w0": 48, "wa": 27.89, "wm": 2.09, "depth": 16, "group_width": 8, "se_ratio": 0.25}
    net = specgen.compile(REGNET, values)
    assert net.cost.params == 4_344_144
    assert round(net.cost.macs / 1e9, 3) == 0.402
    torch = pytest.importorskip("torch")
    module = net.to_torch()
    assert sum(p.numel() for p in module.parameters()) == 4_344_144
    assert module(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec, values",
    [
        (RESNET, {"depth": 18}),
        (RESNET, {"depth": 50, "groups": 32, "width_per_group": 4}),
        (MOBILENET_V2, {"width": 0.25}),
        (REGNET, {"w0": 48, "wa": 27.89, "wm": 2.09, "depth": 16, "group_width": 8,
                  "se_ratio": 0.25}),
        (MOBILENET_V3, {}),
        (EFFICIENTNET, {}),
    ],
    ids=["resnet18", "resnext50", "mobilenet_v2-0.25", "regnet_y_400mf", "mobilenet_v3",
         "efficientnet_b0"],
)  # fmt: skip
def test_family_members_verify_on_keras(spec, values):
    """The PyTorch and Keras modules of each family compute the same function (random
    PyTorch weights copied into Keras, every block compared)."""
    pytest.importorskip("keras")
    from specgen.targets.verify import verify

    report = verify(specgen.compile(spec, values))
    assert report.passed, report.render()
