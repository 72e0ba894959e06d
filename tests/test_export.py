"""torch.compile (inductor), torch.export and ONNX of the deploy form (issue 10, item 3).

Compiling every example at full size takes many minutes on two cores, so CI checks one small
network, ZOO, that uses every op kind the examples use (a test below keeps it that way), in
the deploy form with calibrated BatchNorm statistics, NCHW and channels_last; the full-size
run of every example is bench/export_all.py (figures in docs/targets.md); the small examples
(conftest.SMALL) are exported here as they are.  Outputs are compared with the deploy
module in eager mode: max|got - eager| <= 1e-5 · max|eager|.
"""

from __future__ import annotations

import re
import warnings

import pytest
from conftest import EXAMPLES, SMALL

import specgen
from specgen.targets.deploy import fold_torch

torch = pytest.importorskip("torch")

TOLERANCE = 1e-5  # relative to the output's largest magnitude

# One layer or block of each kind the examples use, at 32x32 so that inductor compiles it in
# seconds: group conv and shuffle (ShuffleNet V1 unit and down block, with concat and
# avgpool), split (ShuffleNet V2), igc and the BatchNorm after it (folded into its secondary
# conv), a ConvNeXt block (layernorm, linear, gelu, layer scale) and a RepVGG block (a rep:
# merged into one conv), sepconv with
# relu6, se with hsigmoid gate and hswish (MobileNet V3) or silu (EfficientNet), prelu
# (MobileFaceNet), a residual with a projection shortcut, a dwconv with multiplier, maxpool
# with padding=same (Xception), gdc and gap under add, flatten, fc, dropout, softmax.
ZOO = """\
network zoo(g=4, classes=10)
input 3x32x32

block shuffle_unit(g):
    residual:
        conv 1x1 out=in/4 group=g bn relu
        shuffle group=g
        dwconv 3x3 bn
        conv 1x1 out=in group=g bn
        droppath 0.1
    relu

block shuffle_down(out, g):
    concat:
        avgpool 3x3 stride=2
        branch:
            conv 1x1 out=(out - in)/4 group=g bn relu
            shuffle group=g
            dwconv 3x3 stride=2 bn
            conv 1x1 out=out - in group=g bn
    relu

block v2_unit:
    split:
        identity
        branch:
            conv 1x1 bn relu
            dwconv 3x3 bn
            conv 1x1 bn relu
    shuffle group=2

block v3_bneck(exp):
    residual:
        conv 1x1 out=exp bn hswish
        dwconv 5x5 bn hswish
        se (exp // 4) gate=hsigmoid
        conv 1x1 out=in bn

block mbconv(exp):
    residual:
        conv 1x1 out=exp bn silu
        dwconv 3x3 bn silu
        se max(1, in // 4) act=silu
        conv 1x1 out=in bn

block face(t):
    residual:
        conv 1x1 out=t*in bn prelu
        dwconv 3x3 bn prelu
        conv 1x1 out=in bn

block cn:
    let c = in
    residual:
        dwconv 7x7 layernorm(1e-6)
        linear out=4 * c gelu
        linear out=c
        layerscale(1e-6) as "layer_scale"

block repvgg:
    rep:
        bn
        conv 3x3 bn
        conv 1x1 bn
    relu

layers:
    conv 3x3 out=16 stride=2 bn prelu
    shuffle_down(48, g)
    shuffle_unit(g)
    v2_unit
    igc 3x3 M=2 L=24 bn relu
    sepconv 3x3 out=48 bn relu6
    v3_bneck(96)
    mbconv(96)
    face(2)
    cn
    repvgg
    residual:
        conv 3x3 out=64 stride=2 bn relu
        conv 3x3 out=64 bn
        shortcut:
            conv 1x1 out=64 stride=2 bn
    dwconv 3x3 multiplier=2 bn relu
    maxpool 3x3 stride=2 padding=same
    add:
        gdc bn
        gap
    flatten
    fc 64 hswish dropout(0.2)
    fc classes softmax
"""

