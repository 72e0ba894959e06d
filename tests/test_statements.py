"""`if` / `elif` / `else`, `for` and `assert`: a spec with them must give exactly the network
of the same spec written out by hand (costs, names, shapes, generated modules)."""

from __future__ import annotations

import pytest
from conftest import HEADER, compile_error, compile_text

import specgen
from specgen import limits


def same_network(a: str, b: str, params: dict | None = None) -> None:
    """Two specs that must describe the same network: every path, shape and cost."""
    na, nb = compile_text(a, params), compile_text(b)
    assert na.shapes == nb.shapes
    assert (na.cost.params, na.cost.macs) == (nb.cost.params, nb.cost.macs)
    assert [r.name for r in na.cost.layers] == [r.name for r in nb.cost.layers]


def test_for_over_rows_is_the_written_out_network():
    loop = (
        "network n(cfg=[[16, 1], [24, 2], [32, 3]])\ninput 8x16x16\nlayers:\n"
        "    for c, n in cfg:\n"
        "        for i in range(n):\n"
        "            conv 3x3 out=c stride=2 if i == 0 else 1 bn relu\n"
    )
    lines = []
    for c, n in [(16, 1), (24, 2), (32, 3)]:
        for i in range(n):
            lines.append(f"    conv 3x3 out={c} stride={2 if i == 0 else 1} bn relu\n")
    same_network(loop, "network n\ninput 8x16x16\nlayers:\n" + "".join(lines))


def test_if_elif_else_chooses_one_branch():
    spec = (
        "network n(t=1)\ninput 8x8x8\nlayers:\n"
        "    if t > 2:\n        conv 1x1 out=32\n"
        "    elif t == 2:\n        conv 1x1 out=16\n        relu\n"
        "    else:\n        bn\n"
        "    gap\n"
    )
    assert [r.name for r in compile_text(spec, {"t": 3}).cost.layers] == ["conv1", "gap1"]
    assert [r.name for r in compile_text(spec, {"t": 2}).cost.layers] == [
        "conv1",
        "relu1",
        "gap1",
    ]
    assert [r.name for r in compile_text(spec, {"t": 0}).cost.layers] == ["bn1", "gap1"]


def test_if_without_else_may_add_nothing():
    spec = "network n(use_se=false)\ninput 8x8x8\nlayers:\n    if use_se:\n        relu\n    bn\n"
    assert [r.name for r in compile_text(spec).cost.layers] == ["bn1"]


def test_conditional_block_in_a_block_uses_its_input():
    """MobileNet V2's rule: the shortcut only where stride is 1 and the width is unchanged."""
    spec = (
        "network n\ninput 16x8x8\n"
        "block body(out, stride):\n    conv 1x1 out=out stride=stride bn\n"
        "block unit(out, stride):\n"
        "    if stride == 1 and in == out:\n        residual:\n            body(out, stride)\n"
        "    else:\n        body(out, stride)\n"
        "layers:\n    unit(16, 1)\n    unit(32, 1)\n    unit(32, 2)\n    unit(32, 1)\n"
    )
    net = compile_text(spec)
    assert net.output_shape.as_list() == [32, 4, 4]
    # unit1 and unit4 keep their shortcut; unit3 and unit4 have the same weights' shapes
    assert net.cost.params == (16 * 16 + 32) + (16 * 32 + 64) + 2 * (32 * 32 + 64)
    assert "unit4.body1.conv1" in net.shapes and net.shapes["unit4"].as_list() == [32, 4, 4]


def test_lets_in_branches_and_loops_stay_defined():
    spec = (
        "network n(wide=true)\ninput 8x8x8\nlayers:\n"
        "    if wide:\n        let w = 32\n    else:\n        let w = 16\n"
        "    for i in range(2):\n        let last = i\n"
        "    conv 1x1 out=w + last\n"
    )
    assert compile_text(spec).output_shape.c == 33
    assert compile_text(spec, {"wide": False}).output_shape.c == 17


def test_loop_over_a_table_iterates_its_keys():
    spec = "network n\ninput 8x8x8\nlayers:\n    for k in {4: 0, 8: 0}:\n        conv 1x1 out=k\n"
    assert compile_text(spec).output_shape.c == 8


