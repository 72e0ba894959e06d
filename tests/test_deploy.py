"""The deploy form (issue 10, part 1): every BatchNorm after a conv or fc folded into it.
Costs against PyTorch's own count of the deploy module, outputs against the eager model in
eval mode with random BatchNorm statistics (max relative difference <= 1e-5)."""

from __future__ import annotations

import copy
import pickle
import sys

import pytest
from conftest import EXAMPLES

import specgen
from specgen import ir
from specgen.passes.cost import walk
from specgen.passes.fold import folded_paths, merged_reps
from specgen.targets.deploy import fold_torch, needs_torch

torch = pytest.importorskip("torch")

NAMES = sorted(p.name for p in EXAMPLES.glob("*.conv"))


def _randomize_batchnorms(model) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("name", NAMES)
def test_deploy_form_is_exact(name):
    torch.manual_seed(0)
    net = specgen.compile(EXAMPLES / name)
    eager = net.to_torch().eval()
    _randomize_batchnorms(eager)
    deploy_net = net.deploy()
    deploy = deploy_net.to_torch().eval()
    state = fold_torch(net.ir, eager.state_dict())
    deploy.load_state_dict(state)  # strict: the same names, less the folded BatchNorms
    torch_count = sum(p.numel() for p in deploy.parameters())
    assert deploy_net.cost.params == torch_count
    if merged_reps(net.ir):  # a `rep:` is one conv: PyTorch's count of the deploy module's MACs
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:  # autograd on: aten's own convs
            deploy(torch.zeros(1, *net.input_shape.as_list()))
        assert deploy_net.cost.macs == counter.get_total_flops() // 2 < net.cost.macs
    else:
        # the eager count less BN weights plus the new biases: a BatchNorm takes 2·C params
        # with it and gives a conv without one a bias; a layer scale takes its C factors
        layers = dict(walk(net.ir.body))
        removed = sum(
            (2 if type(layers[bn]) is ir.BatchNorm else 1) * layers[bn].out_shape.c
            for _, bn in folded_paths(net.ir)
        )
        added = sum(
            layers[c].out_shape.c
            for c, bn in folded_paths(net.ir)
            if not layers[c].bias and type(layers[bn]) is ir.BatchNorm
        )
        assert torch_count == net.cost.params - removed + added
        assert deploy_net.cost.macs == net.cost.macs
    left = [m for m in deploy.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not left  # (a BatchNorm after igc folds into its secondary conv)
    x = torch.randn(2, *net.input_shape.as_list())
    with torch.no_grad():
        a, b = eager(x), deploy(x)
    assert a.shape == b.shape
    assert ((a - b).abs().max() / a.abs().max()).item() <= 1e-5
    if needs_torch(net.ir):  # a rep:, layer scales, igc's BatchNorms: fuse() folds BNs only
        return
    # fuse() on the generated module folds in place to the same weights, bit for bit
    fused = copy.deepcopy(eager).train()
    assert fused.fuse() is fused and not fused.training
    assert fused.state_dict().keys() == state.keys()
    assert all(torch.equal(fused.state_dict()[k], v) for k, v in state.items())
    assert len([m for m in fused.modules() if isinstance(m, torch.nn.BatchNorm2d)]) == len(left)
    before = {k: v.clone() for k, v in fused.state_dict().items()}
    fused.fuse()  # twice changes nothing
    assert all(torch.equal(fused.state_dict()[k], v) for k, v in before.items())
    with torch.no_grad():
        c = fused(x)
    assert ((a - c).abs().max() / a.abs().max()).item() <= 1e-5


def test_fold_keeps_names_and_sharing():
    net = specgen.compile(EXAMPLES / "shufflenet_v1.conv")
    eager_keys = set(net.to_torch().state_dict())
    deploy_keys = set(net.deploy().to_torch().state_dict())
    pairs = folded_paths(net.ir)
    assert ("unit1.conv1", "unit1.bn1") in pairs
    bn_keys = {k for k in eager_keys if k.rsplit(".", 1)[0] in {bn for _, bn in pairs}}
    biases = {f"{c}.bias" for c, _ in pairs}
    assert deploy_keys == (eager_keys - bn_keys) | biases


def test_cli_deploy(cli):
    r = cli("cost", str(EXAMPLES / "shufflenet_v1.conv"), "--deploy", "--format", "json")
    assert r.code == 0
    assert '"params": 1853488' in r.out
    r = cli("build", str(EXAMPLES / "shufflenet_v1.conv"), "--target", "torch", "--deploy")
    assert r.code == 0 and "nn.BatchNorm" not in r.out and "DeployConv2d(" in r.out
    assert 'activation="relu"' in r.out


def _randomize_keras_batchnorms(model, rng) -> None:
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype(gamma.dtype),
                rng.uniform(-0.5, 0.5, beta.shape).astype(beta.dtype),
                rng.uniform(-1, 1, mean.shape).astype(mean.dtype),
                rng.uniform(0.5, 2.0, var.shape).astype(var.dtype),
            ])  # fmt: skip