LAYOUTS = ["nchw", "channels_last"]
NAMES = sorted(p.name for p in EXAMPLES.glob("*.conv"))
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    """Each case compiles from scratch: no cached graph or guard of an earlier case."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def calibrate(model: torch.nn.Module, batch: torch.Tensor) -> None:
    """BatchNorm statistics of a trained model: the batch's own means and variances (so that
    the signal neither dies nor explodes through the random weights and the output still
    depends on the input), random affine weights; then eval mode."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            m.reset_running_stats()
            m.momentum = None  # a plain average over the calibration batch
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    with torch.no_grad():
        model.train()(batch)
    model.eval()


def deploy_case(net, layout: str = "nchw", device: str = "cpu", batch: int = 2):
    """(deploy module with the folded weights of a calibrated eager model, input, the deploy
    module's eager output, the eager model's output)."""
    torch.manual_seed(0)
    shape = net.input_shape.as_list()
    eager = net.to_torch()
    calibrate(eager, torch.randn(16, *shape))
    model = net.deploy().to_torch().eval()
    model.load_state_dict(fold_torch(net.ir, eager.state_dict()))
    x = torch.randn(batch, *shape)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    eager, model = eager.to(device), model.to(device, memory_format=fmt)
    x = x.to(device).contiguous(memory_format=fmt)
    with torch.no_grad():
        return model, x, model(x), eager(x)


def rel_diff(got, expected) -> float:
    """max|got - expected| / max|expected|, on CPU."""
    got = torch.as_tensor(got).detach().cpu()
    expected = expected.detach().cpu()
    assert got.shape == expected.shape
    return ((got - expected).abs().max() / expected.abs().max()).item()


def batch_norms(graph) -> list[str]:
    """The batch_norm calls of an FX graph (any overload: aten.batch_norm,
    _native_batch_norm_legit_no_training, ...)."""
    return [
        str(n.target)
        for n in graph.nodes
        if n.op == "call_function" and "batch_norm" in str(n.target)
    ]


@pytest.fixture(scope="module")
def zoo():
    return specgen.compile(ZOO)


# ---- the zoo stands for the examples ---------------------------------------------------------

_KIND = re.compile(
    r"\b(?:nn\.functional\.\w+|nn\.\w+|torch\.\w+|channel_shuffle|ChannelShuffle"
    r"|InterleavedGroupConv|SqueezeExcitation)\(|\.chunk\(|\.split\(| \+ |groups=|stride=2"
    r"|padding=\(|multiplier"
)


def _kinds(code: str) -> set[str]:
    """The modules, functions, tensor methods, sums and conv arguments a generated PyTorch
    file uses."""
    return set(_KIND.findall(code))


def test_zoo_uses_every_op_kind_of_the_examples(zoo):
    zoo_code = zoo.deploy().emit("torch")
    kinds = _kinds(zoo_code)
    assert {"channel_shuffle(", "InterleavedGroupConv(", "SqueezeExcitation(", ".chunk("} <= kinds
    for name in NAMES:
        missing = _kinds(specgen.compile(EXAMPLES / name).deploy().emit("torch")) - kinds
        # torch.flatten (after gap) and nn.Flatten (the zoo's) are the same reshape
        assert missing <= {"torch.flatten("}, f"{name} uses {sorted(missing)}; add it to ZOO"


def test_zoo_output_depends_on_its_input(zoo):
    """The checks below are only as strong as the output is sensitive: two inputs must give
    outputs far further apart than the tolerance, and the deploy form must equal eager."""
    _, x, y, eager_y = deploy_case(zoo)
    assert rel_diff(y[0], y[1]) > 1e3 * TOLERANCE
    assert rel_diff(y, eager_y) <= TOLERANCE


# ---- torch.compile -----------------------------------------------------------------------------


@pytest.mark.slow  # inductor compiles C++ kernels: ~50 s cold on two busy cores, ~5 s warm
@pytest.mark.parametrize("layout", LAYOUTS)
def test_inductor_matches_eager(zoo, layout):
    model, x, expected, _ = deploy_case(zoo, layout)
    torch._dynamo.utils.counters.clear()
    with torch.no_grad():
        got = torch.compile(model, backend="inductor")(x)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1  # no graph break
    assert rel_diff(got, expected) <= TOLERANCE


