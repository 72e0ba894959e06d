"""Passes 2-4: expressions, elaboration, shapes and the cost model, against hand counts."""

from __future__ import annotations

import pytest
from conftest import HEADER, compile_error, compile_text, layer_rows

import specgen
from specgen.language.parse import parse_value
from specgen.values import Table


def value(text: str):
    """The value of an expression written in .conv syntax (no names bound)."""
    return parse_value(text, "v")


def shape(net_or_shape):
    s = getattr(net_or_shape, "output_shape", net_or_shape)
    return (s.c, s.h, s.w)


# ---- expressions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("2 * 3 + 4", 10),
        ("10 - 4 - 3", 3),  # left associative
        ("2 ** 3 ** 2", 512),  # right associative
        ("(2 ** 3) ** 2", 64),
        ("2 * 3 ** 2", 18),
        ("-2 ** 2", -4),  # ** binds tighter than unary minus
        ("(-2) ** 2", 4),
        ("2 ** -1", 0.5),
        ("-3 + 5", 2),
        ("--3", 3),
        ("-(2 + 3)", -5),
        ("3 - -2", 5),
        ("+4", 4),
        ("12 / 4", 3),
        ("7.0 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),  # floor division
        ("7.5 // 2", 3.0),
        ("7 % 3", 1),
        ("-7 % 3", 2),
        ("2 + 12 // 5 * 3 % 4", 4),  # 12//5=2, *3=6, %4=2
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("min([4, 9, 5])", 4),
        ("max([4, 9, 5])", 9),
        ("int(3.7)", 3),
        ("int(-3.7)", -3),
        ("round(2.5)", 2),  # half to even, as in Python
        ("round(3.5)", 4),
        ("round(3.49)", 3),
        ("floor(2.5)", 2),
        ("ceil(2.1)", 3),
        ("abs(-6)", 6),
        ("make_divisible(37.5, 8)", 40),  # 41 // 8 * 8 = 40 >= 0.9 * 37.5
        ("make_divisible(10, 8)", 16),  # 8 < 0.9 * 10, so one more step
        ("make_divisible(3, 8)", 8),  # never below the divisor
        ("make_divisible(100, 8, 64)", 104),
        ("make_divisible(32 * 0.75, 8)", 24),
        ("int(1024 * 0.75)", 768),
        ("len([1, 2, 3])", 3),
        ("sum([1, 2, 3])", 6),
        ("[10, 20, 30][1]", 20),
        ("[10, 20, 30][-1]", 30),
        ("[[1, 2], [3, 4]][1][0]", 3),
        ("{1: 144, 2: 200}[2]", 200),
        ("[1, 2] + [3]", (1, 2, 3)),
        ("{true: 20}[true]", 20),
        ("{[1, 2]: 5}[[1, 2]]", 5),
        ("1.5e2", 150.0),
        ("true", True),
    ],
)
def test_expression_values(text, expected):
    got = value(text)
    assert got == expected
    assert type(got) is type(expected)


def test_bool_and_number_keys_are_different():
    assert value("{1: 10, true: 20}[true]") == 20
    assert value("{1: 10, true: 20}[1]") == 10


def test_table_value():
    got = value("{1: 144, 2: [3, 4]}")
    assert isinstance(got, Table)
    assert got.get(1) == 144 and got.get(2) == (3, 4)


@pytest.mark.parametrize(
    "text, code, phrase",
    [
        ("7 / 2", "inexact-division", "7 / 2 does not divide exactly (7 = 2·3 + 1)"),
        ("1 / 0", "expr", "division by zero"),
        ("1 // 0", "expr", "division by zero"),
        ("1 % 0", "expr", "division by zero"),
        ("2 ** 100", "limit", "exponent 100 is too large"),
        ("2 ** 60", "limit", "too large"),
        ("foo(1)", "unknown-name", "unknown function `foo`"),
        ("int(1, 2)", "expr", "int() takes 1 argument, got 2"),
        ("make_divisible(1)", "expr", "make_divisible() takes 2 to 3 arguments, got 1"),
        ("[1, 2][2]", "expr", "index 2 is out of range for a list of 2"),
        ("{1: 2}[3]", "expr", "no entry for 3 in the table"),
        ("{1: 2, 1: 3}", "expr", "duplicate key 1"),
        ("true + 1", "expr", "must be a number"),
        ("make_divisible(10, 0)", "expr", "divisor must be positive"),
        ("nope", "unknown-name", "unknown name `nope`"),
        ("{true: 20}[1]", "expr", "no entry for 1 in the table"),
        ("{1: 20}[true]", "expr", "no entry for true in the table"),
        ("5[0]", "expr", "only lists and tables can be indexed"),
    ],
)
def test_expression_errors(text, code, phrase):
    with pytest.raises(specgen.SpecError) as info:
        value(text)
    assert info.value.codes == [code]
    assert phrase in info.value.message