@pytest.mark.parametrize("split_groups", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_keras_deploy_form_is_exact(name, split_groups):
    """net.fuse_keras(model): a Keras model without the folded BatchNorms, weights folded
    from the eager model's; the same outputs in inference mode; the compiler's count."""
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    net = specgen.compile(EXAMPLES / name)
    if split_groups and not any(
        type(n) is ir.Conv and 1 < n.groups < n.in_shape.c for _, n in walk(net.ir.body)
    ):
        pytest.skip("no group convolution to split")
    rng = np.random.default_rng(0)
    eager = net.to_keras(split_groups=split_groups)
    _randomize_keras_batchnorms(eager, rng)
    deploy = net.fuse_keras(eager)
    kinds = [type(layer).__name__ for layer in deploy.layers]
    if "igc" not in name:
        assert "BatchNormalization" not in kinds
    assert deploy.count_params() == net.deploy().cost.params + _keras_bn_statistics(deploy)
    shape = net.input_shape
    x = rng.standard_normal((2, shape.h, shape.w, shape.c)).astype("float32")
    a = keras.ops.convert_to_numpy(eager(x, training=False))
    b = keras.ops.convert_to_numpy(deploy(x, training=False))
    assert a.shape == b.shape
    assert np.abs(a - b).max() / np.abs(a).max() <= 1e-5


def _keras_bn_statistics(model) -> int:
    """Keras counts a BatchNorm's moving statistics among its parameters; specgen does not."""
    return sum(
        2 * layer.weights[0].shape[0]
        for layer in model.layers
        if type(layer).__name__ == "BatchNormalization"
    )


@pytest.mark.parametrize("name", ["shufflenet_v1.conv", "shufflenet_v2.conv", "igc_cifar.conv"])
def test_channels_last_keeps_the_layout(name):
    """to_torch(channels_last=True): every module's 4-D output stays channels_last (the
    shuffle, igc's permutations and the split's consumers included; an nn.Identity passes
    on a split's half, a strided view, as it is), same outputs as NCHW."""
    torch.manual_seed(0)
    net = specgen.compile(EXAMPLES / name)
    nchw = net.to_torch().eval()
    model = net.to_torch(channels_last=True).eval()
    model.load_state_dict(nchw.state_dict())
    first = "conv1.0" if name == "shufflenet_v2.conv" else "conv1"  # torchvision's name
    assert model.get_submodule(first).weight.is_contiguous(memory_format=torch.channels_last)
    lost = []

    def hook(module, args, out):
        if (
            type(module) is not torch.nn.Identity
            and isinstance(out, torch.Tensor)
            and out.dim() == 4
            and min(out.shape[1:]) > 1
            and not out.is_contiguous(memory_format=torch.channels_last)
        ):
            lost.append(type(module).__name__)

    for m in model.modules():
        m.register_forward_hook(hook)
    x = torch.randn(1, *net.input_shape.as_list())
    with torch.no_grad():
        a = nchw(x)
        b = model(x.contiguous(memory_format=torch.channels_last))
    assert lost == []
    assert ((a - b).abs().max() / a.abs().max()).item() <= 1e-5


# ---- DeployConv2d: packed oneDNN weights and fused activations (the deploy form's speed) ----

MAP_NET = """\
network maps
input 8x12x12
layers:
    conv 3x3 out=16 bn relu
    dwconv 3x3 stride=2 bn relu6
    conv 1x1 out=24 bn
    sepconv 3x3 out=16 relu
"""


def _deploy_pair(text_or_path, seed: int = 0):
    """(network, eager model with random BatchNorm statistics, its deploy form loaded)."""
    torch.manual_seed(seed)
    net = specgen.compile(text_or_path)
    eager = net.to_torch().eval()
    _randomize_batchnorms(eager)
    deploy = net.deploy().to_torch().eval()
    deploy.load_state_dict(fold_torch(net.ir, eager.state_dict()))
    return net, eager, deploy


def _convs(model) -> list:
    return [m for m in model.modules() if type(m).__name__ == "DeployConv2d"]


def _onednn(model) -> bool:
    return sys.modules[type(model).__module__].ONEDNN


def _rel(a, b) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def _sequences(node: ir.Node) -> list:
    """The children of every sequence in `node`: residual bodies and shortcuts, branches,
    block and sepconv bodies (a block once per call, as the modules are made)."""
    t = type(node)
    if t is ir.Seq:
        return [node.children] + [s for _, c in node.children for s in _sequences(c)]
    if t in (ir.Block, ir.SepConv):
        return _sequences(node.body)
    if t is ir.Residual:
        return _sequences(node.body) + (_sequences(node.shortcut) if node.shortcut else [])
    if t in (ir.Add, ir.Concat, ir.Split):
        return [s for _, b in node.branches for s in _sequences(b)]
    return []


@pytest.mark.parametrize("name", NAMES)
def test_deploy_convs_fuse_the_activation_after_them(name):
    """Every conv of the deploy form is a DeployConv2d; each one a ReLU or ReLU6 follows in
    the IR takes it in (`activation=`) and the activation has no module left."""
    net = specgen.compile(EXAMPLES / name).deploy()
    model = net.to_torch()
    fusable = sum(
        type(a) is ir.Conv and type(b) is ir.Act and b.kind in ("relu", "relu6")
        for kids in _sequences(net.ir.body)
        for (_, a), (_, b) in zip(kids, kids[1:], strict=False)
    )
    convs = _convs(model)
    plain = [m for m in model.modules() if type(m) is torch.nn.Conv2d]
    # only igc's and se's own two convs stay nn.Conv2d
    assert len(plain) == 2 * sum(type(n) in (ir.IGC, ir.SE) for _, n in walk(net.ir.body))
    assert len(convs) == sum(type(n) is ir.Conv for _, n in walk(net.ir.body))
    assert sum(m.activation != "none" for m in convs) == fusable
    acts = sum(isinstance(m, torch.nn.ReLU | torch.nn.ReLU6) for m in model.modules())
    eager_acts = sum(
        isinstance(m, torch.nn.ReLU | torch.nn.ReLU6)
        for m in specgen.compile(EXAMPLES / name).to_torch().modules()
    )
    assert acts == eager_acts - fusable


def _packed(model) -> list[bool]:
    """Per DeployConv2d, whether it holds a weight packed for oneDNN."""
    return [m._packed is not None and m._packed[-1] is not None for m in _convs(model)]


def test_onednn_path_is_taken_and_exact_and_autograd_falls_back():
    net, eager, deploy = _deploy_pair(MAP_NET)
    x = torch.randn(3, 8, 12, 12)
    with torch.no_grad():
        expected = eager(x)
        fast = deploy(x)
    onednn = _onednn(deploy)
    assert _packed(deploy) == [onednn] * 5  # every conv packed its weight, once
    assert _rel(fast, expected) <= 1e-5
    slow = deploy(x)  # autograd on: nn.Conv2d's path, and it trains
    assert slow.requires_grad and _rel(slow, expected) <= 1e-5
    slow.sum().backward()
    assert all(m.weight.grad is not None for m in _convs(deploy))
    assert _packed(deploy) == [onednn] * 5  # kept for the next inference call
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        off = deploy(x)
    assert _rel(off, expected) <= 1e-5
    with torch.no_grad():  # another dtype: PyTorch's path, and the packed copies go
        double = deploy.double()(x.double())
    assert _rel(double.float(), expected) <= 1e-5 and _packed(deploy) == [False] * 5


def test_small_single_images_take_pytorchs_own_kernel():
    """A oneDNN call costs ~20 us; PyTorch computes one small image through an ungrouped
    conv without oneDNN in a few: those calls keep nn.Conv2d's path (no packed copy)."""
    net, eager, deploy = _deploy_pair(MAP_NET)
    x = torch.randn(1, 8, 12, 12)
    with torch.inference_mode():
        assert _rel(deploy(x), eager(x)) <= 1e-5
    grouped = [m.groups > 1 for m in _convs(deploy)]
    assert grouped == [False, True, False, True, False]  # conv, dwconv, conv, sepconv dw/pw
    assert _packed(deploy) == [g and _onednn(deploy) for g in grouped]
    big = torch.randn(1, 8, 96, 96)  # over 20,480 input values at every conv: packed
    with torch.inference_mode():
        assert _rel(deploy(big), eager(big)) <= 1e-5
    assert _packed(deploy) == [_onednn(deploy)] * 5


def test_map_output_keeps_the_input_layout():
    """oneDNN's convolutions with packed weights write channels_last; the network gives its
    output back in the layout its input came in."""
    net, eager, deploy = _deploy_pair(MAP_NET)
    x = torch.randn(2, 8, 12, 12)
    with torch.inference_mode():
        expected = eager(x)
        nchw = deploy(x)
        last = deploy(x.contiguous(memory_format=torch.channels_last))
    assert nchw.shape == expected.shape == (2, 16, 6, 6)
    assert nchw.is_contiguous()
    assert last.is_contiguous(memory_format=torch.channels_last) and not last.is_contiguous()
    assert _rel(nchw, expected) <= 1e-5 and _rel(last, expected) <= 1e-5
    if _onednn(deploy):  # what makes the restoring necessary
        with torch.inference_mode():
            inner = deploy.conv1(x)
        assert inner.is_contiguous(memory_format=torch.channels_last)


def test_packed_weights_follow_new_weights_layouts_and_shapes():
    net, eager, deploy = _deploy_pair(MAP_NET)
    x = torch.randn(2, 8, 12, 12)
    with torch.inference_mode():
        before = deploy(x)
    # new weights (load_state_dict copies in place): the packed copies are re-made
    _, eager2, _ = _deploy_pair(MAP_NET, seed=1)
    deploy.load_state_dict(fold_torch(net.ir, eager2.state_dict()))
    with torch.inference_mode():
        expected = eager2(x)
        after = deploy(x)
    assert _rel(after, expected) <= 1e-5 and _rel(before, expected) > 1e-2
    with torch.no_grad():  # an in-place edit of one weight
        deploy.conv1.weight.mul_(2)
        eager2.conv1.weight.mul_(2)
        assert _rel(deploy(x), eager2(x)) <= 1e-5
    deploy = deploy.to(memory_format=torch.channels_last)  # new weight storage
    with torch.inference_mode():
        assert _rel(deploy(x), eager2(x)) <= 1e-5
        for shape in [(1, 8, 12, 12), (5, 8, 16, 10)]:  # other batches and sizes
            y = torch.randn(*shape)
            assert _rel(deploy(y), eager2(y)) <= 1e-5


def test_copies_pickles_and_state_dicts_leave_the_packed_weights_out():
    net, eager, deploy = _deploy_pair(MAP_NET)
    x = torch.randn(2, 8, 12, 12)
    with torch.inference_mode():
        expected = deploy(x)
    assert set(deploy.state_dict()) == set(net.deploy().to_torch().state_dict())
    copied = copy.deepcopy(deploy)
    clone = pickle.loads(pickle.dumps(deploy))
    assert all(m._packed is None for m in _convs(copied) + _convs(clone))
    assert _packed(deploy) == [_onednn(deploy)] * 5
    with torch.inference_mode():
        assert torch.equal(copied(x), expected) and torch.equal(clone(x), expected)


def test_scripting_tracing_and_fx_see_plain_convolutions():
    net, eager, deploy = _deploy_pair(MAP_NET)
    x = torch.randn(2, 8, 12, 12)
    with torch.no_grad():
        expected = eager(x)
        scripted = torch.jit.script(deploy)
        assert _rel(scripted(x), expected) <= 1e-5
        traced = torch.jit.trace(deploy, x)
        assert "mkldnn" not in str(traced.inlined_graph)
        assert str(traced.inlined_graph).count("aten::_convolution") == 5
        assert _rel(traced(x), expected) <= 1e-5
    graph = torch.fx.symbolic_trace(deploy).graph
    assert not [n for n in graph.nodes if "mkldnn" in str(n.target)]
    assert sum("conv2d" in str(n.target) for n in graph.nodes) == 5


def test_fuse_torch_is_fold_torch_loaded_into_the_deploy_module():
    net, eager, deploy = _deploy_pair(EXAMPLES / "shufflenet_v2.conv")
    fused = net.fuse_torch(eager.train())
    assert not fused.training and type(fused) is type(deploy)
    assert fused.state_dict().keys() == deploy.state_dict().keys()
    assert all(torch.equal(fused.state_dict()[k], v) for k, v in deploy.state_dict().items())
    x = torch.randn(1, *net.input_shape.as_list())
    with torch.inference_mode():
        assert _rel(fused(x), eager.eval()(x)) <= 1e-5


def test_deploy_conv_refuses_an_unknown_activation():
    model = specgen.compile(MAP_NET).deploy().to_torch()  # keeps its module registered
    module = sys.modules[type(model).__module__]
    with pytest.raises(ValueError, match="activation must be one of"):
        module.DeployConv2d(4, 4, 3, activation="gelu")
