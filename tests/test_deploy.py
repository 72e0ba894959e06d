"""The deploy form (issue 10, part 1): every BatchNorm after a conv or fc folded into it.
Costs against PyTorch's own count of the deploy module, outputs against the eager model in
eval mode with random BatchNorm statistics (max relative difference <= 1e-5)."""

from __future__ import annotations

import copy

import pytest
from conftest import EXAMPLES

import specgen
from specgen import ir
from specgen.cost import walk
from specgen.deploy import fold_torch, folded_paths

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
    # counts: the compiler's, PyTorch's, and eager less BN weights plus the new biases
    modules = dict(eager.named_modules())
    removed = sum(2 * modules[bn].num_features for _, bn in folded_paths(net.ir))
    added = sum(modules[c].out_channels if isinstance(modules[c], torch.nn.Conv2d)
                else modules[c].out_features
                for c, _ in folded_paths(net.ir) if modules[c].bias is None)  # fmt: skip
    torch_count = sum(p.numel() for p in deploy.parameters())
    assert deploy_net.cost.params == torch_count == net.cost.params - removed + added
    assert deploy_net.cost.macs == net.cost.macs
    left = [m for m in deploy.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if "igc" not in name:  # a BatchNorm after igc's permutation is not folded
        assert not left
    # fuse() on the generated module folds in place to the same weights, bit for bit
    fused = copy.deepcopy(eager).train()
    assert fused.fuse() is fused and not fused.training
    assert fused.state_dict().keys() == state.keys()
    assert all(torch.equal(fused.state_dict()[k], v) for k, v in state.items())
    assert len([m for m in fused.modules() if isinstance(m, torch.nn.BatchNorm2d)]) == len(left)
    before = {k: v.clone() for k, v in fused.state_dict().items()}
    fused.fuse()  # twice changes nothing
    assert all(torch.equal(fused.state_dict()[k], v) for k, v in before.items())
    x = torch.randn(2, *net.input_shape.as_list())
    with torch.no_grad():
        a, b, c = eager(x), deploy(x), fused(x)
    assert a.shape == b.shape == c.shape
    assert ((a - b).abs().max() / a.abs().max()).item() <= 1e-5
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
    assert r.code == 0 and "nn.BatchNorm" not in r.out and "nn.Conv2d(" in r.out


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
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
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
