"""Squeeze-and-excitation, TensorFlow's `same` and asymmetric padding, ceil_mode, adaptive
average pooling, softmax and the pools' default stride, checked against the frameworks' own
layers and counters: `parameters()` and FlopCounterMode on the generated module, PyTorch's
pooling modules, Keras' own Conv2D / MaxPooling2D / AveragePooling2D with padding="same",
torchvision's SqueezeExcitation (a copy of it when torchvision is absent), weight transfer and
`verify`.  Expected numbers are written out by hand or taken from the published counts (papers, torchvision 0.28).
"""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from conftest import EXAMPLES, compile_error, compile_text, layer_rows  # noqa: E402

import specgen  # noqa: E402

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from torchvision_import import import_torchvision  # noqa: E402

# ---- helpers ---------------------------------------------------------------------------------


def _run_torch(net, x):
    """(output, {row name: output shape}, params, MACs by FlopCounterMode) of the generated
    module; every layer row is a module path, so a hook on each gives its shape."""
    model = net.to_torch().eval()
    shapes = {}
    hooks = [
        model.get_submodule(row.name).register_forward_hook(
            lambda _m, _i, out, name=row.name: shapes.__setitem__(name, tuple(out.shape[1:]))
        )
        for row in net.cost.layers
    ]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    for h in hooks:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    return y, shapes, params, counter.get_total_flops() // 2


def _as_shape(row) -> tuple[int, ...]:
    o = row.output
    return (o.c, o.h, o.w)


def _keras():
    return pytest.importorskip("keras")


class ReferenceSqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation (torchvision 0.28, ops/misc.py), for when
    torchvision is not installed: the same modules under the same names, the same forward."""

    def __init__(
        self, input_channels, squeeze_channels, activation=nn.ReLU, scale_activation=nn.Sigmoid
    ):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, input):
        scale = self.avgpool(input)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale) * input


def _torchvision_se():
    """torchvision.ops.SqueezeExcitation, or None (see tests/torchvision_import.py)."""
    return getattr(import_torchvision("torchvision.ops"), "SqueezeExcitation", None)


# ---- costs and shapes against PyTorch's counters ---------------------------------------------

ALL_NEW = """\
network allnew
input 16x10x10
layers:
    conv 3x3 out=32 stride=2 padding=same bn relu     # TF: 10 -> 5, pads (0, 1): asymmetric
    se 8                                               # relu, sigmoid
    conv 3x3 out=32 padding=[0, 2, 1, 1]               # explicit asymmetric: 5x5 -> 5x5
    dwconv 3x3 stride=2 padding=same                   # 5 -> 3, pads (1, 1)
    se make_divisible(in // 4, 8) act=silu gate=hsigmoid
    sepconv 3x3 out=24 padding=same bn relu
    igc 3x3 M=2 L=12 stride=2 padding=same            # 3 -> 2, pads (1, 1)
    maxpool 2x2 stride=1 padding=same                  # pads (0, 1) with -inf
    avgpool 2x2 stride=1 padding=same                  # padding left out of the average
    maxpool 3x3 stride=2 padding=1 ceil_mode           # 2 -> 2 (floor mode gives 1)
    avgpool 3x3 stride=2 padding=1 ceil_mode
    adaptiveavgpool 3x3                                # 2x2 -> 3x3: PyTorch's overlapping windows
    flatten
    fc 10 softmax
"""


def test_every_new_op_is_costed_as_pytorch_counts_it():
    net = compile_text(ALL_NEW)
    x = torch.randn(1, 16, 10, 10)
    y, shapes, params, macs = _run_torch(net, x)
    assert params == net.cost.params
    assert macs == net.cost.macs
    rows = layer_rows(net)
    for name, row in rows.items():
        if row.op == "fc" or row.op == "softmax" or row.op == "flatten":
            assert shapes[name] == (row.output.c,), name
        else:
            assert shapes[name] == _as_shape(row), name
    assert tuple(y.shape) == (1, 10)
    torch.testing.assert_close(y.sum(dim=1), torch.ones(1))  # softmax over the classes
    # the shapes, by hand
    assert _as_shape(rows["conv1"]) == (32, 5, 5)
    assert _as_shape(rows["conv2"]) == (32, 5, 5)
    assert _as_shape(rows["dwconv1"]) == (32, 3, 3)
    assert _as_shape(rows["igc1"]) == (24, 2, 2)
    assert _as_shape(rows["maxpool1"]) == (24, 2, 2)
    assert _as_shape(rows["maxpool2"]) == (24, 2, 2)
    assert _as_shape(rows["adaptiveavgpool1"]) == (24, 3, 3)
    # se: two 1x1 convs with bias on the pooled map, C·s + s·C MACs; the scale counts 0
    assert (rows["se1"].params, rows["se1"].macs) == (2 * 32 * 8 + 8 + 32, 2 * 32 * 8)
    assert (rows["se2"].params, rows["se2"].macs) == (2 * 32 * 8 + 8 + 32, 2 * 32 * 8)
    for op in ("maxpool", "avgpool", "adaptiveavgpool", "softmax"):
        assert all((r.params, r.macs) == (0, 0) for r in rows.values() if r.op == op)


def test_squeeze_excitation_cost_json_and_activation_memory():
    net = compile_text("network n\ninput 96x14x14\nlayers:\n    se 24 gate=hsigmoid\n")
    (row,) = net.cost.layers
    assert (row.op, row.params, row.macs) == ("se", 96 * 24 * 2 + 24 + 96, 96 * 24 * 2)
    assert row.activations == 96 * 14 * 14
    from specgen.tools.report import to_dict

    assert to_dict(net)["layers"][0]["op"] == "se"


# ---- squeeze-and-excitation against torchvision ----------------------------------------------

SE_VARIANTS = [
    ("relu", "sigmoid", {}),
    ("relu", "hsigmoid", {"scale_activation": nn.Hardsigmoid}),  # MobileNet V3
    ("silu", "sigmoid", {"activation": nn.SiLU}),  # EfficientNet
    ("hswish", "hardsigmoid", {"activation": nn.Hardswish, "scale_activation": nn.Hardsigmoid}),
]


def _se_against(reference_class, act, gate, kwargs):
    net = compile_text(f"network n\ninput 40x7x7\nlayers:\n    se 16 act={act} gate={gate}\n")
    model = net.to_torch().eval()
    torch.manual_seed(0)
    ref = reference_class(40, 16, **kwargs).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_()
    # torchvision's state dict loads into the generated module as it is, names and all
    model.se1.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(3, 40, 7, 7) * 3
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))
    assert type(model.se1.activation) is type(ref.activation)
    assert type(model.se1.scale_activation) is type(ref.scale_activation)


@pytest.mark.parametrize("act, gate, kwargs", SE_VARIANTS, ids=lambda v: str(v))
def test_se_is_torchvision_squeeze_excitation(act, gate, kwargs):
    _se_against(ReferenceSqueezeExcitation, act, gate, kwargs)


def test_se_loads_torchvision_weights_when_torchvision_is_installed():
    cls = _torchvision_se()
    if cls is None:
        pytest.skip("torchvision is not installed")
    for act, gate, kwargs in SE_VARIANTS:
        _se_against(cls, act, gate, kwargs)


MOBILENET_V3_LARGE = (EXAMPLES / "mobilenet_v3.conv").read_text(encoding="utf-8")
EFFICIENTNET_B0 = (EXAMPLES / "efficientnet.conv").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "text, params, macs",
    [
        (MOBILENET_V3_LARGE, 5_483_032, 216_589_760),  # torchvision 0.28, weights=None
        (EFFICIENTNET_B0, 5_288_548, 385_814_752),
    ],
    ids=["mobilenet_v3_large", "efficientnet_b0"],
)
def test_networks_with_se_have_torchvision_counts(text, params, macs):
    net = compile_text(text)
    assert (net.cost.params, net.cost.macs) == (params, macs)
    if "mobilenet" in text:  # one build: the module agrees with the counters too
        y, _, got_params, got_macs = _run_torch(net, torch.randn(1, 3, 224, 224))
        assert (got_params, got_macs) == (params, macs)
        assert tuple(y.shape) == (1, 1000)


# ---- the pools' stride, and AlexNet as torchvision writes it -----------------------------------

TORCHVISION_ALEXNET = """\
network alexnet(classes=1000)
input 3x224x224
layers:
    conv 11x11 out=64 stride=4 padding=2 relu
    maxpool 3x3 stride=2 padding=0        # nn.MaxPool2d(kernel_size=3, stride=2)
    conv 5x5 out=192 padding=2 relu
    maxpool 3x3 stride=2 padding=0
    conv 3x3 out=384 relu
    conv 3x3 out=256 relu
    conv 3x3 out=256 relu
    maxpool 3x3 stride=2 padding=0
    adaptiveavgpool 6x6                   # the identity on the 6x6 map
    flatten
    dropout
    fc 4096 relu dropout
    fc 4096 relu
    fc classes
"""


def test_pool_stride_defaults_to_the_kernel():
    rows = layer_rows(compile_text("network n\ninput 4x8x8\nlayers:\n    maxpool 2x2\n"))
    assert _as_shape(rows["maxpool1"]) == (4, 4, 4)  # as nn.MaxPool2d(2) and MaxPooling2D(2)
    rows = layer_rows(compile_text("network n\ninput 4x9x9\nlayers:\n    avgpool 3x3 padding=0\n"))
    assert _as_shape(rows["avgpool1"]) == (4, 3, 3)
    rows = layer_rows(compile_text("network n\ninput 4x8x8\nlayers:\n    maxpool 3x3 stride=1\n"))
    assert _as_shape(rows["maxpool1"]) == (4, 8, 8)


def test_torchvision_alexnet_transcribed_with_default_pool_strides():
    net = compile_text(TORCHVISION_ALEXNET)
    assert net.cost.params == 61_100_840  # torchvision.models.alexnet: 61.1 M
    rows = layer_rows(net)
    assert _as_shape(rows["maxpool1"]) == (64, 27, 27)
    assert _as_shape(rows["adaptiveavgpool1"]) == (256, 6, 6)
    _, shapes, params, macs = _run_torch(net, torch.randn(1, 3, 224, 224))
    assert (params, macs) == (net.cost.params, net.cost.macs)
    assert shapes["maxpool3"] == (256, 6, 6)


# ---- ceil_mode against PyTorch's pools ---------------------------------------------------------

CEIL_CASES = [
    (h, k, s, p)
    for h in (5, 6, 7, 8, 11)
    for k in (2, 3, 4)
    for s in (1, 2, 3)
    for p in range(k // 2 + 1)
    if h + 2 * p >= k
]


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_ceil_mode_is_pytorchs(kind):
    x = torch.randn(1, 2, 11, 11)
    cls = nn.MaxPool2d if kind == "max" else nn.AvgPool2d
    for h, k, s, p in CEIL_CASES:
        spec = f"network n\ninput 2x{h}x{h}\nlayers:\n    {kind}pool {k}x{k} stride={s} padding={p} ceil_mode\n"
        net = compile_text(spec)
        ref = cls(k, s, p, ceil_mode=True)(x[:, :, :h, :h])
        assert tuple(ref.shape[1:]) == tuple(net.output_shape.as_list()), (h, k, s, p)
        with torch.no_grad():
            got = net.to_torch()(x[:, :, :h, :h])
        assert torch.equal(got, ref), (h, k, s, p)


def test_ceil_mode_max_pool_is_exact_in_keras():
    keras = _keras()
    for h, k, s, p in CEIL_CASES[::3]:
        spec = f"network n\ninput 2x{h}x{h}\nlayers:\n    maxpool {k}x{k} stride={s} padding={p} ceil_mode\n"
        net = compile_text(spec)
        x = torch.randn(1, 2, h, h)
        ref = nn.MaxPool2d(k, s, p, ceil_mode=True)(x).numpy().transpose(0, 2, 3, 1)
        got = keras.ops.convert_to_numpy(net.to_keras()(x.numpy().transpose(0, 2, 3, 1)))
        np.testing.assert_array_equal(got, ref, err_msg=str((h, k, s, p)))


def test_ceil_mode_average_that_keras_cannot_write_is_a_located_error():
    text = "network n\ninput 2x6x6\nlayers:\n    avgpool 3x3 stride=2 padding=1 ceil_mode\n"
    net = compile_text(text)  # PyTorch: 6 -> 4, the last window reaching past the padding
    assert net.output_shape.h == 4
    with pytest.raises(specgen.SpecError) as info:
        net.emit("keras")
    err = info.value
    assert (err.line, err.column, err.codes) == (4, 5, ["keras"])
    assert "ceil_mode" in err.message and "hint" in str(err)
    # inside a block, the error names the call
    text = "network n\ninput 2x6x6\nblock b:\n    avgpool 3x3 stride=2 padding=1 ceil_mode\nlayers:\n    b\n"
    with pytest.raises(specgen.SpecError) as info:
        compile_text(text).emit("keras")
    assert "in block b(), called at <spec>:6:5" in str(info.value)
    # where ceil_mode adds no window, the average is exact in Keras too
    net = compile_text(
        "network n\ninput 2x7x7\nlayers:\n    avgpool 3x3 stride=2 padding=1 ceil_mode\n"
    )
    assert "AveragePooling2D" in net.emit("keras")


# ---- padding=same against Keras' own layers ----------------------------------------------------

SAME_CASES = [(h, k, s) for h in (5, 6, 7, 8) for k in (1, 2, 3, 4, 5) for s in (1, 2, 3)]


def test_same_padding_convolution_is_keras_conv2d_same():
    keras = _keras()
    rng = np.random.default_rng(0)
    for h, k, s in SAME_CASES[::2]:
        for d in (1, 2) if s == 1 else (1,):
            spec = f"network n\ninput 3x{h}x{h + 1}\nlayers:\n    conv {k}x{k} out=4 stride={s} dilation={d} padding=same\n"
            net = compile_text(spec)
            model = net.to_torch().eval()
            layer = keras.layers.Conv2D(4, k, strides=s, dilation_rate=d, padding="same")
            x = rng.normal(size=(1, 3, h, h + 1)).astype("float32")
            ref = keras.ops.convert_to_numpy(layer(x.transpose(0, 2, 3, 1)))
            layer.set_weights(
                [
                    model.conv1.weight.detach().numpy().transpose(2, 3, 1, 0),
                    model.conv1.bias.detach().numpy(),
                ]
            )
            ref = keras.ops.convert_to_numpy(layer(x.transpose(0, 2, 3, 1)))
            with torch.no_grad():
                got = model(torch.from_numpy(x)).numpy().transpose(0, 2, 3, 1)
            assert got.shape == ref.shape, (h, k, s, d)
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5, err_msg=str((h, k, s, d)))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_same_padding_pools_are_keras_pooling_same(kind):
    keras = _keras()
    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    x = -np.abs(np.random.default_rng(1).normal(size=(1, 2, 8, 9))).astype("float32") - 1
    for h, k, s in SAME_CASES:
        spec = f"network n\ninput 2x{h}x{h + 1}\nlayers:\n    {kind}pool {k}x{k} stride={s} padding=same\n"
        net = compile_text(spec)
        xs = x[:, :, :h, : h + 1]
        ref = keras.ops.convert_to_numpy(
            cls(k, strides=s, padding="same")(xs.transpose(0, 2, 3, 1))
        )
        with torch.no_grad():
            got = net.to_torch()(torch.from_numpy(xs)).numpy().transpose(0, 2, 3, 1)
        assert tuple(net.output_shape.as_list()) == (2, *ref.shape[1:3]), (h, k, s)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6, err_msg=str((h, k, s)))


def test_xception_style_max_pool_pads_bottom_right_only():
    # Xception's entry flow at 299: MaxPooling2D(3, strides=2, padding="same") on 147 and 74
    net = compile_text(
        "network n\ninput 8x74x74\nlayers:\n    maxpool 3x3 stride=2 padding=same\n"
    )
    (row,) = net.cost.layers
    assert _as_shape(row) == (8, 37, 37)
    node = net.ir.body.children[0][1]
    assert node.padding == (0, 1, 0, 1)
    code = net.emit("keras")
    assert 'padding="same"' in code and "ConstantPad2D" not in code
    assert 'value=float("-inf")' in net.emit("torch")


# ---- Keras builds against PyTorch ------------------------------------------------------------


def test_keras_build_of_every_new_op_verifies_and_transfers():
    keras = _keras()
    from specgen.targets.transfer import keras_to_torch, torch_to_keras
    from specgen.targets.verify import verify

    # the layers of ALL_NEW in a block (verify compares each block's output), less the one
    # ceil-mode average Keras cannot write
    body = ALL_NEW.split("layers:\n")[1].replace(
        "    avgpool 3x3 stride=2 padding=1 ceil_mode\n", ""
    )
    first, rest = body.split("    dwconv", 1)
    blocked = "network n\ninput 16x10x10\nblock b:\n" + first + "layers:\n    b\n    dwconv" + rest
    net = compile_text(blocked)
    report = verify(net)
    assert report.passed, report.render()
    model = net.to_keras()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == net.cost.params
    # the se's convs transfer by name both ways, bit for bit
    source = net.to_torch().eval()
    torch_to_keras(source, model)
    target = net.to_torch().eval()
    keras_to_torch(model, target)
    for (n, a), (_, b) in zip(
        source.state_dict().items(), target.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), n
    assert keras.ops.convert_to_numpy(model.get_layer("se1-fc1").kernel).shape == (1, 1, 32, 8)
    assert model.get_layer("b1-se1-fc2").kernel.shape == (1, 1, 8, 32)


def test_keras_helpers_survive_save_and_load(tmp_path):
    keras = _keras()
    text = """\
network n
input 6x7x7
layers:
    hsigmoid
    maxpool 2x2 stride=1 padding=[0, 1, 1, 0]
    adaptiveavgpool 3x2
    se 4 gate=hsigmoid
"""
    net = compile_text(text)
    model = net.to_keras()
    code = net.emit("keras")
    assert (
        "\nclass " not in code and "layers.Normalization(" in code and "layers.Cropping2D(" in code
    )
    x = np.random.default_rng(2).normal(size=(2, 7, 7, 6)).astype("float32") * 4
    before = keras.ops.convert_to_numpy(model(x))
    model.save(tmp_path / "m.keras")
    after = keras.ops.convert_to_numpy(keras.models.load_model(tmp_path / "m.keras")(x))
    np.testing.assert_array_equal(before, after)
    from specgen.targets.verify import verify

    report = verify(net)
    assert report.passed, report.render()


def test_keras_hard_sigmoid_is_pytorchs_bit_for_bit():
    keras = _keras()
    net = compile_text("network n\ninput 1x1x4096\nlayers:\n    hsigmoid\n")
    x = np.concatenate(
        [np.linspace(-4, 4, 2048), np.random.default_rng(3).normal(size=2048) * 3]
    ).astype("float32")
    x[:5] = [-3.0, 3.0, 0.0, -2.9999998, 2.9999998]
    ref = nn.Hardsigmoid()(torch.from_numpy(x)).numpy()
    got = keras.ops.convert_to_numpy(net.to_keras()(x.reshape(1, 1, 4096, 1))).reshape(-1)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("size", [(6, 9), (3, 3), (3, 2), (4, 3), (5, 7), (8, 12)])
def test_adaptive_average_pool_is_pytorchs_in_both_targets(size):
    keras = _keras()
    net = compile_text(
        f"network n\ninput 3x6x9\nlayers:\n    adaptiveavgpool {size[0]}x{size[1]}\n"
    )
    x = torch.randn(2, 3, 6, 9)
    ref = nn.AdaptiveAvgPool2d(size)(x)
    with torch.no_grad():
        assert torch.equal(net.to_torch()(x), ref)
    got = keras.ops.convert_to_numpy(net.to_keras()(x.numpy().transpose(0, 2, 3, 1)))
    np.testing.assert_allclose(got, ref.numpy().transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)
    code = net.emit("keras", family=False)  # the family code decides this as it builds
    if size == (6, 9):
        assert "layers.Identity(" in code  # AlexNet's case
    elif size == (3, 3):
        assert "layers.AveragePooling2D((2, 3)" in code  # divisible: one pooling
    else:
        assert "layers.Cropping2D(" in code  # PyTorch's windows, one by one


# ---- mistakes, located ---------------------------------------------------------------------------

H = "network n\ninput 16x8x8\nlayers:\n"


@pytest.mark.parametrize(
    "line, message, column, code",
    [
        (
            "se 4 act=swish",
            "se act must be one of relu, relu6, silu, hswish, gelu, got `swish`",
            14,
            "expr",
        ),
        (
            "se 4 gate=2",
            "se gate must be one of sigmoid, hsigmoid, hardsigmoid, got an expression",
            15,
            "expr",
        ),
        ("se", "se needs `squeeze=`", 5, "missing-argument"),
        ("se 0", "se squeeze must be at least 1, got 0", 8, "range"),
        (
            "conv 3x3 padding=[1, 2, 3]",
            "conv padding needs one, two or four sizes, got [1, 2, 3]",
            22,
            "expr",
        ),
        (
            "conv 3x3 padding=[0, -1, 0, 0]",
            "conv padding must be at least 0, got [0, -1, 0, 0]",
            22,
            "range",
        ),
        ("conv 3x3 padding=valid", "unknown name `valid`", 22, "unknown-name"),
        ("pwconv 8 padding=same", "pwconv has no argument `padding`", 14, "unknown-argument"),
        (
            "maxpool 3x3 padding=same ceil_mode",
            "ceil_mode needs a padding that is the same on both sides",
            30,
            "range",
        ),
        (
            "avgpool 3x3 padding=[0, 1, 1, 1] ceil_mode=true",
            "ceil_mode needs a padding that is the same on both sides",
            38,
            "range",
        ),
        (
            "maxpool 3x3 padding=[0, 2, 0, 0]",
            "maxpool padding [0, 2, 0, 0] is more than half its kernel",
            5,
            "range",
        ),
        ("adaptiveavgpool", "adaptiveavgpool needs `size=`", 5, "missing-argument"),
        (
            "adaptiveavgpool 0x2",
            "adaptiveavgpool size must be at least 1, got [0, 2]",
            21,
            "range",
        ),
    ],
)
def test_mistakes_are_located(line, message, column, code):
    err = compile_error(H + f"    {line}\n")
    assert err.message.startswith(message), err.message
    assert (err.line, err.column) == (4, column), str(err)
    assert err.codes[0] == code


def test_choice_hint_suggests_the_closest_word():
    err = compile_error(H + "    se 4 gate=hsigmod\n")
    assert err.first.hint == "did you mean `hsigmoid`?"


def test_cli_build_refuses_what_keras_cannot_write(tmp_path, cli):
    path = tmp_path / "p.conv"
    path.write_text(
        "network n\ninput 2x6x6\nlayers:\n    avgpool 3x3 stride=2 padding=1 ceil_mode\n"
    )
    assert cli("build", str(path), "--target", "torch").code == 0
    result = cli("build", str(path), "--target", "keras")
    assert result.code == 2
    assert f"{path}:4:5: error: Keras has no ceil_mode" in result.err


def test_keras_torch_backend_agrees(tmp_path):
    """Keras' PyTorch backend implements padding="same" and the helpers its own way."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    script = (
        "import sys, specgen\n"
        "from specgen.targets.verify import verify\n"
        "r = verify(specgen.compile(sys.argv[1]))\n"
        "assert r.backend == 'torch', r.backend\n"
        "print('PASSED' if r.passed else r.render())\n"
    )
    spec = tmp_path / "n.conv"
    spec.write_text(
        ALL_NEW.replace("    avgpool 3x3 stride=2 padding=1 ceil_mode\n", "    hsigmoid\n")
    )
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", script, str(spec)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("PASSED"), out.stdout[-3000:]