def test_exact_division_in_a_spec():
    net = compile_text(HEADER + "    conv 1x1 out=in/4\n    conv 1x1 out=in//3\n")
    assert [r.output.c for r in net.cost.layers] == [4, 5]


def test_inexact_division_in_a_spec_points_at_the_division():
    err = compile_error(HEADER + "    conv 1x1 out=in/3\n")
    assert err.codes == ["inexact-division"]
    assert (err.line, err.column) == (4, 18)
    assert "16 / 3 does not divide exactly (16 = 3·5 + 1)" in err.message
    assert "use `//`" in err.first.hint


def test_float_channel_count_is_refused_with_a_rounding_hint():
    err = compile_error(HEADER + "    conv 1x1 out=in * 0.75 + 0.5\n")
    assert "conv out must be an integer, not 12.5" in err.message
    assert "int(...)" in err.first.hint


# ---- elaboration --------------------------------------------------------------------------------


def test_block_defaults_refer_to_earlier_params_and_in():
    text = """network n
input 16x8x8
block b(a, c=a*2, d=in//2):
    conv 1x1 out=a+c+d
layers:
    b(1)
    b(1, d=3)
    b(a=2, c=1)
"""
    net = compile_text(text)
    # b(1): 1 + 2 + 16//2 = 11; b(1, d=3) on 11 channels: 1 + 2 + 3 = 6;
    # b(a=2, c=1) on 6 channels: 2 + 1 + 3 = 6
    assert [r.output.c for r in net.cost.layers] == [11, 6, 6]


def test_block_defaults_see_network_params_and_lets():
    text = """network n(w=3)
input 16x8x8
let base = w * 4
block b(c=base + w):
    conv 1x1 out=c
layers:
    b
"""
    assert compile_text(text).output_shape.c == 15
    assert compile_text(text, {"w": 1}).output_shape.c == 5


def test_in_is_the_input_of_the_enclosing_body():
    text = """network n
input 16x8x8
block b:
    conv 1x1 out=32
    conv 1x1 out=in
layers:
    conv 1x1 out=8
    conv 1x1 out=in
    b
"""
    rows = layer_rows(compile_text(text))
    # in `layers:` `in` is the network input (16), in the block the block input (16)
    assert rows["conv2"].output.c == 16
    assert rows["b1.conv2"].output.c == 16
    assert rows["b1.conv2"].params == 32 * 16 + 16


def test_in_inside_residual_and_branches():
    text = """network n
input 16x8x8
block b:
    conv 1x1 out=32
    residual:
        conv 1x1 out=in*2
        conv 1x1 out=in
    concat:
        conv 1x1 out=in//4
        branch:
            relu
            conv 1x1 out=in//2
layers:
    b
    split sizes=[8, 16]:
        conv 1x1 out=in*2
        conv 1x1 out=in
"""
    net = compile_text(text)
    rows = layer_rows(net)
    assert rows["b1.conv2"].output.c == 64  # residual input is 32
    assert rows["b1.conv3"].output.c == 32
    assert rows["b1.conv4"].output.c == 8  # concat input is 32
    assert rows["b1.conv5"].output.c == 16
    assert shape(net.shapes["b1"]) == (24, 8, 8)
    # split parts of the block's 24 channels: in = 8, then in = 16
    assert rows["conv1"].output.c == 16 and rows["conv1"].params == 8 * 16 + 16
    assert rows["conv2"].output.c == 16 and rows["conv2"].params == 16 * 16 + 16
    assert shape(net) == (32, 8, 8)