@pytest.mark.gpu
@CUDA
@pytest.mark.parametrize("layout", LAYOUTS)
def test_inductor_matches_eager_on_cuda(zoo, layout, monkeypatch):
    # full float32 on both sides: TF32 convolutions would differ by ~1e-3
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    model, x, expected, _ = deploy_case(zoo, layout, device="cuda", batch=8)
    with torch.no_grad():
        got = torch.compile(model, backend="inductor")(x)
        torch.cuda.synchronize()
    assert got.device.type == "cuda"
    assert rel_diff(got, expected) <= TOLERANCE


def test_channel_shuffle_branch_makes_no_graph_break_and_guards_on_layout(zoo):
    """channel_shuffle branches on x.is_contiguous(memory_format=channels_last): dynamo
    evaluates it from the input's strides (which it guards on anyway), so the whole network
    is one graph per layout, and switching layout recompiles once rather than computing
    wrongly.  The eager backend: what is checked is dynamo's tracing, not code generation."""
    model, x, expected, _ = deploy_case(zoo)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    torch._dynamo.utils.counters.clear()
    compiled = torch.compile(model, backend="eager", fullgraph=True)  # a break would raise
    with torch.no_grad():
        assert rel_diff(compiled(x), expected) <= TOLERANCE
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
        assert rel_diff(compiled(x_cl), expected) <= TOLERANCE
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 2
        compiled(x)  # the first graph is still there: no third compile
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 2


# ---- torch.export ------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_export_matches_eager_and_folds_every_batchnorm(zoo, layout):
    model, x, expected, _ = deploy_case(zoo, layout)
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        assert rel_diff(program.module()(x), expected) <= TOLERANCE
    # every BatchNorm folded, the one after the igc through its permutation
    assert len(batch_norms(program.graph)) == 0
    # DeployConv2d exports as a plain convolution, not as its oneDNN inference path
    assert "mkldnn" not in str(program.graph)
    assert sum("conv2d" in str(n.target) for n in program.graph.nodes) >= 30
    assert [n for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)] == []
    # the same count on the eager model finds all of them: the check can fail
    eager = zoo.to_torch().eval()
    eager_program = torch.export.export(eager, (torch.randn(2, 3, 32, 32),))
    bns = sum(isinstance(m, torch.nn.BatchNorm2d) for m in eager.modules())
    assert len(batch_norms(eager_program.graph)) == bns > 20


def test_exported_program_takes_either_layout_and_any_batch(zoo):
    """The layout branch of channel_shuffle is resolved when exporting; both of its paths
    compute the same function, so the program is right for inputs of the other layout too,
    and a dynamic batch dimension exports without a guard on it."""
    model, x, expected, _ = deploy_case(zoo)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    batch = torch.export.Dim("batch", max=1024)
    for example, other in ((x, x_cl), (x_cl, x)):
        program = torch.export.export(model, (example,), dynamic_shapes={"x": {0: batch}})
        with torch.no_grad():
            assert rel_diff(program.module()(other), expected) <= TOLERANCE
            assert rel_diff(program.module()(other[:1]), expected[:1]) <= TOLERANCE
            assert program.module()(torch.randn(5, 3, 32, 32)).shape == (5, 10)


@pytest.mark.parametrize("name", SMALL)
def test_small_examples_export_in_deploy_form(name):
    net = specgen.compile(EXAMPLES / name)
    model = net.deploy().to_torch().eval()
    x = torch.randn(1, *net.input_shape.as_list())
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        assert rel_diff(program.module()(x), model(x)) <= TOLERANCE
    left = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert len(batch_norms(program.graph)) == left
    assert left == 0  # (a BatchNorm after an igc folds into its secondary conv)


# ---- ONNX (dynamo exporter) + onnxruntime --------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_onnx_matches_eager(zoo, layout, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    model, x, expected, _ = deploy_case(zoo, layout)
    path = tmp_path / "zoo.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracing chatter
        program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
    program.save(str(path))
    ops = [n.op_type for n in program.model_proto.graph.node]
    assert ops.count("BatchNormalization") == 0  # (the one after the igc folds too)
    assert ops.count("Conv") >= 30
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.cpu().numpy()})
    # onnxruntime's own kernels (MLAS) sum in another order: ~1e-7 of the output here
    assert rel_diff(got, expected) <= TOLERANCE