def test_blocks_with_loops_are_shared_per_argument_values():
    spec = (
        "network n\ninput 8x8x8\n"
        "block stage(c, n):\n    for i in range(n):\n        conv 3x3 out=c bn relu\n"
        "layers:\n    stage(8, 2)\n    stage(8, 2)\n    stage(16, 3)\n"
    )
    net = compile_text(spec)
    rows = [r.name for r in net.cost.layers]
    assert rows[:3] == ["stage1.conv1", "stage1.bn1", "stage1.relu1"]
    assert "stage3.conv3" in rows and "stage3.conv4" not in rows
    expected = 2 * 2 * (8 * 8 * 9 + 16) + (16 * 8 * 9 + 32) + 2 * (16 * 16 * 9 + 32)
    assert net.cost.params == expected


def test_torch_module_of_a_loop_network_matches_the_cost():
    torch = pytest.importorskip("torch")
    spec = (
        "network n(cfg=[[1, 16, 1, 1], [6, 24, 2, 2]])\ninput 16x16x16\n"
        "block expand(out, stride, t):\n"
        "    if t != 1:\n        conv 1x1 out=in*t bn relu6\n"
        "    dwconv 3x3 stride=stride bn relu6\n    conv 1x1 out=out bn\n"
        "block inverted(out, stride, t):\n"
        "    if stride == 1 and in == out:\n        residual:\n            expand(out, stride, t)\n"
        "    else:\n        expand(out, stride, t)\n"
        "layers:\n    for t, c, n, s in cfg:\n        for i in range(n):\n"
        "            inverted(out=c, stride=s if i == 0 else 1, t=t)\n"
    )
    net = compile_text(spec)
    module = net.to_torch().eval()
    assert sum(p.numel() for p in module.parameters()) == net.cost.params
    with torch.no_grad():
        out = module(torch.randn(1, 16, 16, 16))
    assert list(out.shape[1:]) == net.output_shape.as_list()


@pytest.mark.parametrize(
    "body, params, message, line",
    [
        ('    assert in == 8, "needs 8 channels"\n    relu\n', None, "needs 8 channels", 4),
        ("    assert false\n    relu\n", None, "assertion failed", 4),
    ],
)
def test_assert_in_a_body(body, params, message, line):
    err = compile_error(HEADER + body, params)
    first = err.diagnostics[0]
    assert (first.message, first.code, first.span.line) == (message, "assert", line)


def test_top_level_assert_checks_parameters():
    spec = (
        "network n(depths=[1, 2])\ninput 8x8x8\n"
        'assert len(depths) == 2, "depths needs one entry per stage"\n'
        "layers:\n    for d in depths:\n        relu x d\n"
    )
    assert len(compile_text(spec).cost.layers) == 3
    err = compile_error(spec, {"depths": [1, 2, 7]})
    assert err.diagnostics[0].message == "depths needs one entry per stage"
    assert (err.line, err.column) == (3, 8)


def test_errors_inside_loops_name_the_iteration():
    spec = (
        "network n\ninput 8x8x8\nlayers:\n"
        "    for c, n in [[8, 1], [12, 2]]:\n"
        "        for i in range(n):\n"
        "            conv 3x3 out=c + i * 0.5\n"
    )
    err = compile_error(spec)
    first = err.diagnostics[0]
    assert first.message == "conv out must be an integer, not 12.5"
    assert [f.describe() for f in first.chain] == [
        "iteration 2 of `for c, n` (c=12, n=2)",
        "iteration 2 of `for i` (i=1)",
    ]
    rendered = err.render()
    assert "  in iteration 2 of `for i` (i=1), at <spec>:5:13" in rendered
    assert rendered.index("for i`") < rendered.index("for c, n`")  # innermost first


def test_loop_errors_inside_a_block_show_both_chains():
    spec = (
        "network n\ninput 8x8x8\n"
        "block stage(c):\n    for i in range(2):\n        conv 1x1 out=c - i * 8\n"
        "layers:\n    stage(8)\n"
    )
    first = compile_error(spec).diagnostics[0]
    assert first.message == "conv out must be at least 1, got 0"
    assert [f.describe() for f in first.chain] == ["stage(c=8)", "iteration 2 of `for i` (i=1)"]


