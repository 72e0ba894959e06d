"""`slice out start=s`: channels s .. s+out-1 of the input, against PyTorch's own slicing
(`x[:, s:s + out]`) in the per-point and the family code, on maps and on (N, C) tensors, and
through Keras (`verify`); its mistakes located; no weights, no MACs."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import specgen  # noqa: E402
from specgen.targets import get_emitter  # noqa: E402

torch = pytest.importorskip("torch")

GHOST = """network ghosty(out=7)
input 4x6x6
block ghost(out):
    concat:
        conv 1x1 out=(out + 1) // 2 bn relu
        dwconv 3x3 bn relu
    slice out
layers:
    ghost(out)
    slice 3 start=2
    gap
    fc 5
    slice 2 start=1
"""


@pytest.mark.parametrize("family", [True, False])
def test_slice_is_pytorchs_slicing(family):
    net = specgen.compile("network n\ninput 8x5x5\nlayers:\n    slice 3 start=2\n")
    assert (net.cost.params, net.cost.macs) == (0, 0)
    model = get_emitter("torch").build(net, family=family)
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(model(x), x[:, 2:5])
    flat = "network n\ninput 8x5x5\nlayers:\n    gap\n    fc 6\n"
    model = get_emitter("torch").build(specgen.compile(flat + "    slice 4\n"), family=family)
    whole = get_emitter("torch").build(specgen.compile(flat), family=family)
    whole.load_state_dict(model.state_dict())  # the slice holds nothing: the same keys
    with torch.no_grad():
        assert torch.equal(model.eval()(x), whole.eval()(x)[:, :4])


def test_a_ghost_module_keeps_an_odd_width_in_both_targets():
    """GhostNet's `[:, :out]`: the concatenation has 8 channels, the module keeps 7."""
    net = specgen.compile(GHOST)
    assert net.output_shape.c == 2 and net.shapes["ghost1"].c == 7
    model = net.to_torch().eval()
    assert sum(p.numel() for p in model.parameters()) == net.cost.params
    family = specgen.compile(GHOST, {"out": 5}).emit("torch")
    namespace: dict = {}
    exec(family, namespace)
    assert "ChannelSlice" in family and namespace["Ghosty"](out=5)(
        torch.randn(1, 4, 6, 6)
    ).shape == (1, 2)
    pytest.importorskip("keras")
    from specgen.targets.verify import verify

    assert verify(net).passed
    assert verify(net, split_groups=True).passed


@pytest.mark.parametrize(
    "line, message",
    [
        ("slice 9", "slice keeps channels 0 to 8, but the input has 8"),
        ("slice 4 start=6", "slice keeps channels 6 to 9, but the input has 8"),
        ("slice 0", "at least 1"),
        ("slice", "slice needs `out=`"),
    ],
)
def test_slice_mistakes_are_located(line, message):
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(f"network n\ninput 8x5x5\nlayers:\n    {line}\n")
    d = info.value.diagnostics[0]
    assert message in d.message and d.span.line == 4, d.message