def test_in_inside_split_parts():
    text = (
        HEADER + "    split sizes=[4, 12]:\n        conv 1x1 out=in*2\n        conv 1x1 out=in\n"
    )
    net = compile_text(text)
    rows = layer_rows(net)
    assert rows["conv1"].output.c == 8 and rows["conv1"].params == 4 * 8 + 8
    assert rows["conv2"].output.c == 12 and rows["conv2"].params == 12 * 12 + 12
    assert shape(net) == (20, 8, 8)


def test_in_outside_a_body_is_an_error():
    err = compile_error("network n(a=in)\ninput 16x8x8\nlayers:\n    relu\n")
    assert err.codes == ["unknown-name"]
    assert (err.line, err.column) == (1, 13)
    err = compile_error("network n\ninput 16x8x8\nlet a = in\nlayers:\n    relu\n")
    assert "`in` is defined only inside" in err.message
    assert (err.line, err.column) == (3, 9)


def test_repeat_zero_adds_nothing():
    text = """network n(k=0)
input 16x8x8
block unit:
    conv 1x1 out=4
layers:
    unit x k
    relu x 0
    identity
"""
    net = compile_text(text)
    assert list(net.shapes) == ["identity1"]
    assert net.cost.params == 0 and shape(net) == (16, 8, 8)
    net = compile_text(text, {"k": 2})
    assert list(net.shapes) == [
        "unit1",
        "unit1.conv1",
        "unit2",
        "unit2.conv1",
        "identity1",
    ]
    # conv 1x1 16->4 then 4->4, with bias
    assert net.cost.params == (16 * 4 + 4) + (4 * 4 + 4)


def test_layer_names_in_shapes():
    text = """network n
input 16x8x8
block unit(c):
    conv 1x1 out=c bn relu
    residual:
        conv 3x3 bn relu
        conv 3x3 bn
    relu
layers:
    conv 3x3 out=32 bn relu
    unit(32) x 2
    conv 1x1 out=8
    sepconv 3x3 out=8 bn relu
    gap
    fc 10
"""
    net = compile_text(text)
    assert list(net.shapes) == [
        "conv1",
        "bn1",
        "relu1",
        "unit1",
        "unit1.conv1",
        "unit1.bn1",
        "unit1.relu1",
        "unit1.conv2",
        "unit1.bn2",
        "unit1.relu2",
        "unit1.conv3",
        "unit1.bn3",
        "unit1.relu3",
        "unit2",
        "unit2.conv1",
        "unit2.bn1",
        "unit2.relu1",
        "unit2.conv2",
        "unit2.bn2",
        "unit2.relu2",
        "unit2.conv3",
        "unit2.bn3",
        "unit2.relu3",
        "conv2",
        "sepconv1",
        "sepconv1.dw",
        "sepconv1.bn1",
        "sepconv1.relu1",
        "sepconv1.pw",
        "sepconv1.bn2",
        "sepconv1.relu2",
        "gap1",
        "fc1",
    ]
    assert shape(net.shapes["unit2"]) == (32, 8, 8)
    assert shape(net.shapes["fc1"]) == (10, 1, 1)


def test_composites_get_no_path_of_their_own():
    text = HEADER + (
        "    concat:\n        conv 1x1 out=4\n        branch:\n            relu\n"
        "            conv 1x1 out=4\n    conv 1x1 out=2\n"
    )
    net = compile_text(text)
    assert list(net.shapes) == ["conv1", "relu1", "conv2", "conv3"]
    assert net.shapes["conv3"].c == 2
    assert layer_rows(net)["conv3"].params == 8 * 2 + 2  # concat gave 4 + 4 channels


def test_same_spec_compiled_again_gives_the_same_numbers():
    text = HEADER + "    conv 3x3 out=8 group=2 bn relu\n"
    for _ in range(3):
        assert compile_text(text).cost.params == 8 * 8 * 9 + 16


