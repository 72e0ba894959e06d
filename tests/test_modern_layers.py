"""The layers of the last years' blocks — `layernorm`, `linear`, `layerscale`, `grn`,
`gelu_tanh` — and `rep:` composites: costs against PyTorch's own counters, the two targets
against each other with the same weights, the deploy form's merging and folding (a `rep:`
into one conv, a layer scale and a BatchNorm after `igc` into the layer before) against the
eager model, and the located errors of a `rep:` that cannot merge."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import specgen  # noqa: E402
from specgen.targets import get_emitter  # noqa: E402

torch = pytest.importorskip("torch")

LAYERS = """network modern
input 8x6x6
layers:
    conv 3x3 out=16 layernorm(1e-6)
    linear 32 gelu_tanh
    linear out=16 layerscale(0.5)
    grn
    residual:
        dwconv 3x3 layernorm
        linear 16 gelu layerscale(1e-6) as "ls.*"
    gap
    layernorm
    flatten
    fc 10
"""

REP = """network r
input 8x9x9
layers:
    rep:
        branch:
            conv 3x3 out=16 stride=2
            bn
        conv 1x1 out=16 stride=2 bn
    relu
    rep:
        bn
        conv 3x3 group=4 bn
        conv 1x1 group=4 bn
        identity
    relu
    rep:
        conv 5x5 group=16 bn
        conv 3x3 group=16 bn
        conv 1x1 group=16 bn
        bn
    bn
    igc 3x3 M=4 L=4 bn relu
    gap
    fc 5
