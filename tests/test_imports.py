"""`import "blocks.conv"`: blocks shared between specs, resolved relative to the importing
file, with cycles refused and every mistake shown in the file that holds it."""

from __future__ import annotations

import pytest

import specgen

BLOCKS = """# shared ResNet blocks
import "common.conv"

block basic(out, stride=1):
    residual:
        conv 3x3 out=out stride=stride bn relu
        conv 3x3 out=out bn
        shortcut:
            if stride != 1 or in != out:
                proj(out, stride)
    relu
"""
COMMON = "block proj(out, stride):\n    conv 1x1 out=out stride=stride bn\n"
NET = """network r(width=64)
input 3x32x32
import "lib/blocks.conv"
layers:
    conv 3x3 out=width bn relu
    basic(width)
    basic(width * 2, 2)
    gap
    fc 10
"""
INLINE = NET.replace(
    'import "lib/blocks.conv"\n', BLOCKS.replace('import "common.conv"\n', "") + COMMON
)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.conv").write_text(BLOCKS)
    (tmp_path / "lib" / "common.conv").write_text(COMMON)
    (tmp_path / "net.conv").write_text(NET)
    return tmp_path


def test_import_is_the_same_as_writing_the_blocks_inline(tree):
    net = specgen.compile(str(tree / "net.conv"))
    inline = specgen.compile(INLINE)
    assert net.shapes == inline.shapes
    assert (net.cost.params, net.cost.macs) == (inline.cost.params, inline.cost.macs)
    # basic2 projects (stride 2, 64 -> 128); basic1 keeps the identity shortcut
    assert "basic2.proj1.conv1" in net.shapes and "basic1.proj1.conv1" not in net.shapes