def test_generated_code_with_every_helper_is_black_and_ruff_clean(tmp_path):
    import subprocess

    black = pytest.importorskip("black")
    text = ALL_NEW.replace("    avgpool 3x3 stride=2 padding=1 ceil_mode\n", "    hsigmoid\n")
    text = text.replace(
        "layers:\n",
        "block b:\n    maxpool 2x2 stride=1 padding=[0, 1, 1, 0]\n    se 4 gate=hsigmoid\n"
        "layers:\n    b\n",
    )
    net = compile_text(text)
    for target in ("torch", "keras"):
        code = net.emit(target)
        assert black.format_str(code, mode=black.Mode()) == code, target
        path = tmp_path / f"{target}.py"
        path.write_text(code)
        ruff = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(path)],
            capture_output=True,
            text=True,
        )
        assert ruff.returncode == 0, ruff.stdout


def test_asymmetric_padding_of_sepconv_and_igc_in_both_targets():
    from specgen.targets.verify import verify

    text = """\
network n
input 24x8x9
layers:
    sepconv 4x4 stride=2 padding=same out=24 bn relu  # 8x9 -> 4x5, pads [1, 1, 1, 2]
    igc 3x3 M=2 L=12 stride=2 padding=same            # 4x5 -> 2x3, pads [0, 1, 1, 1]
    conv 3x3 padding=[2, 0, 0, 2]                     # 2x3 -> 2x3
"""
    net = compile_text(text)
    code = net.emit("torch")
    assert '("pad", nn.ZeroPad2d((1, 2, 1, 1)))' in code
    assert "self.igc1(nn.functional.pad(x, (1, 1, 0, 1)))" in code
    _, shapes, params, macs = _run_torch(net, torch.randn(1, 24, 8, 9))
    assert (params, macs) == (net.cost.params, net.cost.macs)
    rows = layer_rows(net)
    assert shapes["sepconv1.dw"] == _as_shape(rows["sepconv1.dw"]) == (24, 4, 5)
    assert shapes["igc1"] == _as_shape(rows["igc1"]) == (24, 2, 3)
    assert shapes["conv1"] == (24, 2, 3)
    report = verify(net)
    assert report.passed, report.render()


def test_a_squeeze_width_read_from_in_follows_each_call():
    # the second call's se sees the same 16x8x8 map, but its block's input has 16 channels
    text = (
        "network n\ninput 8x8x8\nblock b:\n    conv 1x1 out=16\n    se squeeze=in // 2\n"
        "layers:\n    b\n    conv 1x1 out=16\n    b\n"
    )
    rows = layer_rows(compile_text(text))
    assert rows["b1.se1"].params == 2 * 16 * 4 + 4 + 16
    assert rows["b2.se1"].params == 2 * 16 * 8 + 8 + 16