"""


def _randomize(model, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            else:
                tensor.copy_(0.3 * torch.randn(tensor.shape, generator=gen))


@pytest.mark.parametrize("family", [True, False])
def test_costs_are_pytorchs_counts(family):
    from torch.utils.flop_counter import FlopCounterMode

    net = specgen.compile(LAYERS)
    model = get_emitter("torch").build(net, family=family).eval()
    assert sum(p.numel() for p in model.parameters()) == net.cost.params
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 8, 6, 6))
    assert counter.get_total_flops() // 2 == net.cost.macs
    rows = {row.name: row for row in net.cost.rows} if hasattr(net.cost, "rows") else {}
    if rows:
        assert rows["linear1"].macs == 16 * 32 * 36


def test_layers_compute_what_pytorch_does():
    """Against PyTorch's own functions, on the generated modules' weights."""
    net = specgen.compile(LAYERS)
    model = net.to_torch().eval()
    _randomize(model)
    x = torch.randn(2, 8, 6, 6)
    f = torch.nn.functional
    with torch.no_grad():
        h = model.conv1(x)
        ln = model.layernorm1
        want = f.layer_norm(h.permute(0, 2, 3, 1), (16,), ln.weight, ln.bias, 1e-6)
        h = ln(h)
        assert torch.allclose(h.permute(0, 2, 3, 1), want, atol=1e-6)
        lin = model.linear1
        want = f.linear(h.permute(0, 2, 3, 1), lin.weight, lin.bias).permute(0, 3, 1, 2)
        h = lin(h)
        assert torch.allclose(h, want, atol=1e-6)
        assert torch.equal(model.gelu_tanh1(h), f.gelu(h, approximate="tanh"))
        h = model.linear2(model.gelu_tanh1(h))
        assert torch.equal(h * model.layerscale1, h * model.state_dict()["layerscale1"])
        h = h * model.layerscale1
        grn = model.grn1
        g = h.norm(p=2, dim=(2, 3), keepdim=True)
        n = g / (g.mean(dim=1, keepdim=True) + 1e-6)
        want = grn.weight.view(1, -1, 1, 1) * (h * n) + grn.bias.view(1, -1, 1, 1) + h
        assert torch.allclose(grn(h), want, atol=1e-5)


def test_grn_is_timms():
    from torchvision_import import import_torchvision

    import_torchvision("torchvision.models")  # timm imports torchvision: the CPU-safe way
    try:
        from timm.layers.grn import GlobalResponseNorm
    except Exception:  # noqa: BLE001 - not installed, or not importable beside this torch
        pytest.skip("timm is not installed")
    net = specgen.compile("network n\ninput 8x5x5\nlayers:\n    grn\n")
    model = net.to_torch().eval()
    _randomize(model)
    reference = GlobalResponseNorm(8, channels_last=False)
    reference.load_state_dict(model.grn1.state_dict())
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-6)


@pytest.mark.parametrize("family", [True, False])
def test_keras_computes_the_same(family):
    pytest.importorskip("keras")
    import numpy as np

    from specgen.targets.transfer import torch_to_keras

    net = specgen.compile(LAYERS)
    model = get_emitter("torch").build(net, family=family).eval()
    _randomize(model)
    keras_model = get_emitter("keras").build(net, family=family)
    torch_to_keras(model, keras_model)
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        want = model(x).numpy()
    got = np.asarray(keras_model(x.permute(0, 2, 3, 1).numpy()))
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_rep_merges_into_one_conv_per_rep():
    net = specgen.compile(REP)
    deploy = net.deploy()
    kinds = [type(n).__name__ for _, n in deploy.ir.body.children]
    assert kinds.count("Add") == 0 and "BatchNorm" not in kinds
    convs = {name: n for name, n in deploy.ir.body.children if type(n).__name__ == "Conv"}
    assert [(n.kernel, n.stride, n.groups, n.bias) for n in convs.values()] == [
        ((3, 3), (2, 2), 1, True),
        ((3, 3), (1, 1), 4, True),
        ((5, 5), (1, 1), 16, True),
    ]
    # training counts every branch; deployed, one conv with a bias per `rep:`
    assert (
        net.cost.macs
        == 16 * 8 * 9 * 25
        + 16 * 8 * 25
        + 16 * 4 * 9 * 25
        + 16 * 4 * 25
        + (16 * 25 * (25 + 9 + 1))
        + 16 * (4 * 9 + 4) * 25
        + 80
    )
    assert (
        deploy.cost.macs
        == 16 * 8 * 9 * 25 + 16 * 4 * 9 * 25 + 16 * 25 * 25 + (16 * (4 * 9 + 4) * 25) + 80
    )


def test_rep_layer_scale_and_igc_fold_exactly_in_pytorch():
    from specgen.deploy import fold_torch

    for spec in (REP, LAYERS):
        net = specgen.compile(spec)
        model = net.to_torch()
        _randomize(model)
        model.eval()
        deploy = net.deploy().to_torch().eval()
        deploy.load_state_dict(fold_torch(net.ir, model.state_dict()))
        assert sum(p.numel() for p in deploy.parameters()) == net.deploy().cost.params
        s = net.input_shape
        x = torch.randn(3, s.c, s.h, s.w)
        with torch.no_grad():
            want, got = model(x), deploy(x)
        assert (got - want).abs().max().item() <= 1e-5 * max(1.0, want.abs().max().item())


def test_rep_layer_scale_and_igc_fold_in_keras():
    pytest.importorskip("keras")
    import numpy as np

    from specgen.targets.transfer import torch_to_keras

    net = specgen.compile(REP)
    model = net.to_torch()
    _randomize(model)
    model.eval()
    keras_model = net.to_keras()
    torch_to_keras(model, keras_model)
    deploy = net.fuse_keras(keras_model)
    assert len(deploy.layers) < len(keras_model.layers)
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        want = model(x).numpy()
    got = np.asarray(deploy(x.permute(0, 2, 3, 1).numpy()))
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize(
    ("branch", "message", "line"),
    [
        ("conv 3x3 dilation=2 bn", "cannot be dilated", 6),
        ("relu", "a `rep:` branch is a conv", 6),
        ("conv 3x3 stride=2", "need one stride", 6),
        ("conv 3x3 group=2", "need one group count", 6),
        ("conv 3x3 padding=0", "odd kernel and the padding that centres it", 6),
        ("conv 2x2", "odd kernel", 6),
    ],
)
def test_rep_branches_that_cannot_merge_are_located(branch, message, line):
    spec = f"""network n