# ---- shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, input_hw, expected",
    [
        # out = floor((n + 2p - d(k-1) - 1) / s) + 1
        ("conv 7x7 out=4 stride=2", (224, 224), (112, 112)),  # auto padding 3
        ("conv 3x3 out=4 stride=2 padding=0", (7, 7), (3, 3)),
        ("conv 3x3 out=4 dilation=2", (8, 8), (8, 8)),  # auto padding 2
        ("conv 3x3 out=4 dilation=2 padding=0", (8, 8), (4, 4)),
        ("conv 3x3 out=4 dilation=3 padding=1", (10, 10), (6, 6)),
        ("conv 2x2 out=4", (8, 8), (7, 7)),  # even kernel: auto padding 0
        ("conv 3x1 out=4 padding=0", (8, 8), (6, 8)),
        ("conv 1x5 out=4 padding=[0, 2] stride=[1, 2]", (9, 9), (9, 5)),
        ("conv 11x11 out=4 stride=4 padding=0", (227, 227), (55, 55)),  # AlexNet
        ("conv 5x5 out=4 stride=3 padding=1", (17, 13), (5, 4)),
        ("maxpool 3x3 stride=2", (112, 112), (56, 56)),  # auto padding 1
        ("maxpool 3x3 stride=2 padding=0", (55, 55), (27, 27)),
        ("avgpool 2x2 stride=2", (8, 7), (4, 3)),
        ("avgpool 3 stride=2", (28, 28), (14, 14)),
        ("dwconv 3x3 stride=2", (15, 15), (8, 8)),
        ("pwconv 4 stride=2", (15, 15), (8, 8)),
    ],
)
def test_window_arithmetic(layer, input_hw, expected):
    h, w = input_hw
    text = f"network n\ninput 8x{h}x{w}\nlayers:\n    {layer}\n"
    out = compile_text(text).output_shape
    assert (out.h, out.w) == expected


@pytest.mark.parametrize(
    "layer, expected",
    [
        ("conv kernel=3x1 out=4 padding=0", (6, 8)),
        ("conv kernel=[3, 1] out=4 padding=0", (6, 8)),
        ("conv 3x3 out=4 stride=2x1", (4, 8)),
        ("conv 3x3 out=4 stride=[2, 1]", (4, 8)),
        ("conv 3x3 out=4 padding=0x1", (6, 8)),
        ("conv(kernel=1x5, out=4, padding=0x2)", (8, 8)),
    ],
)
def test_sizes_as_keyword_values(layer, expected):
    out = compile_text(HEADER + f"    {layer}\n").output_shape
    assert (out.c, out.h, out.w) == (4, *expected)


def test_size_literal_in_a_let_and_a_block_argument():
    text = """network n
input 16x9x9
let k = 5x3
block b(kernel):
    conv kernel out=4 padding=0
layers:
    b(k)
    b(1x3)
"""
    net = compile_text(text)
    # 9x9 -> 5x7 with a 5x3 kernel, then 5x5 with a 1x3 kernel
    assert [(r.output.h, r.output.w) for r in net.cost.layers] == [(5, 7), (5, 5)]
    assert [r.params for r in net.cost.layers] == [4 * 16 * 15 + 4, 4 * 4 * 3 + 4]


def test_dwconv_multiplier_channels():
    net = compile_text(HEADER + "    dwconv 3x3 multiplier=2\n")
    assert shape(net) == (32, 8, 8)
    assert net.cost.params == 32 * 1 * 9 + 32


@pytest.mark.parametrize("c, h, w", [(512, 7, 7), (32, 7, 5), (3, 1, 1)])
def test_gdc_reduces_to_c_x_1_x_1(c, h, w):
    net = compile_text(f"network n\ninput {c}x{h}x{w}\nlayers:\n    gdc bn\n")
    assert shape(net) == (c, 1, 1)
    assert net.cost.macs == c * h * w
    assert net.cost.params == c * h * w + 2 * c  # no bias before bn


def test_flatten_and_global_pools():
    net = compile_text(HEADER + "    avgpool 2x2 stride=2\n    flatten\n    fc 10\n")
    rows = layer_rows(net)
    assert shape(rows["flatten1"].output) == (16 * 4 * 4, 1, 1)
    assert rows["fc1"].params == 256 * 10 + 10 and rows["fc1"].macs == 2560
    for op in ("gap", "gmp"):
        assert shape(compile_text(HEADER + f"    {op}\n")) == (16, 1, 1)


def test_split_sizes():
    equal = compile_text(HEADER + "    split:\n" + "        identity\n" * 4)
    assert shape(equal) == (16, 8, 8)
    text = (
        HEADER + "    split sizes=[2, 6, 8]:\n        conv 1x1 out=1\n"
        "        identity\n        conv 1x1 out=in+1\n"
    )
    net = compile_text(text)
    rows = layer_rows(net)
    assert rows["conv1"].params == 2 * 1 + 1
    assert rows["conv2"].params == 8 * 9 + 9
    assert shape(net) == (1 + 6 + 9, 8, 8)


