"""Rough edges of issue 11: `-o` modes and messages, TorchScript on `to_torch()` models, and
`.keras` files that load in a fresh process without the generated module.
"""

from __future__ import annotations

import gc
import inspect
import os
import pickle
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from conftest import EXAMPLES, ROOT  # noqa: E402

import specgen  # noqa: E402
from specgen.tools.output import TEMP_PREFIX, OutputError, write_output  # noqa: E402

EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.glob("*.conv"))

# every layer whose Keras form used to be a custom class: shuffle, igc, split, -inf padding
# (both sides, one side), hard sigmoid (alone and as an se gate), adaptive pooling
CUSTOM_FREE = """\
network n
input 6x7x7
layers:
    conv 1x1 out=8 group=2 bn relu
    shuffle group=2
    hsigmoid
    maxpool 2x2 stride=1 padding=[0, 1, 1, 0]
    maxpool 3x3 stride=2 padding=1 ceil_mode
    adaptiveavgpool 3x2
    se 4 gate=hsigmoid
    split:
        identity
        conv 1x1 out=2
    igc M=2 L=3 kernel=3x3 padding=1
"""


def _folder_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---- -o: modes, messages, what is not a regular file ---------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_write_output_gives_a_new_file_the_umask_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_output(str(tmp_path / "net.py"), "x = 1\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "net.py").stat().st_mode) == 0o666 & ~umask
    assert _folder_files(tmp_path) == ["net.py"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755, 0o444 | 0o200])