input 8x8x8
layers:
    rep:
        conv 3x3 bn
        {branch}
"""
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(spec)
    found = [d for d in info.value.diagnostics if message in d.message]
    assert found and found[0].span.line == line, info.value.diagnostics


def test_rep_needs_a_conv_and_branch_belongs_in_it():
    with pytest.raises(specgen.SpecError, match="at least one conv"):
        specgen.compile(
            "network n\ninput 8x8x8\nlayers:\n    rep:\n        bn\n        identity\n"
        )
    net = specgen.compile(
        "network n\ninput 8x8x8\nlayers:\n    rep:\n        branch:\n            conv 3x3\n"
        "            bn\n        bn\n"
    )
    assert net.deploy().cost.params == 8 * 8 * 9 + 8


def test_layerscale_and_grn_need_a_map():
    for layer in ("layerscale 0.1", "grn"):
        with pytest.raises(specgen.SpecError, match="needs a C×H×W map"):
            specgen.compile(f"network n\ninput 8x4x4\nlayers:\n    gap\n    fc 4\n    {layer}\n")


def test_a_rep_branch_that_adds_nothing_is_left_out():
    """`if stride == 1: bn` in a `rep:`: at stride 2 no identity branch (in `add:` an empty
    branch is the identity, which would not even fit here); the family code leaves such a
    spec to the per-point code, which gives the same network."""
    spec = """network n(s=2)
input 8x8x8
block b(s):
    rep:
        if s == 1:
            bn
        conv 3x3 stride=s bn
layers:
    b(s)
"""
    down = specgen.compile(spec)
    assert down.output_shape.h == 4 and down.cost.params == 8 * 8 * 9 + 16
    assert specgen.compile(spec, {"s": 1}).cost.params == 8 * 8 * 9 + 16 + 16
    model = down.to_torch()
    assert sum(p.numel() for p in model.parameters()) == down.cost.params


def test_for_and_if_write_branches_with_branch_lines():
    """MobileOne's k over-parameterised copies: a `for` of `branch:` lines writes one branch
    per iteration (its paths from the loop variable), an `if` writes its branches or none;
    the family code leaves this to the per-point code, which the deploy form merges."""
    spec = """network fb(n=4, s=1)
input 8x8x8
layers:
    rep:
        if s == 1:
            bn as "identity"
        for i in range(n):
            let k = 3
            branch:
                conv k stride=s as "conv_kxk.{i}.conv"
                bn as "conv_kxk.{i}.bn"
        branch:
            conv 1x1 stride=s as "conv_scale.conv"
            bn as "conv_scale.bn"
    relu
"""
    for n, s, branches in ((4, 1, 6), (1, 1, 3), (2, 2, 3)):
        net = specgen.compile(spec, {"n": n, "s": s})
        rep = net.ir.body.children[0][1]
        assert len(rep.branches) == branches
        assert net.cost.params == n * (8 * 8 * 9 + 16) + (8 * 8 + 16) + (16 if s == 1 else 0)
    model = specgen.compile(spec).to_torch()
    keys = [k for k in model.state_dict() if k.endswith(".weight") or k == "identity.weight"]
    assert keys == ["identity.weight"] + [
        f"conv_kxk.{i}.{part}.weight" for i in range(4) for part in ("conv", "bn")
    ] + ["conv_scale.conv.weight", "conv_scale.bn.weight"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    split:\n        for i in range(2):\n            branch:\n                relu\n",
            "works in add, rep and concat",
        ),
        (
            "    add:\n        for i in range(2):\n            relu\n            branch:\n"
            "                relu\n",
            "holds `branch:` lines only",
        ),
    ],
)
def test_branches_of_a_for_are_located_mistakes(body, message):
    with pytest.raises(specgen.SpecError, match=message) as info:
        specgen.compile("network n\ninput 8x8x8\nlayers:\n" + body)
    assert info.value.diagnostics[0].span.line in (5, 6)
