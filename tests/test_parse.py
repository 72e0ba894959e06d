"""Pass 1: the parser (.conv text -> syntax.Program) and its cache."""

from __future__ import annotations

import uuid

import pytest
from conftest import HEADER, compile_text, layer_rows

import specgen
import specgen.language.parse
from specgen.language import syntax as S
from specgen.language.parse import parse


def unique(text: str) -> str:
    """`text` with a comment no other test uses, so the parse cache starts cold for it."""
    return f"# {uuid.uuid4().hex}\n" + text


# ---- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, params, shape",
    [
        ("network n\ninput 3x224x224\n", None, (3, 224, 224)),
        ("network n()\ninput 3 x 32 x 32\n", None, (3, 32, 32)),
        ("network n(channels=512)\ninput channels x 7 x 7\n", None, (512, 7, 7)),
        ("network n(channels=512)\ninput channels x 7 x 7\n", {"channels": 64}, (64, 7, 7)),
        ("network n(a=2, b=3,)\ninput (a*b) x 4 x 5\n", None, (6, 4, 5)),
        ("network n(c=8, h=6)\ninput c x h x h+1\n", None, None),  # `h+1` is not a term
    ],
)
def test_header_forms(header, params, shape):
    text = header + "layers:\n    identity\n"
    if shape is None:
        with pytest.raises(specgen.SpecError) as info:
            compile_text(text, params)
        assert info.value.codes == ["syntax"]
        assert (info.value.line, info.value.column) == (2, 16)  # the `+`
        return
    net = compile_text(text, params)
    assert net.name == "n"
    s = net.input_shape
    assert (s.c, s.h, s.w) == shape
    assert (net.output_shape.c, net.output_shape.h, net.output_shape.w) == shape


def test_header_ast_with_terms():
    program = parse("network gdc(channels=512)\ninput channels x 7 x 7\nlayers:\n    gdc bn\n")
    assert program.name == "gdc"
    assert [p.name for p in program.params] == ["channels"]
    assert program.params[0].default == S.Num(512, program.params[0].default.span)
    c, h, w = program.input
    assert isinstance(c, S.Name) and c.name == "channels"
    assert (c.span.line, c.span.column) == (2, 7)
    assert isinstance(h, S.Num) and h.value == 7
    assert isinstance(w, S.Num) and w.value == 7
    assert (w.span.line, w.span.column) == (2, 22)


def test_header_ast_with_dims():
    program = parse("network n\ninput 3x224x224\nlayers:\n    relu\n")
    assert program.params == ()
    assert [e.value for e in program.input] == [3, 224, 224]


# ---- comments, blank lines, line endings ----------------------------------------------------

PLAIN = """network n(k=8)
input 16x8x8
let w = 2
block pair(c):
    conv 1x1 out=c bn
    relu
layers:
    conv 3x3 out=k bn relu
    pair(k * w)
"""

COMMENTED = """# leading comment
   # an indented comment before anything
network n(k=8)   # trailing comment on the header

input 16x8x8     # after the input
# between header and definitions
let w = 2  # a let
  # a comment indented at an odd depth
block pair(c):   # a block
    # first line of the body is a comment
    conv 1x1 out=c bn
# a comment at column 1 inside the body
        # and one indented deeper
    relu         # trailing

layers:          # the body
    conv 3x3 out=k bn relu   # stem

    pair(k * w)  # last statement
# the final line is a comment without a newline"""

# hand count, input 16x8x8: conv 3x3 16->8 no bias (bn follows) + bn, then 1x1 8->16 + bn
PLAIN_PARAMS = 16 * 8 * 9 + 2 * 8 + 8 * 16 + 2 * 16
PLAIN_MACS = (16 * 8 * 9 + 8 * 16) * 8 * 8


def test_plain_spec_numbers():
    net = compile_text(PLAIN)
    assert net.cost.params == PLAIN_PARAMS
    assert net.cost.macs == PLAIN_MACS


