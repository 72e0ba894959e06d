"""The PyTorch target, checked against PyTorch's own counters and tools.

Every example and parameter variant: the generated module builds, its output and every
block's output (forward hooks) have the compiler's shapes, `parameters()` sums to the cost
report's params and FlopCounterMode's total ÷ 2 to its MACs.  Then torch.compile, torch.export
and ONNX against eager, golden files, determinism, injection and the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL, VARIANTS, check_golden, variant_id

import specgen
from specgen.tools.cli import main

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "torch"

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ],
    ),
]


def _shape_matches(tensor, shape) -> bool:
    """The compiler's C×H×W; a C×1×1 map after fc or flatten is a 2-D (N, C) tensor."""
    if tensor.dim() == 2:
        return shape.h == shape.w == 1 and tensor.shape[1] == shape.c
    return tuple(tensor.shape[1:]) == (shape.c, shape.h, shape.w)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_module_matches_compiler(variant, device):
    name, params = variant
    net = specgen.compile(EXAMPLES / name, params)
    model = net.to_torch().eval().to(device)
    x = torch.randn(2, *net.input_shape.as_list(), device=device)

    seen = {}
    hooks = []
    for row in net.cost.blocks:
        module = model.get_submodule(row.name)
        hooks.append(module.register_forward_hook(lambda m, i, o, n=row.name: seen.update({n: o})))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x[:1])
    for h in hooks:
        h.remove()

    assert _shape_matches(y, net.output_shape)
    assert set(seen) == {row.name for row in net.cost.blocks}
    for row in net.cost.blocks:
        assert _shape_matches(seen[row.name], row.output), row.name
    assert sum(p.numel() for p in model.parameters()) == net.cost.params
    assert counter.get_total_flops() // 2 == net.cost.macs
    assert counter.get_total_flops() == net.cost.flops
    with torch.no_grad():
        assert model(x).shape[0] == 2  # batches of more than one


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", SMALL)
def test_torch_compile_matches_eager(name, device):
    net = specgen.compile(EXAMPLES / name)
    model = net.to_torch().eval().to(device)
    x = torch.randn(2, *net.input_shape.as_list(), device=device)
    with torch.no_grad():
        expected = model(x)
        got = torch.compile(model)(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", [p.name for p in sorted(EXAMPLES.glob("*.conv"))])
def test_torch_export_matches_eager(name):
    net = specgen.compile(EXAMPLES / name)
    model = net.to_torch().eval()
    x = torch.randn(1, *net.input_shape.as_list())
    with torch.no_grad():
        expected = model(x)
        program = torch.export.export(model, (x,))
        got = program.module()(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["shuffle.conv", "igc.conv", "gdc.conv", "shufflenet_v2.conv"])
def test_onnx_export_matches_eager(name, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    net = specgen.compile(EXAMPLES / name)
    model = net.to_torch().eval()
    x = torch.randn(1, *net.input_shape.as_list())
    with torch.no_grad():
        expected = model(x).numpy()
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=True, verbose=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert abs(got - expected).max() <= 1e-4 * max(1.0, abs(expected).max())


def test_channels_last_matches_contiguous():
    net = specgen.compile(EXAMPLES / "shufflenet_v1.conv")
    model = net.to_torch().eval()
    x = torch.randn(2, *net.input_shape.as_list())
    with torch.no_grad():
        expected = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        got = model_cl(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_shuffle_and_igc_permutations_are_the_published_ones():
    """Shuffle (g, C/g) -> (C/g, g); IGC secondary group m sees channel m of every primary
    group, and the permutation back restores the primary order."""
    net = specgen.compile(EXAMPLES / "shuffle.conv")
    ns: dict = {}
    exec(net.emit("torch"), ns)
    x = torch.arange(12.0).view(1, 12, 1, 1)
    got = ns["channel_shuffle"](x, 3).flatten().tolist()
    assert got == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
    cl = torch.arange(12.0).view(1, 12, 1, 1).repeat(1, 1, 2, 2)
    cl = cl.to(memory_format=torch.channels_last)
    assert ns["channel_shuffle"](cl, 3)[0, :, 1, 1].tolist() == got

    igc = specgen.compile(EXAMPLES / "igc.conv", {"M": 2, "L": 3}).emit("torch")
    ns = {}
    exec(igc, ns)
    block = ns["InterleavedGroupConv"](M=2, L=3, kernel_size=1)
    with torch.no_grad():
        block.primary.weight.zero_()
        for c in range(6):  # primary: identity, so channel (l, m) keeps its input
            block.primary.weight[c, c % 2] = 1.0
        block.secondary.weight.fill_(1.0)  # secondary: each output sums its group
    # primary groups (L=3 of M=2 channels): (1, 2) (10, 20) (100, 200); secondary group 0
    # must see channel 0 of every primary group (1 + 10 + 100), group 1 channel 1 (222)
    x = torch.tensor([1.0, 2, 10, 20, 100, 200]).view(1, 6, 1, 1)
    assert block(x).flatten().tolist() == [111.0, 222.0, 111.0, 222.0, 111.0, 222.0]


# ---- the generated source ----------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL)
def test_golden_files(name):
    code = specgen.compile(EXAMPLES / name).emit("torch")
    check_golden(code, GOLDEN / (name.removesuffix(".conv") + ".py"))


def test_generated_code_is_deterministic():
    code = specgen.compile(EXAMPLES / "mobilefacenet.conv").emit("torch")
    assert specgen.compile(EXAMPLES / "mobilefacenet.conv").emit("torch") == code
    script = "import specgen, sys; " "sys.stdout.write(specgen.compile(sys.argv[1]).emit('torch'))"
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", script, str(EXAMPLES / "mobilefacenet.conv")],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        assert out == code


@pytest.mark.parametrize("name", ["shufflenet_v1.conv", "igc_cifar.conv", "mobilenet_v1.conv"])
def test_generated_code_passes_black_and_ruff_and_runs_without_specgen(name, tmp_path):
    path = tmp_path / "model.py"
    assert main(["build", str(EXAMPLES / name), "--target", "torch", "-o", str(path)]) == 0
    black = subprocess.run([sys.executable, "-m", "black", "--check", "-q", str(path)])
    assert black.returncode == 0
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(path)],
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout
    assert "specgen" not in path.read_text().replace("specgen ", "").split('"""', 2)[2]
    net = specgen.compile(EXAMPLES / name)
    cls = "".join(p.capitalize() for p in net.name.split("_"))
    script = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(n, *a, **k):\n"
        "    if n.split('.')[0] == 'specgen': raise ImportError('specgen imported')\n"
        "    return real(n, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "import model, torch\n"
        f"m = model.{cls}().eval()\n"
        f"print(sum(p.numel() for p in m.parameters()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert int(out.stdout) == net.cost.params


HOSTILE = """\
network print(class_=1)
input 3x8x8

block channel_shuffle(n):
    conv 1x1 out=n bn relu

block torch:
    identity

block nn(k=1):
    conv 3x3 group=k

layers:
    channel_shuffle(4)
    shuffle group=2
    torch
    nn
    gap
    fc 2
"""


def test_hostile_names_are_renamed_or_rejected(tmp_path):
    for bad, word in [("class", "class"), ("import", "import"), ("lambda", "lambda")]:
        with pytest.raises(specgen.SpecError) as err:
            specgen.compile(HOSTILE.replace("block torch:", f"block {bad}:"))
        assert "reserved" in str(err.value) and word in str(err.value)
    net = specgen.compile(HOSTILE, filename='evil"""\nimport os.conv')
    code = net.emit("torch")
    assert "import os" not in code
    ns: dict = {}
    exec(compile(code, "gen", "exec"), ns)
    assert ns["ChannelShuffle"].__doc__.startswith("Channel shuffle")  # the helper, untouched
    assert ns["ChannelShuffle_"].__doc__.startswith("channel_shuffle(n)")  # the block, renamed
    model = ns["Print"]().eval()
    y = model(torch.randn(1, 3, 8, 8))
    assert y.shape == (1, 2)
    names = {n for n, _ in model.named_children()}
    # the compiler's names, and the family code's nn.Flatten before the fc
    assert names == {"channel_shuffle1", "shuffle1", "torch1", "nn1", "gap1", "flatten", "fc1"}


def test_build_cli_stdout_and_atomic_write(tmp_path, capsys):
    assert main(["build", str(EXAMPLES / "igc.conv"), "--target", "torch"]) == 0
    assert "class InterleavedGroupConv(nn.Module)" in capsys.readouterr().out
    out = tmp_path / "net.py"
    out.write_text("keep me")
    bad = tmp_path / "bad.conv"
    bad.write_text("network n\ninput 3x8x8\nlayers:\n    conv 3x3 out=6 group=4\n")
    assert main(["build", str(bad), "--target", "torch", "-o", str(out)]) == 2
    assert out.read_text() == "keep me"
    assert {p.name for p in tmp_path.iterdir()} == {"net.py", "bad.conv"}  # no temporary left
    assert main(["build", str(EXAMPLES / "igc.conv"), "--target", "nope"]) == 2
    assert "unknown target" in capsys.readouterr().err


def test_in_memory_build_needs_no_file_and_reuses_compiled_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (EXAMPLES / "shufflenet_v1.conv").read_text()
    a = specgen.compile(text, {"g": 2}).to_torch()
    b = specgen.compile(text, {"g": 2}).to_torch()
    assert type(a).__name__ == type(b).__name__ == "ShufflenetV1"
    assert list(tmp_path.iterdir()) == []
    from specgen.targets.common import _compiled

    assert _compiled.cache_info().hits >= 1