def test_write_output_keeps_an_existing_files_mode(tmp_path, mode):
    path = tmp_path / "net.py"
    path.write_text("old\n")
    path.chmod(mode)
    old = os.umask(0o077)
    try:
        write_output(str(path), "new\n")
    finally:
        os.umask(old)
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_search_outputs_get_the_umask_mode_too(cli, tmp_path):
    spec = tmp_path / "s.conv"
    spec.write_text("network s(w: choice(8, 16) = 8)\ninput 3x8x8\nlayers:\n    conv 1x1 out=w\n")
    old = os.umask(0o027)
    try:
        result = cli(
            "search", str(spec), "--trials", "2", "-o", str(tmp_path / "r.txt"),
            "--best-spec", str(tmp_path / "best.conv"),
        )  # fmt: skip
    finally:
        os.umask(old)
    assert result.code == 0, result.err
    for name in ("r.txt", "best.conv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


def test_missing_folder_names_the_folder_the_user_gave(cli, tmp_path):
    spec = tmp_path / "n.conv"
    spec.write_text("network n\ninput 3x8x8\nlayers:\n    conv 1x1 out=4\n")
    target = tmp_path / "no" / "such" / "net.py"
    result = cli("build", str(spec), "--target", "torch", "-o", str(target))
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line == f"specgen: error: {target}: no such folder: {target.parent}"
    assert TEMP_PREFIX not in result.err


def test_a_failure_while_writing_names_the_users_path_not_the_temporary_file(
    tmp_path, monkeypatch
):
    """The folder vanishing between the check and the write: the OSError is about the
    temporary file, the message about the path the user named."""
    real_open = os.open

    def vanished(path, *args, **kwargs):
        if os.path.basename(str(path)).startswith(TEMP_PREFIX):
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", vanished)
    with pytest.raises(OutputError) as info:
        write_output(str(tmp_path / "net.py"), "x = 1\n")
    assert str(info.value) == f"cannot write {tmp_path / 'net.py'}: No such file or directory"
    assert _folder_files(tmp_path) == []


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "fifo"


def _folder(path: Path) -> str:
    path.mkdir()
    return "folder"


def _socket(path: Path) -> str:
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return "socket"


def _made(tmp_path: Path, make, through_link: bool) -> tuple[Path, Path, os.stat_result]:
    """The thing `make` makes, the path to write (it, or a symlink to it) and its stat."""
    thing = tmp_path / "thing"
    make(thing)
    path = thing
    if through_link:
        path = tmp_path / "link.py"
        path.symlink_to(thing)
    return thing, path, os.lstat(thing)


@pytest.mark.parametrize("make", [_folder, _socket])
@pytest.mark.parametrize("through_link", [False, True])
def test_never_clobbers_what_is_not_a_regular_file(tmp_path, make, through_link):
    thing, path, before = _made(tmp_path, make, through_link)
    with pytest.raises(OutputError):
        write_output(str(path), "x = 1\n")
    after = os.lstat(thing)
    assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (
        before.st_ino,
        stat.S_IFMT(before.st_mode),
    )
    assert not any(name.startswith(TEMP_PREFIX) for name in _folder_files(tmp_path))


@pytest.mark.parametrize("through_link", [False, True])
def test_a_fifo_is_written_to_never_replaced(tmp_path, through_link):
    """A FIFO is written *to*, as `>` would (its reader gets the text), and stays a FIFO."""
    fifo, path, before = _made(tmp_path, _fifo, through_link)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader first: no wait, no race
    try:
        write_output(str(path), "x = 1\n")
        assert os.read(reader, 100) == b"x = 1\n"
    finally:
        os.close(reader)
    after = os.lstat(fifo)
    assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (before.st_ino, stat.S_IFIFO)
    assert not any(name.startswith(TEMP_PREFIX) for name in _folder_files(tmp_path))


def test_a_fifo_nobody_reads_is_refused_at_once(tmp_path):
    """`>` would wait for a reader for ever; the write is refused instead, and the FIFO kept."""
    fifo = tmp_path / "thing"
    _fifo(fifo)
    start = time.monotonic()
    with pytest.raises(OutputError, match="no process is reading it"):
        write_output(str(fifo), "x = 1\n")
    assert time.monotonic() - start < 5 and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_the_null_device_is_written_to_never_replaced():
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    before = os.stat("/dev/null")
    write_output("/dev/null", "x = 1\n")  # as `> /dev/null`: the text is discarded
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert stat.S_ISCHR(after.st_mode)


def test_other_character_devices_are_refused():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    before = os.stat("/dev/zero")
    with pytest.raises(OutputError, match="character device"):
        write_output("/dev/zero", "x = 1\n")
    assert os.stat("/dev/zero").st_ino == before.st_ino


# ---- TorchScript on to_torch() models --------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_torch_jit_script_works_on_to_torch_models(name):
    torch = pytest.importorskip("torch")
    net = specgen.compile(EXAMPLES / name)
    model = net.to_torch().eval()
    # a body with composites has a forward of its own; a plain sequence is an nn.Sequential
    base = "nn.Module" if "forward" in vars(type(model)) else "nn.Sequential"
    assert inspect.getsource(type(model)).startswith(f"class {type(model).__name__}({base}):")
    scripted = torch.jit.script(model)
    x = torch.randn(1, *net.input_shape.as_list(), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref, got = model(x), scripted(x)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_to_torch_source_is_registered_while_a_model_lives():
    pytest.importorskip("torch")
    import linecache

    # a source no other test scripts (TorchScript keeps the classes it compiled, and with
    # them their module; every member of a family shares its module): a network of its own
    text = (EXAMPLES / "shuffle.conv").read_text().replace("network shuffle", "network lives")
    net = specgen.compile(text, {"g": 16})
    a, b = net.to_torch(), net.to_torch()
    cls = type(a)
    assert type(b) is cls  # one module per source, as an import would give
    module = sys.modules[cls.__module__]
    assert module.__file__.startswith("<specgen:lives-") and module.__file__.endswith(">")
    assert "".join(linecache.getlines(module.__file__)) == net.emit("torch", format=False)
    # pickling finds the class by its module, as for a -o file
    copy = pickle.loads(pickle.dumps(a))
    assert type(copy) is cls and copy.state_dict().keys() == a.state_dict().keys()
    name, filename = cls.__module__, module.__file__
    del a, copy, module
    gc.collect()
    assert name in sys.modules  # b still lives
    del b, cls  # nothing of the module left (the class alone would keep it registered)
    gc.collect()
    assert name not in sys.modules and filename not in linecache.cache


def test_same_network_name_with_other_values_gets_another_module():
    """Members of one family share the family code's module; the per-point code of two
    members (the deploy form) is two modules."""
    pytest.importorskip("torch")
    from specgen.targets import get_emitter

    net3 = specgen.compile(EXAMPLES / "shufflenet_v1.conv", {"g": 3})
    net8 = specgen.compile(EXAMPLES / "shufflenet_v1.conv", {"g": 8})
    m3, m8 = net3.to_torch(), net8.to_torch()
    assert type(m3) is type(m8) and "def __init__(self, g=3, classes=1000)" in (
        inspect.getsource(type(m3))
    )
    p3, p8 = (get_emitter("torch").build(n, family=False) for n in (net3, net8))
    assert type(p3).__module__ != type(p8).__module__
    assert "g=3" in inspect.getsource(type(p3)) and "g=8" in inspect.getsource(type(p8))


# ---- .keras files in a fresh process ---------------------------------------------------------

_LOAD = """\
import sys
import numpy as np
import keras
model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], keras.ops.convert_to_numpy(model(x, training=False)))
print(keras.backend.backend(), "loaded", len(model.layers))
"""


def _keras_round_trip(net, tmp_path: Path, backend: str, split_groups: bool = False):
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    model = net.to_keras(split_groups=split_groups)
    code = net.emit("keras", split_groups=split_groups)
    assert "\nclass " not in code and "Lambda" not in code  # only Keras' own layers
    rng = np.random.default_rng(5)
    s = net.input_shape
    x = (rng.normal(size=(2, s.h, s.w, s.c)) * 4).astype("float32")
    before = keras.ops.convert_to_numpy(model(x, training=False))
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    # a fresh interpreter that never imports specgen nor the generated module
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [sys.executable, "-c", _LOAD, "m.keras", "x.npy", "y.npy"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[:2] == [backend, "loaded"], out.stdout
    return before, np.load(tmp_path / "y.npy")


@pytest.mark.parametrize("split_groups", [False, True])
def test_keras_file_loads_in_a_fresh_process_without_the_module(tmp_path, split_groups):
    np = pytest.importorskip("numpy")
    net = specgen.compile(CUSTOM_FREE)
    before, after = _keras_round_trip(net, tmp_path, "tensorflow", split_groups)
    np.testing.assert_array_equal(before, after)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["shufflenet_v2.conv", "igc_cifar.conv", "mobilenet_v3.conv"])
def test_example_keras_files_load_in_a_fresh_process(tmp_path, name):
    np = pytest.importorskip("numpy")
    net = specgen.compile(EXAMPLES / name)
    before, after = _keras_round_trip(net, tmp_path, "tensorflow")
    np.testing.assert_array_equal(before, after)


def test_keras_file_saved_on_tensorflow_loads_on_the_torch_backend(tmp_path):
    np = pytest.importorskip("numpy")
    pytest.importorskip("torch")
    net = specgen.compile(CUSTOM_FREE)
    before, after = _keras_round_trip(net, tmp_path, "torch")
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


def test_keras_layers_compute_what_pytorch_computes():
    """The built-in forms of the former helper layers, against PyTorch (verify: every
    block), with and without split groups."""
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    from specgen.targets.verify import verify

    # a padded, strided group conv: the split-groups form slices the padded map
    padded = "network p\ninput 8x9x9\nlayers:\n    conv 3x3 out=8 stride=2 group=4\n"
    for source in (CUSTOM_FREE, padded):
        net = specgen.compile(source)
        for split_groups in (False, True):
            report = verify(net, split_groups=split_groups)
            assert report.passed, report.render()


def test_max_pool_edge_padding_is_exact_for_negative_maps():
    """-inf padding and edge copies agree where zero padding would not (every value < 0)."""
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    for layer in (
        "maxpool 3x3 stride=2 padding=1",
        "maxpool 2x2 stride=1 padding=[1, 0, 0, 1]",
        "maxpool 3x3 stride=2 padding=1 ceil_mode",
        "maxpool 5x3 stride=[3, 1] padding=[2, 1]",
    ):
        net = specgen.compile(f"network p\ninput 3x8x9\nlayers:\n    {layer}\n")
        x = -np.abs(np.random.default_rng(0).normal(size=(2, 3, 8, 9))).astype("float32") - 1
        with torch.no_grad():
            ref = net.to_torch()(torch.from_numpy(x)).numpy().transpose(0, 2, 3, 1)
        got = keras.ops.convert_to_numpy(net.to_keras()(x.transpose(0, 2, 3, 1)))
        np.testing.assert_array_equal(got, ref, err_msg=layer)


def test_keras_code_is_black_clean_with_the_new_forms(tmp_path):
    for split_groups in (False, True):
        path = tmp_path / f"n{int(split_groups)}.py"
        path.write_text(specgen.compile(CUSTOM_FREE).emit("keras", split_groups=split_groups))
        out = subprocess.run([sys.executable, "-m", "black", "--check", "-q", str(path)], cwd=ROOT)
        assert out.returncode == 0, path.read_text()