def test_residual_with_strided_shortcut():
    text = HEADER + (
        "    residual:\n        conv 3x3 out=32 stride=2\n"
        "        shortcut:\n            conv 1x1 out=32 stride=2\n"
    )
    assert shape(compile_text(text)) == (32, 4, 4)


# ---- cost ----------------------------------------------------------------------------------------


def one_layer(layer: str, header: str = HEADER):
    (row,) = compile_text(header + f"    {layer}\n").cost.layers
    return row


def test_conv_cost():
    row = one_layer("conv 3x3 out=32")
    assert row.params == 32 * 16 * 9 + 32  # bias: no bn follows
    assert row.macs == 32 * 16 * 9 * 8 * 8
    assert row.dense_ratio is None


def test_conv_without_bias_before_bn():
    net = compile_text(HEADER + "    conv 3x3 out=32 bn\n")
    assert net.cost.params == 32 * 16 * 9 + 2 * 32
    net = compile_text(HEADER + "    conv 3x3 out=32\n    bn\n")
    assert net.cost.params == 32 * 16 * 9 + 2 * 32
    net = compile_text(HEADER + "    conv 3x3 out=32 relu\n    bn\n")
    assert net.cost.params == 32 * 16 * 9 + 32 + 2 * 32
    net = compile_text(HEADER + "    conv 3x3 out=32 bias=false\n")
    assert net.cost.params == 32 * 16 * 9
    net = compile_text(HEADER + "    conv 3x3 out=32 bias bn\n")
    assert net.cost.params == 32 * 16 * 9 + 32 + 64


@pytest.mark.parametrize("g", [1, 2, 4, 8, 16])
def test_group_conv_is_1_over_g_of_dense(g):
    row = one_layer(f"conv 3x3 out=32 group={g} bias=false")
    dense_w, dense_m = 32 * 16 * 9, 32 * 16 * 9 * 64
    assert row.params * g == dense_w
    assert row.macs * g == dense_m
    if g == 1:
        assert row.dense_ratio is None
    else:
        assert row.dense_ratio == pytest.approx(1 / g)


def test_depthwise_conv_cost():
    row = one_layer("dwconv 3x3 stride=2 bias=false")
    assert row.params == 16 * 9
    assert row.macs == 16 * 9 * 4 * 4
    assert row.dense_ratio == pytest.approx(1 / 16)


@pytest.mark.parametrize("cout, k", [(32, 3), (128, 3), (64, 5), (16, 7)])
def test_separable_conv_ratio(cout, k):
    net = compile_text(HEADER + f"    sepconv {k}x{k} out={cout} bn relu\n")
    (block,) = net.cost.blocks
    assert block.op == "sepconv"
    assert block.dense_ratio == pytest.approx(1 / cout + 1 / k**2)
    assert block.params == 16 * k * k + 2 * 16 + 16 * cout + 2 * cout
    assert block.macs == (16 * k * k + 16 * cout) * 64


@pytest.mark.parametrize(
    "M, L, k",
    [(2, 8, 3), (4, 4, 3), (2, 8, 5), (8, 2, 3), (1, 16, 3), (16, 1, 1), (4, 4, 1)],
)
def test_igc_params_formula(M, L, k):
    G, S = M * L, k * k
    net = compile_text(f"network n\ninput {G}x8x8\nlayers:\n    igc {k}x{k} M={M} L={L} bn\n")
    igc = net.cost.layers[0]
    assert igc.op == "igc"
    assert igc.params == G * (M * S + L)
    assert igc.params == L * M * M * S + M * L * L  # the two group convs
    assert igc.macs == G * (M * S + L) * 64
    assert igc.dense_ratio == pytest.approx((M * S + L) / (G * S))
    assert net.cost.params == G * (M * S + L) + 2 * G


def test_igc_bias_without_bn():
    row = one_layer("igc 3x3 M=2 L=8")
    assert row.params == 16 * (2 * 9 + 8) + 16