def test_validation_errors_inside_loops_name_the_iteration():
    """Divisibility is checked after elaboration, on the IR; the loop is gone by then, but its
    iterations still reach the chain (and identical mistakes of later iterations are merged)."""
    spec = (
        "network n\ninput 32x8x8\n"
        "block unit(g):\n    for i in range(3):\n        conv 1x1 out=32 group=g\n"
        "layers:\n"
        "    for g in [1, 2, 3]:\n        unit(g=g)\n"
        "    residual:\n        for w in [32, 24]:\n            conv 1x1 out=w\n"
    )
    err = compile_error(spec)
    assert err.codes == ["group-divisibility", "residual-shape"]
    first, residual = err.diagnostics
    assert first.message.endswith("by group=3 (and in 2 more iterations)")
    assert [f.describe() for f in first.chain] == [
        "iteration 3 of `for g` (g=3)",
        "unit(g=3)",
        "iteration 1 of `for i` (i=0)",
    ]
    assert (residual.span.line, [f.describe() for f in residual.chain]) == (
        11,
        ["iteration 2 of `for w` (w=24)"],
    )
    rendered = err.render()
    assert "  in iteration 1 of `for i` (i=0), at <spec>:4:9" in rendered


@pytest.mark.parametrize(
    "body, phrase, code",
    [
        ("    for a, b in [1, 2]:\n        relu\n", "cannot unpack 1 into 2 names (a, b)", "expr"),
        ("    for i in 3:\n        relu\n", "`for` needs a list or a table, not the value 3",
         "expr"),
        ("    for conv in [1]:\n        relu\n", "`conv` is reserved", "reserved"),
        ("    for true in [1]:\n        relu\n", "`true` is reserved", "reserved"),
        ("    if nope:\n        relu\n", "unknown name `nope`", "unknown-name"),
        ("    for i in range(100):\n        for j in range(100):\n            for k in range(60):\n"
         "                let z = k\n    relu\n", "evaluating the spec takes more than 1000000 steps",
         "limit"),
        ("    if true:\n        let w = 1\n    let w = 2\n    relu\n", "`w` is already defined",
         "redefined"),
    ],
)  # fmt: skip
def test_statement_mistakes(body, phrase, code):
    first = compile_error(HEADER + body).diagnostics[0]
    assert phrase in first.message and first.code == code, first.message


@pytest.mark.parametrize(
    "body",
    [
        "    else:\n        relu\n",
        "    elif true:\n        relu\n",
        "    for i range(3):\n        relu\n",
        "    for i in range(3)\n        relu\n",
        "    if true\n        relu\n",
        "    for 3 in [1]:\n        relu\n",
        "    for i, i in [[1, 2]]:\n        relu\n",
        "    assert true, 5\n    relu\n",
        '    assert true, "unterminated\n    relu\n',
    ],
)
def test_statement_syntax_errors(body):
    err = compile_error(HEADER + body)
    assert err.diagnostics[0].code == "syntax", err.render()


def test_loop_nesting_counts_towards_the_nesting_limit():
    depth = limits.MAX_NESTING + 1
    body = "".join("    " * (i + 1) + f"for i{i} in [1]:\n" for i in range(depth))
    err = compile_error(HEADER + body + "    " * (depth + 1) + "relu\n")
    assert err.diagnostics[0].code == "limit"


def test_a_family_compiles_for_every_member():
    spec = (
        "network n(depth=18)\ninput 8x8x8\n"
        'assert depth in_depths, "x"\n'.replace("depth in_depths", "depth == 18 or depth == 50")
        + "layers:\n    if depth < 50:\n        conv 3x3 out=8\n    else:\n        conv 1x1 out=32\n"
    )
    assert compile_text(spec).output_shape.c == 8
    assert compile_text(spec, {"depth": 50}).output_shape.c == 32
    with pytest.raises(specgen.SpecError, match="x"):
        compile_text(spec, {"depth": 34})


# ---- `as`: a layer's or block call's own name ----------------------------------------------

AS_SPEC = """network n
input 16x8x8
block unit(w):
    residual:
        conv 3x3 out=w bn relu as first
        conv 3x3 out=w bn
layers:
    conv 1x1 out=32 bn relu as stem
    unit(32) as stage1
    unit(32)
    sepconv 3x3 out=32 as sep
"""


