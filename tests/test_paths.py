"""`as "PATH"`: module paths with `{expr}` holes and `*`, as the IR, the cost report, both
targets and the deploy form name them; and `specgen.load_checkpoint`."""

from __future__ import annotations

import pytest

import specgen
from specgen import SpecError
from specgen.targets.checkpoints import CheckpointError, unwrap

torch = pytest.importorskip("torch")

HEAD = "network n(classes=10)\ninput 3x16x16\n"

RESNETISH = HEAD + """
block unit(c, stride):
    residual:
        conv 3x3 out=c stride=stride bn relu as "*"
        conv 3x3 out=c bn as "*"
        shortcut:
            if stride != 1 or in != c:
                conv 1x1 out=c stride=stride bn as "downsample.*"
    relu

layers:
    conv 3x3 out=8 bn relu as "stem.*"
    for s, c in enumerate([8, 16]):
        for i in range(2):
            unit(c, 2 if i == 0 and s > 0 else 1) as "layer{s + 1}.*"
    unit(16, 1) x 2 as "tail.*"
    gap
    fc classes as "fc"
"""


def names(body: str) -> list[str]:
    return list(specgen.compile(HEAD + "layers:\n" + body).shapes)


def error(body: str) -> str:
    with pytest.raises(SpecError) as e:
        specgen.compile(HEAD + "layers:\n" + body)
    return str(e.value)


def test_star_numbers_every_layer_of_the_line_and_each_execution():
    got = names(
        '    conv 3x3 out=8 bn relu as "features.*.*"\n'
        '    conv 3x3 out=8 bn as "features.*.*"\n'
        "    gap\n"
        '    fc classes as "classifier.{1}"\n'
    )
    assert got == [
        "features.0.0",
        "features.0.1",
        "features.0.2",
        "features.1.0",
        "features.1.1",
        "gap1",
        "classifier.1",
    ]


def test_without_a_last_star_the_path_names_the_first_layer_only():
    assert names('    conv 3x3 out=8 bn relu as "a.conv"\n') == ["a.conv", "bn1", "relu1"]


def test_holes_read_loop_variables_and_an_index_given_moves_the_next_one():
    got = names(
        "    for s in range(2):\n"
        '        conv 3x3 out=8 as "stage{s + 2}.block{s}-{s * 3}"\n'
        '    conv 3x3 out=8 as "x.{4}"\n'
        '    conv 3x3 out=8 as "x.*"\n'
    )
    assert got == ["stage2.block0-0", "stage3.block1-3", "x.4", "x.5"]


def test_repeats_append_one_index_per_copy_and_paths_nest_through_blocks():
    net = specgen.compile(RESNETISH)
    rows = list(net.shapes)
    assert rows[:3] == ["stem.0", "stem.1", "stem.2"]
    assert "layer2.0.downsample.0" in rows and "layer2.0.downsample.1" in rows
    assert "layer1.0.downsample.0" not in rows  # the branch not taken claims nothing
    assert [r for r in rows if r.count(".") == 1 and r[:4] == "tail"] == ["tail.0", "tail.1"]
    assert rows[-1] == "fc"


def test_automatic_names_skip_a_path_root():
    assert names('    conv 3x3 out=8 as "conv1.0"\n    conv 3x3 out=8\n') == ["conv1.0", "conv2"]


@pytest.mark.parametrize(
    ("body", "message", "caret"),
    [
        (
            '    conv 3x3 out=4 as "a.0"\n    conv 3x3 out=4 as "a.0"\n',
            "`a.0` already names",
            "^^^^^",
        ),
        (
            '    conv 3x3 out=4 as "a"\n    conv 3x3 out=4 as "a.0"\n',
            "`a` names a layer and cannot hold",
            "^^^^^",
        ),
        (
            '    conv 3x3 out=4 as "a.0"\n    conv 3x3 out=4 as "a"\n',
            "`a` holds other layers",
            "^^^",
        ),
        (
            '    conv 3x3 out=4 as "a.b-c"\n    conv 3x3 out=4 as "a-b.c"\n',
            "same Keras name `a-b-c`",
            "^",
        ),
        ('    conv 3x3 out=4 as "a{0 - 1}"\n', "non-negative int, got -1", "^^^^^"),
        ('    conv 3x3 out=4 as "a{1.5}"\n', "non-negative int, got 1.5", "^^^"),
        ('    conv 3x3 out=4 as "forward"\n', "`forward` cannot be part of a module path", "^"),
        ('    conv 3x3 out=4 as "a..b"\n', "parts cannot be empty", "^"),
        ('    conv 3x3 out=4 as "a*"\n', "`*` stands alone", "^^"),
        ('    conv 3x3 out=4 as "a/b"\n', "`/` cannot be part of a path", "^"),
        ('    conv 3x3 out=4 as "a{1"\n', "`{` is never closed", "^"),
        ('    conv 3x3 out=4 as "a{1 +}"\n', "not an expression", "^^^^^"),
        ('    conv 3x3 out=4 as "a{}"\n', "`{}` needs an expression", "^^"),
        ('    conv 3x3 out=4 as "a{zz}"\n', "unknown name `zz`", "^^"),
        ('    conv 3x3 out=4 x 2 as "a.b"\n', "end the path with `*`", "^^^^^"),
    ],
)
def test_mistakes_are_located(body, message, caret):
    text = error(body)
    assert message in text
    assert caret in text