def test_comments_everywhere():
    net = compile_text(COMMENTED)
    assert net.cost.params == PLAIN_PARAMS
    assert net.cost.macs == PLAIN_MACS
    assert list(net.shapes) == [
        "conv1",
        "bn1",
        "relu1",
        "pair1",
        "pair1.conv1",
        "pair1.bn1",
        "pair1.relu1",
    ]


def test_comments_and_blank_lines_do_not_change_the_tree():
    """The syntax trees differ only in positions: compare what was written."""
    a, b = parse(PLAIN), parse(COMMENTED)
    assert a.name == b.name
    assert [p.name for p in a.params] == [p.name for p in b.params]
    assert [blk.name for blk in a.blocks] == [blk.name for blk in b.blocks]
    assert [s.head.name for s in a.blocks[0].body] == ["conv", "relu"]
    assert [s.head.name for s in b.blocks[0].body] == ["conv", "relu"]
    assert [s.head.name for s in b.body] == ["conv", "pair"]


def test_blank_lines_and_whitespace_only_lines():
    text = (
        "\n\n   \nnetwork n\n\n\ninput 16x8x8\n  \n\nlayers:\n\n    conv 3x3 out=8 bn\n"
        "        \n\n    relu\n\n\n   \n"
    )
    net = compile_text(text)
    assert net.cost.params == 16 * 8 * 9 + 16
    assert [r.op for r in net.cost.layers] == ["conv", "bn", "relu"]


def test_crlf_line_endings_parse_like_lf():
    crlf = PLAIN.replace("\n", "\r\n")
    assert parse(crlf) == parse(PLAIN)  # same nodes, same positions
    net = compile_text(crlf)
    assert net.cost.params == PLAIN_PARAMS


def test_crlf_with_comments():
    net = compile_text(COMMENTED.replace("\n", "\r\n"))
    assert net.cost.macs == PLAIN_MACS


def test_no_trailing_newline():
    net = compile_text(HEADER + "    conv 3x3 out=4")
    assert net.cost.params == 16 * 4 * 9 + 4


def test_backslash_continuation_and_parenthesised_lines():
    text = HEADER + "    conv 3x3 \\\n        out=(4 +\n  4) bn \\\n   relu\n"
    net = compile_text(text)
    assert [r.op for r in net.cost.layers] == ["conv", "bn", "relu"]
    assert net.output_shape.c == 8


def test_tabs_inside_a_line_are_whitespace():
    net = compile_text(HEADER + "    conv\t3x3\tout=4\n")
    assert net.output_shape.c == 4


# ---- statements -------------------------------------------------------------------------------

UNIT = """network n(g=2)
input 16x8x8
block unit(g):
    conv 1x1 out=in group=g
block plain:
    relu
layers:
    unit(g) x 3
    plain x 3
    unit(g=4)
    plain() x 2
"""


def test_repeat_forms_ast():
    program = parse(UNIT)
    first, second, third, fourth = program.body
    assert isinstance(first, S.Simple)
    assert first.head.name == "unit"
    assert [type(a) for a in first.head.args] == [S.Name]
    assert first.head.args[0].name == "g"
    assert isinstance(first.repeat, S.Num) and first.repeat.value == 3
    assert second.head.name == "plain" and second.head.args == ()
    assert second.repeat.value == 3
    assert third.repeat is None
    (kw,) = third.head.args
    assert isinstance(kw, S.KwArg) and kw.name == "g" and kw.value.value == 4
    assert (kw.name_span.line, kw.name_span.column) == (10, 10)
    assert fourth.head.args == () and fourth.repeat.value == 2


def test_repeat_forms_elaborate():
    net = compile_text(UNIT)
    assert list(net.shapes) == [
        "unit1",
        "unit1.conv1",
        "unit2",
        "unit2.conv1",
        "unit3",
        "unit3.conv1",
        "plain1",
        "plain1.relu1",
        "plain2",
        "plain2.relu1",
        "plain3",
        "plain3.relu1",
        "unit4",
        "unit4.conv1",
        "plain4",
        "plain4.relu1",
        "plain5",
        "plain5.relu1",
    ]
    # 1x1 conv 16->16 with bias: 16*16/g + 16; three with g=2, one with g=4
    assert net.cost.params == 3 * (16 * 8 + 16) + (16 * 4 + 16)


