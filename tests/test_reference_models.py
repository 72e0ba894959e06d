"""Cross-check the hand-written reference networks in bench/reference_models.py against the
exact parameter and MAC counts of docs/cost.md § Reference networks (and, for the IGC CIFAR
network, against a closed-form count from the IGC formula of docs/cost.md § Per-layer formulas)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

_REF_PATH = Path(__file__).resolve().parent.parent / "bench" / "reference_models.py"


def _load_reference_models() -> ModuleType:
    spec = importlib.util.spec_from_file_location("specgen_bench_reference_models", _REF_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rm = _load_reference_models()


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _macs_and_output(
    model: torch.nn.Module, input_chw: tuple[int, int, int]
) -> tuple[int, torch.Size]:
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.randn(1, *input_chw))
    return counter.get_total_flops() // 2, out.shape


# name, factory, input (C, H, W), params, MACs, output shape -- published counts
REFERENCE_CASES: list[
    tuple[str, Callable[[], torch.nn.Module], tuple[int, int, int], int, int, tuple[int, ...]]
] = [
    (
        "mobilenet_v1_1.0",
        lambda: rm.mobilenet_v1(1.0),
        (3, 224, 224),
        4_231_976,
        568_740_352,
        (1, 1000),
    ),
    (
        "shufflenet_v1_g1",
        lambda: rm.shufflenet_v1(1),
        (3, 224, 224),
        1_531_936,
        143_078_976,
        (1, 1000),
    ),
    (
        "shufflenet_v1_g2",
        lambda: rm.shufflenet_v1(2),
        (3, 224, 224),
        1_733_848,
        140_836_512,
        (1, 1000),
    ),
    (
        "shufflenet_v1_g3",
        lambda: rm.shufflenet_v1(3),
        (3, 224, 224),
        1_865_728,
        137_460_672,
        (1, 1000),
    ),
    (
        "shufflenet_v1_g4",
        lambda: rm.shufflenet_v1(4),
        (3, 224, 224),
        1_968_344,
        134_339_776,
        (1, 1000),
    ),
    (
        "shufflenet_v1_g8",
        lambda: rm.shufflenet_v1(8),
        (3, 224, 224),
        2_434_768,
        138_365_952,
        (1, 1000),
    ),
    (
        "mobilefacenet",
        lambda: rm.mobilefacenet(),
        (3, 112, 112),
        1_003_136,
        220_965_376,
        (1, 128, 1, 1),
    ),
    (
        "alexnet_two_tower",
        lambda: rm.alexnet_two_tower(),
        (3, 227, 227),
        60_965_224,
        724_406_816,
        (1, 1000),
    ),
]


@pytest.mark.parametrize(
    ("factory", "input_chw", "params", "macs", "out_shape"),
    [case[1:] for case in REFERENCE_CASES],
    ids=[case[0] for case in REFERENCE_CASES],
)
def test_reference_network_counts(
    factory: Callable[[], torch.nn.Module],
    input_chw: tuple[int, int, int],
    params: int,
    macs: int,
    out_shape: tuple[int, ...],
) -> None:
    model = factory()
    assert _params(model) == params
    measured_macs, shape = _macs_and_output(model, input_chw)
    assert measured_macs == macs
    assert tuple(shape) == out_shape


def _igc_block_params(M: int, L: int) -> int:
    """IGC block without BN: primary L*M^2*9 + secondary M*L^2 = G*(9M + L), G = M*L."""
    G = M * L
    return G * (9 * M + L)


def _igc_cifar_params(M: int, L: int, n: int, num_classes: int) -> int:
    """Closed-form parameter count of igc_cifar, derived by hand from its description."""

    def bn(c: int) -> int:
        return 2 * c  # gamma + beta

    def unit(Lx: int) -> int:
        G = M * Lx
        return 2 * (_igc_block_params(M, Lx) + bn(G))

    def down(Lx: int) -> int:
        G = M * Lx
        c_in = G // 2
        conv1x1 = c_in * G + bn(G)
        igcs = 2 * (_igc_block_params(M, Lx) + bn(G))
        shortcut = c_in * G + bn(G)
        return conv1x1 + igcs + shortcut

    G = M * L
    stem = 3 * G * 9 + bn(G)
    stage1 = n * unit(L)
    stage2 = down(2 * L) + (n - 1) * unit(2 * L)
    stage3 = down(4 * L) + (n - 1) * unit(4 * L)
    fc = 4 * G * num_classes + num_classes
    return stem + stage1 + stage2 + stage3 + fc


def test_igc_cifar_closed_form_default() -> None:
    # M=2, L=24, n=3: worked by hand -- stem 1,392; stage1 12,672; stage2 22,656 + 26,112;
    # stage3 82,176 + 89,088; fc 1,930.
    assert _igc_cifar_params(2, 24, 3, 10) == 236_026


@pytest.mark.parametrize(
    ("M", "L", "n"),
    [(2, 24, 3), (4, 8, 2), (3, 6, 1), (8, 4, 2)],
)
def test_igc_cifar_params_and_shape(M: int, L: int, n: int) -> None:
    model = rm.igc_cifar(M=M, L=L, n=n, num_classes=10)
    assert _params(model) == _igc_cifar_params(M, L, n, 10)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32))
    assert tuple(out.shape) == (1, 10)


@pytest.mark.parametrize(("M", "L"), [(2, 24), (4, 36), (3, 3)])
def test_igc_block_params(M: int, L: int) -> None:
    block = rm.IGCBlock(M, L)
    assert _params(block) == _igc_block_params(M, L)