def test_gdc_cost():
    row = one_layer("gdc", header="network n\ninput 128x7x7\nlayers:\n")
    assert row.macs == 128 * 7 * 7
    assert row.params == 128 * 7 * 7 + 128  # bias: no bn follows


def test_prelu_bn_and_free_layers():
    rows = layer_rows(
        compile_text(
            HEADER + "    prelu\n    bn\n    relu\n    relu6\n    hswish\n    leakyrelu(0.1)\n"
            "    shuffle group=4\n    dropout(0.2)\n    maxpool 3x3\n    identity\n"
        )
    )
    assert rows["prelu1"].params == 16
    assert rows["bn1"].params == 2 * 16
    for name in ("relu1", "relu61", "hswish1", "leakyrelu1", "shuffle1", "dropout1"):
        assert (rows[name].params, rows[name].macs) == (0, 0)
    assert (rows["maxpool1"].params, rows["identity1"].params) == (0, 0)
    assert sum(r.macs for r in rows.values()) == 0


def test_fc_cost():
    row = one_layer("fc 10", header="network n\ninput 64x1x1\nlayers:\n")
    assert (row.params, row.macs) == (64 * 10 + 10, 640)
    row = one_layer("fc 10 bias=false", header="network n\ninput 64x1x1\nlayers:\n")
    assert (row.params, row.macs) == (640, 640)


def test_flops_are_twice_macs():
    net = compile_text(HEADER + "    conv 3x3 out=8\n")
    assert net.cost.flops == 2 * 8 * 16 * 9 * 64


def test_block_rows():
    text = """network n
input 16x8x8
block unit(c):
    conv 1x1 out=c bn relu
    dwconv 3x3 bn
layers:
    unit(32)
    unit(8) x 2
    sepconv 3x3 out=4
"""
    net = compile_text(text)
    rows = [(b.name, b.op, shape(b.output), b.params, b.macs) for b in net.cost.blocks]
    unit32 = (16 * 32 + 64 + 32 * 9 + 64, (16 * 32 + 32 * 9) * 64)
    unit8a = (32 * 8 + 16 + 8 * 9 + 16, (32 * 8 + 8 * 9) * 64)
    unit8b = (8 * 8 + 16 + 8 * 9 + 16, (8 * 8 + 8 * 9) * 64)
    sep = (8 * 9 + 8 + 8 * 4 + 4, (8 * 9 + 8 * 4) * 64)  # biases: no bn
    assert rows == [
        ("unit1", "unit", (32, 8, 8), *unit32),
        ("unit2", "unit", (8, 8, 8), *unit8a),
        ("unit3", "unit", (8, 8, 8), *unit8b),
        ("sepconv1", "sepconv", (4, 8, 8), *sep),
    ]
    assert net.cost.params == unit32[0] + unit8a[0] + unit8b[0] + sep[0]


def test_activation_totals_of_a_tiny_net():
    text = """network tiny
input 3x8x8
layers:
    conv 3x3 out=4 bn relu
    maxpool 2x2 stride=2
    gap
    fc 2
"""
    cost = compile_text(text).cost
    # outputs: conv 4*8*8 = 256, bn 256, relu 256, maxpool 4*4*4 = 64, gap 4, fc 2
    assert [r.activations for r in cost.layers] == [256, 256, 256, 64, 4, 2]
    assert cost.activations == 838
    # largest input + output of one layer: bn or relu, 256 + 256
    assert cost.peak_activations == 512
    assert cost.params == 3 * 4 * 9 + 8 + 4 * 2 + 2
    assert cost.macs == 3 * 4 * 9 * 64 + 8


def test_sepconv_bias_rule():
    # both convs keep a bias unless the first trailing layer is bn; a bn on the next line
    # removes the pointwise bias, like for every other convolution (nothing normalises dw)
    net = compile_text(HEADER + "    sepconv 3x3 out=8\n    bn\n")
    assert net.cost.params == (16 * 9 + 16) + 16 * 8 + 2 * 8
    net = compile_text(HEADER + "    sepconv 3x3 out=8\n    relu\n")
    assert net.cost.params == (16 * 9 + 16) + (16 * 8 + 8)
    net = compile_text(HEADER + "    sepconv 3x3 out=8 bn\n")
    assert net.cost.params == (16 * 9 + 2 * 16) + (16 * 8 + 2 * 8)
    net = compile_text(HEADER + "    sepconv 3x3 out=8 relu bn\n")
    assert net.cost.params == (16 * 9 + 16 + 2 * 16) + (16 * 8 + 8 + 2 * 8)


