"""The examples against the exact published counts (docs/cost.md § Reference networks) and against
closed-form counts written out here, independently of specgen."""

from __future__ import annotations

import pytest
from conftest import EXAMPLE_FILES, EXAMPLES

import specgen


def compile_example(name: str, **params):
    return specgen.compile(EXAMPLES / name, params=params or None)


def counts(net) -> tuple[int, int]:
    return net.cost.params, net.cost.macs


class Counter:
    """Params and MACs of convolutions and linear layers, summed by hand (docs/cost.md § Conventions)."""

    def __init__(self) -> None:
        self.params = 0
        self.macs = 0

    def conv(self, cin, cout, k, hw, groups=1, bn=True, bias=False):
        weights = cout * (cin // groups) * k * k
        self.params += weights + (2 * cout if bn else 0) + (cout if bias else 0)
        self.macs += weights * hw * hw

    def fc(self, cin, cout, bias=True):
        self.params += cin * cout + (cout if bias else 0)
        self.macs += cin * cout

    @property
    def totals(self) -> tuple[int, int]:
        return self.params, self.macs


# ---- published counts -------------------------------------------------------------------------------

SHUFFLENET_V1 = {  # g: (params, MACs)
    1: (1_531_936, 143_078_976),
    2: (1_733_848, 140_836_512),
    3: (1_865_728, 137_460_672),
    4: (1_968_344, 134_339_776),
    8: (2_434_768, 138_365_952),
}
SHUFFLENET_V1_CHANNELS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}


@pytest.mark.parametrize("g", sorted(SHUFFLENET_V1))
def test_shufflenet_v1(g):
    net = compile_example("shufflenet_v1.conv", g=g)
    assert counts(net) == SHUFFLENET_V1[g]
    assert net.cost.flops == 2 * SHUFFLENET_V1[g][1]
    out = net.output_shape
    assert (out.c, out.h, out.w) == (1000, 1, 1)


def test_shufflenet_v1_default_is_g3():
    assert counts(compile_example("shufflenet_v1.conv")) == SHUFFLENET_V1[3]