def test_as_names_the_layer_in_reports_and_both_targets():
    net = compile_text(AS_SPEC)
    assert list(net.shapes)[:5] == ["stem", "bn1", "relu1", "stage1", "stage1.first"]
    assert "unit1.first" in net.shapes and "sep.dw" in net.shapes
    torch = pytest.importorskip("torch")
    module = net.to_torch()
    assert [name for name, _ in module.named_children()] == [
        "stem", "bn1", "relu1", "stage1", "unit1", "sep"
    ]  # fmt: skip
    assert isinstance(module.stem, torch.nn.Conv2d)
    assert sum(p.numel() for p in module.parameters()) == net.cost.params


def test_as_names_the_keras_layer():
    pytest.importorskip("keras")
    model = compile_text(AS_SPEC).to_keras()
    names = [layer.name for layer in model.layers]
    assert "stem" in names and "stage1-first" in names and "unit1-first" in names


@pytest.mark.parametrize(
    "body, phrase, code",
    [
        ("    relu as r\n    relu as r\n", "`r` already names a layer", "redefined"),
        ("    conv 1x1 out=16\n    relu as conv1\n", "`conv1` already names", "redefined"),
        ("    relu x 2 as r\n", "`as` names one layer or block call", "syntax"),
        ("    relu as forward\n", "`forward` is reserved", "reserved"),
        ("    relu as conv\n", "`conv` is reserved", "reserved"),
        ("    relu as class\n", "`class` is reserved", "reserved"),
        ("    for i in range(2):\n        relu as r\n", "`r` already names", "redefined"),
    ],
)
def test_as_mistakes(body, phrase, code):
    err = compile_error(HEADER + body)
    first = err.diagnostics[0]
    assert phrase in first.message and first.code == code, err.render()
    assert len(err.diagnostics) == 1, err.render()


def test_auto_names_skip_a_name_taken_by_as():
    net = compile_text(HEADER + "    relu as relu2\n    relu\n    relu\n")
    assert list(net.shapes) == ["relu2", "relu1", "relu3"]


# ---- a residual's submodules in the order written ------------------------------------------

SHORTCUT_FIRST = """network n
input 16x8x8
block down(out):
    residual:
        shortcut:
            conv 1x1 out=out stride=2 bn
        conv 3x3 out=out stride=2 bn relu
        conv 3x3 out=out bn
    relu
layers:
    down(32)
"""


def test_shortcut_written_first_is_named_and_registered_first():
    net = compile_text(SHORTCUT_FIRST)
    assert list(net.shapes)[1:4] == ["down1.conv1", "down1.bn1", "down1.conv2"]
    assert net.shapes["down1.conv1"].as_list() == [32, 4, 4]  # the 1x1 projection
    torch = pytest.importorskip("torch")
    module = net.to_torch()
    keys = list(module.state_dict())
    assert keys[0] == "down1.conv1.weight" and module.down1.conv1.kernel_size == (1, 1)
    assert sum(p.numel() for p in module.parameters()) == net.cost.params
    last = SHORTCUT_FIRST.replace(
        "        shortcut:\n            conv 1x1 out=out stride=2 bn\n", ""
    ).replace("        conv 3x3 out=out bn\n",
              "        conv 3x3 out=out bn\n        shortcut:\n            conv 1x1 out=out stride=2 bn\n")  # fmt: skip
    after = compile_text(last)
    assert after.cost.params == net.cost.params
    assert after.shapes["down1.conv1"].as_list() == [32, 4, 4] and "down1.conv3" in after.shapes
    with torch.no_grad():
        x = torch.randn(1, 16, 8, 8)
        other = after.to_torch().eval()
        module.eval()
        # the same weights under the written-order names give the same function
        mapping = {"conv1": "conv3", "bn1": "bn3", "conv2": "conv1", "bn2": "bn1", "conv3": "conv2",
                   "bn3": "bn2"}  # fmt: skip
        state = {k.replace(k.split(".")[1], mapping[k.split(".")[1]], 1): v
                 for k, v in module.state_dict().items()}  # fmt: skip
        other.load_state_dict(state)
        assert torch.equal(module(x), other(x))