def test_call_with_positional_and_keyword_arguments():
    text = """network n(a=3, b=1)
input 8x4x4
block down(out, g, g1=g):
    conv 1x1 out=out group=g1
layers:
    down(2 * a + 2, b, g1=2)
"""
    (stmt,) = parse(text).body
    args = stmt.head.args
    assert isinstance(args[0], S.BinOp) and args[0].op == "+"
    assert isinstance(args[0].left, S.BinOp) and args[0].left.op == "*"
    assert isinstance(args[1], S.Name) and args[1].name == "b"
    assert isinstance(args[2], S.KwArg) and args[2].name == "g1"
    net = compile_text(text)
    assert net.output_shape.c == 8
    assert net.cost.params == 8 * 8 // 2 + 8  # group=2, bias


def test_block_call_forms():
    text = """network n
input 16x8x8
block u(c=16, s=1):
    conv 1x1 out=c stride=s bn relu
layers:
    u(8)
    u c=8 s=2
    u(8, s=1)
    u x 2
    u 4
"""
    net = compile_text(text)
    assert [b.name for b in net.cost.blocks] == ["u1", "u2", "u3", "u4", "u5", "u6"]
    assert [b.output.c for b in net.cost.blocks] == [8, 8, 8, 16, 16, 4]
    assert [b.output.h for b in net.cost.blocks] == [8, 4, 4, 4, 4, 4]
    # 1x1 convs without bias (bn follows) + bn: 16->8, 8->8, 8->8, 8->16, 16->16, 16->4
    pairs = [(16, 8), (8, 8), (8, 8), (8, 16), (16, 16), (16, 4)]
    assert net.cost.params == sum(i * o + 2 * o for i, o in pairs)


def test_call_form_of_layers():
    a = compile_text(HEADER + "    conv(3x3, out=8) bn(1e-3) relu\n")
    b = compile_text(HEADER + "    conv 3x3 out=8 bn relu\n")
    assert [(r.op, r.params) for r in a.cost.layers] == [(r.op, r.params) for r in b.cost.layers]
    assert a.cost.params == 16 * 8 * 9 + 16
    assert _leaves(a)[1].eps == 1e-3


def test_keywords_after_trailing_layers_belong_to_the_main_layer():
    net = compile_text(HEADER + "    conv 3x3 bn relu out=8 stride=2\n")
    assert [(r.op, r.output.c, r.output.h) for r in net.cost.layers] == [
        ("conv", 8, 4),
        ("bn", 8, 4),
        ("relu", 8, 4),
    ]


def test_trailing_layers_ast_and_elaboration():
    text = HEADER + "    conv 3x3 out=8 stride=2 bn relu\n"
    (stmt,) = parse(text).body
    items = stmt.head.args
    assert isinstance(items[0], S.Dims) and items[0].values == (3, 3)
    assert [a.name for a in items[1:3]] == ["out", "stride"]
    assert [(type(a), a.name) for a in items[3:]] == [(S.Name, "bn"), (S.Name, "relu")]
    net = compile_text(text)
    assert [(r.name, r.op) for r in net.cost.layers] == [
        ("conv1", "conv"),
        ("bn1", "bn"),
        ("relu1", "relu"),
    ]
    assert net.output_shape.h == 4


def _leaves(net):
    from specgen import ir
    from specgen.passes.cost import walk

    return [node for _, node in walk(net.ir.body) if not ir.children(node)]


def test_leakyrelu_with_slope():
    text = HEADER + "    conv 3x3 out=8 bn leakyrelu(0.2)\n    leakyrelu(0.3)\n    leakyrelu\n"
    first, second, third = parse(text).body
    trailing = first.head.args[-1]
    assert isinstance(trailing, S.Call) and trailing.func == "leakyrelu"
    assert trailing.args[0].value == 0.2
    assert second.head.name == "leakyrelu" and second.head.args[0].value == 0.3
    acts = [n for n in _leaves(compile_text(text)) if n.op == "leakyrelu"]
    assert [a.slope for a in acts] == [0.2, 0.3, 0.01]