@pytest.mark.parametrize(
    "body, biases",
    [
        ("    conv 3x3\n    bn\n", [False]),
        ("    conv 3x3 relu bn\n", [True]),
        ("    conv 3x3 dropout bn\n", [True]),
        ("    conv 3x3 x 2\n    bn\n", [True, False]),
        ("    conv 3x3\n    let a = 1\n    bn\n", [True]),
        ("    conv 3x3 bias bn\n", [True]),
        ("    conv 3x3 bias=false\n", [False]),
        ("    conv 3x3\n    bn x 0\n", [True]),  # no bn follows after all
        ("    dwconv 3x3\n    bn\n", [False]),
        ("    pwconv 16 bn\n", [False]),
        ("    residual:\n        conv 3x3\n    bn\n", [True]),
    ],
)
def test_bias_default(body, biases):
    rows = [
        r for r in compile_text(HEADER + body).cost.layers if r.op in ("conv", "dwconv", "pwconv")
    ]
    weights = {"conv": 16 * 16 * 9, "dwconv": 16 * 9, "pwconv": 16 * 16}
    assert [r.params - weights[r.op] for r in rows] == [16 if b else 0 for b in biases]


def test_worked_example_of_the_cost_docs():
    text = """network formulas
input 32x14x14
layers:
    conv 3x3 out=64 stride=2 group=4 bn prelu
    dwconv 5x5 multiplier=2
    igc 3x3 M=4 L=32
    pwconv 64 group=8 relu
    gdc
    flatten
    fc 10
"""
    rows = [(r.name, r.params, r.macs) for r in compile_text(text).cost.layers]
    hw = 7 * 7
    assert rows == [
        ("conv1", 64 * 8 * 9, 64 * 8 * 9 * hw),
        ("bn1", 128, 0),
        ("prelu1", 64, 0),
        ("dwconv1", 128 * 25 + 128, 128 * 25 * hw),
        ("igc1", 128 * (4 * 9 + 32) + 128, 128 * (4 * 9 + 32) * hw),
        ("pwconv1", 64 * 16 + 64, 64 * 16 * hw),
        ("relu1", 0, 0),
        ("gdc1", 64 * hw + 64, 64 * hw),
        ("flatten1", 0, 0),
        ("fc1", 64 * 10 + 10, 640),
    ]


def test_nested_block_rows():
    text = """network n
input 8x4x4
block inner:
    sepconv 3x3 bn
block outer:
    inner
    conv 1x1 bn
layers:
    outer x 2
"""
    net = compile_text(text)
    sep = 8 * 9 + 16 + 8 * 8 + 16
    outer = sep + 8 * 8 + 16
    assert [(b.name, b.op, b.params) for b in net.cost.blocks] == [
        ("outer1", "outer", outer),
        ("outer1.inner1", "inner", sep),
        ("outer1.inner1.sepconv1", "sepconv", sep),
        ("outer2", "outer", outer),
        ("outer2.inner1", "inner", sep),
        ("outer2.inner1.sepconv1", "sepconv", sep),
    ]
    assert net.cost.params == 2 * outer


@pytest.mark.parametrize(
    "body, expected",
    [
        ("    gap\n", [16, 1, 1]),  # a 1x1 map: 4-D in both targets
        ("    gap\n    fc 10\n", [10]),  # fc gives (N, 10)
        ("    flatten\n", [16 * 8 * 8]),
        ("    gap\n    fc 10 relu dropout(0.1)\n", [10]),  # activations keep the rank
        ("    gap\n    flatten\n    fc 10 softmax\n", [10]),
    ],
)
def test_shapes_carry_the_rank_the_models_return(body, expected):
    """After flatten or fc the compiler reports the (N, C) tensor the models return."""
    net = compile_text(HEADER + body)
    assert net.output_shape.as_list() == expected
    assert str(net.output_shape) == "x".join(map(str, expected))
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        out = net.to_torch().eval()(torch.randn(2, 16, 8, 8))
    assert list(out.shape) == [2, *expected]