def test_imported_network_builds_in_torch(tree):
    torch = pytest.importorskip("torch")
    net = specgen.compile(str(tree / "net.conv"))
    module = net.to_torch()
    assert sum(p.numel() for p in module.parameters()) == net.cost.params
    assert module(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_text_specs_import_relative_to_the_current_folder(tree, monkeypatch):
    monkeypatch.chdir(tree)
    assert specgen.compile(NET).cost.params == specgen.compile(INLINE).cost.params


def test_mistakes_in_imported_blocks_are_shown_in_their_file(tree):
    (tree / "lib" / "common.conv").write_text(COMMON.replace("bn\n", "group=3 bn\n"))
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(str(tree / "net.conv"))
    err = info.value
    assert err.filename == str(tree / "lib" / "common.conv")
    text = err.render()
    assert f"{tree / 'lib' / 'common.conv'}:2:" in text
    assert "    conv 1x1 out=out stride=stride group=3 bn" in text  # the imported line
    assert f"called at {tree / 'lib' / 'blocks.conv'}:10:17" in text
    assert f"called at {tree / 'net.conv'}:7:5" in text


def test_edits_to_an_imported_file_are_seen(tree):
    before = specgen.compile(str(tree / "net.conv")).cost.params
    (tree / "lib" / "common.conv").write_text(COMMON.replace(" bn\n", "\n"))
    after = specgen.compile(str(tree / "net.conv")).cost.params
    assert before - after == 2 * 128 - 128  # bn (256) replaced by the conv's bias (128)


def test_import_cycle_is_refused_where_it_closes(tree):
    (tree / "lib" / "common.conv").write_text('import "blocks.conv"\n' + COMMON)
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(str(tree / "net.conv"))
    first = info.value.diagnostics[0]
    assert first.message == "import cycle: blocks.conv → common.conv → blocks.conv"
    assert first.code == "import" and first.span.file.endswith("common.conv")


def test_a_file_imported_twice_is_loaded_once(tree):
    (tree / "net.conv").write_text(NET.replace('import "lib/blocks.conv"\n',
                                                'import "lib/blocks.conv"\nimport "lib/common.conv"\n'))  # fmt: skip
    assert specgen.compile(str(tree / "net.conv")).cost.params > 0


@pytest.mark.parametrize(
    "line, phrase",
    [
        ('import "missing.conv"', "cannot import `missing.conv`: no such file"),
        ('import "lib"', "`import` names a .conv file, not `lib`"),
        ('import "/etc/passwd"', "`import` names a .conv file"),
        ('import "lib/"', "`import` names a .conv file"),
    ],
)
def test_bad_imports(tree, line, phrase):
    (tree / "net.conv").write_text(NET.replace('import "lib/blocks.conv"', line))
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(str(tree / "net.conv"))
    first = info.value.diagnostics[0]
    assert phrase in first.message and first.code == "import"
    assert first.span.line == 3


def test_a_block_defined_in_two_files(tree):
    (tree / "net.conv").write_text(NET.replace("layers:", COMMON + "layers:"))
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(str(tree / "net.conv"))
    first = info.value.diagnostics[0]
    assert first.message == "block `proj` is defined twice" and first.span.file is None


@pytest.mark.parametrize(
    "library, phrase",
    [
        ("let w = 3\n", "holds blocks and imports only, not `let`"),
        ("network n\n", "unexpected `network`"),
        ("block a(:\n", "this bracket is never closed"),
    ],
)
def test_what_an_imported_file_may_hold(tree, library, phrase):
    (tree / "lib" / "common.conv").write_text(library)
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(str(tree / "net.conv"))
    err = info.value
    assert phrase in err.diagnostics[0].message
    assert err.filename == str(tree / "lib" / "common.conv")


def test_empty_library_is_fine(tree):
    (tree / "lib" / "common.conv").write_text("# nothing yet\n")
    (tree / "lib" / "blocks.conv").write_text('import "common.conv"\n')
    (tree / "net.conv").write_text(
        'network n\ninput 3x8x8\nimport "lib/blocks.conv"\nlayers:\n    relu\n'
    )
    assert specgen.compile(str(tree / "net.conv")).output_shape.c == 3


def test_cli_reports_imported_mistakes_with_exit_2(tree, cli):
    (tree / "lib" / "common.conv").write_text(COMMON.replace("bn\n", "group=3 bn\n"))
    result = cli("check", str(tree / "net.conv"))
    assert result.code == 2 and "Traceback" not in result.err
    assert str(tree / "lib" / "common.conv") in result.err


def test_import_limit(tmp_path):
    from specgen import limits

    n = limits.MAX_IMPORTS + 1
    for k in range(n):  # a chain: lib0 imports lib1 imports ... (each file once)
        nxt = f'import "lib{k + 1}.conv"\n' if k + 1 < n else ""
        (tmp_path / f"lib{k}.conv").write_text(nxt + f"block b{k}():\n    relu\n")
    (tmp_path / "net.conv").write_text(
        'network n\ninput 3x8x8\nimport "lib0.conv"\nlayers:\n    b0()\n'
    )
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(str(tmp_path / "net.conv"))
    assert info.value.diagnostics[0].message == f"more than {limits.MAX_IMPORTS} files imported"


def test_a_fifo_is_not_imported(tmp_path):
    """Opening a FIFO for reading blocks until someone writes: a hostile spec must not hang."""
    import os

    os.mkfifo(tmp_path / "pipe.conv")
    (tmp_path / "net.conv").write_text(
        'network n\ninput 3x8x8\nimport "pipe.conv"\nlayers:\n    relu\n'
    )
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(str(tmp_path / "net.conv"))
    assert "not a regular file" in info.value.diagnostics[0].message


def test_a_folder_is_not_imported(tmp_path):
    (tmp_path / "dir.conv").mkdir()
    (tmp_path / "net.conv").write_text(
        'network n\ninput 3x8x8\nimport "dir.conv"\nlayers:\n    relu\n'
    )
    with pytest.raises(specgen.SpecError, match="not a regular file"):
        specgen.compile(str(tmp_path / "net.conv"))