def test_lists_tables_and_indexing():
    text = """network n(g=2)
input 16x8x8
let widths = [8, 24, 32,]
let table = {1: 144, 2: 200, 3: [5, 6],}
let grid = [[1, 2], [3, 4]]
layers:
    conv 1x1 out=widths[1]
    conv 1x1 out=table[g] // 100 + grid[1][0] + table[3][-1]
"""
    program = parse(text)
    widths, table, grid = program.lets
    assert isinstance(widths.value, S.ListExpr) and len(widths.value.items) == 3
    assert isinstance(table.value, S.MapExpr) and len(table.value.pairs) == 3
    assert isinstance(table.value.pairs[2][1], S.ListExpr)
    assert isinstance(grid.value.items[0], S.ListExpr)
    net = compile_text(text)
    # 200 // 100 + 3 + 6 = 11
    assert [r.output.c for r in net.cost.layers] == [24, 11]
    assert compile_text(text, {"g": 1}).output_shape.c == 1 + 3 + 6


NESTED = """network n
input 16x8x8
layers:
    residual:
        concat:
            conv 1x1 out=8
            branch:
                residual:
                    conv 1x1 out=in bn
                    relu
                split:
                    conv 1x1 out=in
                    identity
                conv 1x1 out=8
        shortcut:
            identity
"""


def test_nested_composites_ast():
    (outer,) = parse(NESTED).body
    assert isinstance(outer, S.Compound) and outer.head.name == "residual"
    concat, shortcut = outer.body
    assert concat.head.name == "concat" and shortcut.head.name == "shortcut"
    conv, branch = concat.body
    assert isinstance(conv, S.Simple)
    assert [s.head.name for s in branch.body] == ["residual", "split", "conv"]
    assert outer.depth == 4  # residual > concat > branch > residual/split


def test_nested_composites_elaborate():
    net = compile_text(NESTED)
    # concat of 8 (conv) and 8 (branch's last conv): 16, equal to the identity shortcut
    assert (net.output_shape.c, net.output_shape.h, net.output_shape.w) == (16, 8, 8)
    rows = layer_rows(net)
    assert rows["conv1"].params == 16 * 8 + 8
    assert rows["conv2"].params == 16 * 16  # bias dropped: bn follows on the line
    assert rows["conv3"].params == 8 * 8 + 8  # split branch: in = 8
    assert rows["conv4"].params == 16 * 8 + 8


# ---- the parse cache ------------------------------------------------------------------------


def test_parse_is_cached_by_text():
    text = unique(PLAIN)
    before = parse.cache_info()
    first = parse(text)
    second = parse(text)
    after = parse.cache_info()
    assert first is second
    assert after.hits - before.hits >= 1
    assert after.misses - before.misses == 1


def test_compiling_with_other_params_does_not_reparse(monkeypatch):
    lark = specgen.language.parse._parser()
    calls = []
    real = lark.parse

    def counting(text, *args, **kwargs):
        calls.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(lark, "parse", counting)
    text = unique(UNIT)
    params = [16 * 8 + 16, 16 * 4 + 16, 16 * 2 + 16]  # one unit's params for g = 2, 4, 8
    for g, unit in zip((2, 4, 8), params, strict=True):
        net = compile_text(text, {"g": g})
        assert net.cost.params == 3 * unit + (16 * 4 + 16)
    assert len(calls) == 1
    # the same text again (default params) is still not reparsed
    compile_text(text)
    assert len(calls) == 1


def test_different_text_is_parsed_again(monkeypatch):
    lark = specgen.language.parse._parser()
    calls = []
    real = lark.parse
    monkeypatch.setattr(lark, "parse", lambda t, *a, **k: calls.append(t) or real(t, *a, **k))
    compile_text(unique(PLAIN))
    compile_text(unique(PLAIN))
    assert len(calls) == 2