def shufflenet_v1_by_hand(g: int) -> tuple[int, int]:
    """Zhang et al. 2017, Table 1, as the paper describes it (no BN-free layers but the FC)."""
    n = Counter()
    n.conv(3, 24, 3, 112)
    cin, hw = 24, 56  # after the 3x3 stride-2 max pool
    c2 = SHUFFLENET_V1_CHANNELS[g]
    for stage, (out, units) in enumerate([(c2, 3), (2 * c2, 7), (4 * c2, 3)]):
        g1 = 1 if stage == 0 else g
        mid, half = out // 4, hw // 2
        n.conv(cin, mid, 1, hw, groups=g1)  # before the stride: full map
        n.conv(mid, mid, 3, half, groups=mid)
        n.conv(mid, out - cin, 1, half, groups=g)
        cin, hw = out, half
        for _ in range(units):
            n.conv(out, out // 4, 1, hw, groups=g)
            n.conv(out // 4, out // 4, 3, hw, groups=out // 4)
            n.conv(out // 4, out, 1, hw, groups=g)
    n.fc(cin, 1000)
    return n.totals


@pytest.mark.parametrize("g", sorted(SHUFFLENET_V1))
def test_shufflenet_v1_hand_count_agrees_with_the_reference(g):
    assert shufflenet_v1_by_hand(g) == SHUFFLENET_V1[g]


def mobilenet_v1_by_hand(width: float, classes: int = 1000) -> tuple[int, int]:
    """Howard et al. 2017, Table 1; every conv without bias + BN; the last dw layer stride 1."""

    def c(x: int) -> int:
        return int(x * width)

    n = Counter()
    n.conv(3, c(32), 3, 112)
    cin, hw = c(32), 112
    layers = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    layers += [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for out, stride in layers:
        hw //= stride
        n.conv(cin, cin, 3, hw, groups=cin)  # depthwise
        n.conv(cin, c(out), 1, hw)  # pointwise
        cin = c(out)
    n.fc(cin, classes)
    return n.totals


def test_mobilenet_v1_reference():
    assert mobilenet_v1_by_hand(1.0) == (4_231_976, 568_740_352)
    net = compile_example("mobilenet_v1.conv")
    assert counts(net) == (4_231_976, 568_740_352)


@pytest.mark.parametrize("width", [0.75, 0.5, 0.25])
def test_mobilenet_v1_width_multiplier(width):
    expected = mobilenet_v1_by_hand(width)
    net = compile_example("mobilenet_v1.conv", width=width)
    assert counts(net) == expected


def test_mobilenet_v1_known_width_values():
    # the two smaller published widths, written out from the formula above
    assert mobilenet_v1_by_hand(0.75) == (2_585_560, 325_400_448)
    assert mobilenet_v1_by_hand(0.5) == (1_331_592, 149_497_088)


def test_mobilenet_v1_classes():
    net = compile_example("mobilenet_v1.conv", classes=10)
    assert counts(net) == mobilenet_v1_by_hand(1.0, classes=10)


def test_mobilefacenet():
    net = compile_example("mobilefacenet.conv")
    assert counts(net) == (1_003_136, 220_965_376)
    out = net.output_shape
    assert (out.c, out.h, out.w) == (128, 1, 1)


def test_alexnet_two_towers():
    net = compile_example("alexnet.conv")
    assert counts(net) == (60_965_224, 724_406_816)


def igc_cifar_by_hand(M: int, L: int, n: int, classes: int = 10) -> tuple[int, int]:
    """The IGC ResNet of examples/igc_cifar.conv from the closed form in docs/cost.md:
    an IGC of width G = M·L with a k×k primary kernel (S = k²) has G·(M·S + L) weights."""
    p = m = 0

    def conv(cin, cout, k, hw):
        nonlocal p, m
        w = cout * cin * k * k
        p, m = p + w + 2 * cout, m + w * hw * hw

    def igc(M, L, hw):
        nonlocal p, m
        G, S = M * L, 9
        w = G * (M * S + L)
        p, m = p + w + 2 * G, m + w * hw * hw

    conv(3, M * L, 3, 32)
    for _ in range(2 * n):  # n units of two IGCs
        igc(M, L, 32)
    for factor, hw in ((2, 16), (4, 8)):
        width_in, width = M * L * factor // 2, M * L * factor
        conv(width_in, width, 1, 2 * hw)  # before the stride
        igc(M, L * factor, hw)
        igc(M, L * factor, hw)
        conv(width_in, width, 1, hw)  # strided shortcut
        for _ in range(2 * (n - 1)):
            igc(M, L * factor, hw)
    p, m = p + 4 * M * L * classes + classes, m + 4 * M * L * classes
    return p, m


def test_igc_cifar_default():
    assert igc_cifar_by_hand(2, 24, 3) == (236_026, 43_648_896)
    assert counts(compile_example("igc_cifar.conv")) == (236_026, 43_648_896)


@pytest.mark.parametrize("M, L, n", [(2, 24, 3), (4, 12, 2), (2, 16, 1), (3, 8, 2), (8, 4, 3)])
def test_igc_cifar_closed_form(M, L, n):
    net = compile_example("igc_cifar.conv", M=M, L=L, n=n)
    assert counts(net) == igc_cifar_by_hand(M, L, n)


def shufflenet_v2_by_hand() -> tuple[int, int]:
    n = Counter()
    n.conv(3, 24, 3, 112)
    cin, hw = 24, 56
    for out, units in ((116, 3), (232, 7), (464, 3)):
        half, b = hw // 2, out // 2
        n.conv(cin, cin, 3, half, groups=cin)  # branch 1: dw stride 2, 1x1
        n.conv(cin, b, 1, half)
        n.conv(cin, b, 1, hw)  # branch 2: 1x1, dw stride 2, 1x1
        n.conv(b, b, 3, half, groups=b)
        n.conv(b, b, 1, half)
        cin, hw = out, half
        for _ in range(units):
            n.conv(b, b, 1, hw)
            n.conv(b, b, 3, hw, groups=b)
            n.conv(b, b, 1, hw)
    n.conv(cin, 1024, 1, hw)
    n.fc(1024, 1000)
    return n.totals


def test_shufflenet_v2():
    params, macs = counts(compile_example("shufflenet_v2.conv"))
    assert params == 2_278_604  # torchvision's shufflenet_v2_x1_0 num_params
    assert (params, macs) == shufflenet_v2_by_hand()
    assert round(macs / 1e9, 2) == 0.14  # torchvision's published "GFLOPS" (really GMACs)


# ---- the small examples, by hand ------------------------------------------------------------------


def test_small_examples():
    hw = 56 * 56
    assert counts(compile_example("group_conv.conv")) == (
        36_864 + 128 + 36_864 // 4 + 128,
        (36_864 + 36_864 // 4) * hw,
    )
    assert counts(compile_example("group_conv.conv", g=8)) == (
        36_864 + 128 + 36_864 // 8 + 128,
        (36_864 + 36_864 // 8) * hw,
    )
    sep = (64 * 128 * 9, 128 * 9, 128 * 128, 128 * 9, 128 * 128)  # conv, dw, pw, dw, pw
    assert counts(compile_example("separable.conv")) == (sum(sep) + 5 * 256, sum(sep) * hw)
    assert counts(compile_example("shuffle.conv")) == (2 * (64 * 16 + 128), 2 * 64 * 16 * 28 * 28)
    assert counts(compile_example("gdc.conv")) == (
        512 * 49 + 1024 + 512 * 128 + 256,
        512 * 49 + 512 * 128,
    )
    assert counts(compile_example("igc.conv")) == (16 * (2 * 9 + 8) + 32, 416 * 32 * 32)


# ---- every example ------------------------------------------------------------------------------


def test_there_are_examples():
    assert len(EXAMPLE_FILES) >= 11


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_every_example_compiles(path):
    for spec in (path, str(path)):
        net = specgen.compile(spec)
        assert net.cost.params > 0 and net.cost.macs > 0
        assert net.cost.layers
        out = net.output_shape
        assert min(out.c, out.h, out.w) >= 1
    # text given directly compiles the same
    text_net = specgen.compile(path.read_text(encoding="utf-8"))
    assert counts(text_net) == counts(net)