def test_a_fixed_path_in_a_loop_is_a_clash_in_the_second_iteration():
    text = error('    for i in range(2):\n        conv 3x3 out=4 as "a.b"\n')
    assert "`a.b` already names" in text and "iteration 2 of `for i`" in text


def test_a_hole_error_points_inside_the_string():
    text = error('    conv 3x3 out=4 as "layer{zz + 1}"\n')
    assert ":4:30:" in text  # `zz`, inside the quotes


def test_torch_state_dict_keys_are_the_paths_in_registration_order():
    net = specgen.compile(RESNETISH)
    model = net.to_torch()
    keys = list(model.state_dict())
    assert keys[:2] == ["stem.0.weight", "stem.1.weight"]
    assert "layer2.0.downsample.0.weight" in keys and keys[-1] == "fc.bias"
    params = {k.rsplit(".", 1)[0] for k, _ in model.named_parameters()}
    assert params <= set(net.shapes)
    assert sum(p.numel() for p in model.parameters()) == net.cost.params
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_keys_that_are_no_identifiers_or_out_of_order_still_load_and_fold():
    spec = (
        HEAD
        + "layers:\n"
        + '    conv 3x3 out=8 bn relu as "trunk.block1-0.*"\n'
        + '    conv 3x3 out=8 as "x.{3}"\n'
        + '    conv 3x3 out=8 bn as "y-1"\n'
        + "    gap\n"
        + "    fc classes\n"
    )
    net = specgen.compile(spec)
    source = net.emit("torch", family=False)  # the per-point code (the deploy form's)
    assert 'getattr(self.trunk, "block1-0")' in source and 'add_module("3"' in source
    model = net.to_torch().eval()
    keys = [k for k in model.state_dict() if k.endswith("weight")]
    assert keys[:4] == [
        "trunk.block1-0.0.weight",
        "trunk.block1-0.1.weight",
        "x.3.weight",
        "y-1.weight",
    ]
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        before = model(x)
        after = model.fuse()(x)
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_deploy_form_keeps_the_paths():
    net = specgen.compile(RESNETISH).deploy()
    keys = list(net.to_torch().state_dict())
    assert "layer2.0.downsample.0.bias" in keys and "stem.0.bias" in keys


def test_keras_layer_names_are_the_paths_with_dashes():
    pytest.importorskip("keras")
    net = specgen.compile(RESNETISH)
    model = net.to_keras()
    layer_names = {layer.name for layer in model.layers}
    assert {"stem-0", "layer2-0-downsample-0", "tail-1-0", "fc"} <= layer_names


def test_fmt_keeps_the_quoted_path():
    from specgen.tools.fmt import format_source

    assert 'as "layer{s + 1}.*"' in format_source(RESNETISH)


# ---- load_checkpoint ----------------------------------------------------------------------


def test_unwrap_takes_off_wrappers_and_nesting():
    t = torch.zeros(1)
    assert unwrap({"module.a.weight": t, "module.b": t}) == {"a.weight": t, "b": t}
    assert unwrap({"state_dict": {"module._orig_mod.a": t}}) == {"a": t}
    assert unwrap({"model.a": t, "b": t}) == {"model.a": t, "b": t}  # not every key


def test_load_checkpoint_by_key_from_a_file(tmp_path):
    net = specgen.compile(RESNETISH)
    source, target = net.to_torch(), net.to_torch()
    with torch.no_grad():
        for p in source.parameters():
            p.normal_()
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    specgen.load_checkpoint(target, path)
    for (k, a), (_, b) in zip(
        source.state_dict().items(), target.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k


def test_load_checkpoint_names_what_does_not_match():
    net = specgen.compile(RESNETISH)
    model = net.to_torch()
    state = model.state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["fc.bias"]
    state["fc.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError) as e:
        specgen.load_checkpoint(model, state)
    text = str(e.value)
    assert "missing: fc.bias" in text and "unexpected: extra.weight" in text
    assert "fc.weight: checkpoint (3, 3), model (10, 16)" in text
