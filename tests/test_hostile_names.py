"""Hostile names: every Python keyword and soft keyword, builtin, `nn.Module`, `keras.Model`
and `keras.layers.Layer` attribute, every name the templates use, and the names of the issue
(`_1`, `None`, `none`, `True`, `dw`, `pw`, `bfloat`), as the network's name, a block's name
(called twice, and 16 times), a parameter's and a `let`'s: the compiler refuses the name with a
SpecError, or both targets build, import and run a forward pass with exactly the cost
report's parameters.

Each role packs every name into one wide spec (an `add:` branch per name, so that the Keras
graph stays shallow) instead of building once per name, to keep the file CI-sized.
"""

from __future__ import annotations

import builtins
import importlib.util
import keyword
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import specgen  # noqa: E402
from specgen import (
    layers,  # noqa: E402
    names,
)
from specgen.language import words  # noqa: E402

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")
black = pytest.importorskip("black")

# the names the generated code itself uses, at module level and as locals
TEMPLATE_NAMES = {
    *("torch", "nn", "OrderedDict", "channel_shuffle", "ChannelShuffle", "InterleavedGroupConv"),
    *("keras", "layers", "ops", "ChannelSlice", "ConstantPad2D", "Module", "Tensor"),
    *("DeployConv2d", "ONEDNN", "ONEDNN_ACTIVATIONS", "is_channels_last", "in_layout"),
    *("channels_last", "_onednn_ready", "fold_batchnorm", "SqueezeExcitation"),
    *("self", "x", "inputs", "name", "i", "out", "out1", "shortcut", "part1", "branch1"),
}
ISSUE_NAMES = {"_1", "None", "none", "True", "dw", "pw", "bfloat"}
HOSTILE = sorted(
    names.KEYWORDS
    | names.BUILTINS
    | names.TORCH_MODULE_ATTRIBUTES
    | names.KERAS_ATTRIBUTES
    | TEMPLATE_NAMES
    | ISSUE_NAMES
)
# what the .conv language may refuse to bind: its own words, layers, composites, Python's keywords
REFUSABLE = set(words.KEYWORDS) | set(layers.OPS) | set(words.COMPOSITES) | set(keyword.kwlist)


def test_name_sets_cover_the_installed_python_and_frameworks():
    """The static sets of specgen/names.py (the core imports no framework) must not rot."""
    assert set(keyword.kwlist) | set(keyword.softkwlist) <= names.KEYWORDS
    assert {n for n in dir(builtins) if not n.startswith("__pybind11")} <= names.BUILTINS
    module = set(dir(torch.nn.Module)) | set(dir(torch.nn.Module()))
    # torch.compile marks nn.Module at run time with `___`-prefixed private flags
    module = {n for n in module if not n.startswith("___")}
    assert module <= names.TORCH_MODULE_ATTRIBUTES, sorted(module - names.TORCH_MODULE_ATTRIBUTES)
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    layer = set(dir(keras.Model)) | set(dir(keras.layers.Layer)) | set(dir(keras.layers.Layer()))
    layer |= set(dir(model))
    assert layer <= names.KERAS_ATTRIBUTES, sorted(layer - names.KERAS_ATTRIBUTES)


def _accepted(role: str, make: Callable[[str], str]) -> list[str]:
    """The hostile names the compiler accepts in `make`'s role; any refusal is a SpecError
    (any other exception fails the test) for a word the language reserves."""
    accepted = []
    for n in HOSTILE:
        try:
            specgen.compile(make(n))
        except specgen.SpecError as err:
            assert n in REFUSABLE, f"{role} `{n}` refused: {err}"
            continue
        accepted.append(n)
    return accepted


@pytest.fixture(scope="module")
def block_names() -> list[str]:
    names_ = _accepted(
        "block", lambda n: f"network t\ninput 2x2x2\nblock {n}:\n    prelu\nlayers:\n    {n}\n"
    )
    assert ISSUE_NAMES - {"None", "True"} <= set(names_)
    return names_


def _import(code: str, path: Path):
    """Import generated source from a file, as a user would; returns the module."""
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[path.stem]
    return module


def _entry(module) -> Callable:
    """The network class or function: the last one the module defines."""
    defined = [
        v
        for v in vars(module).values()
        if callable(v) and getattr(v, "__module__", None) == module.__name__
    ]
    return defined[-1]


def _check_torch(net, model) -> None:
    model.eval()
    with torch.no_grad():
        y = model(torch.randn(1, *net.input_shape.as_list()))
    assert tuple(y.shape[1:]) == tuple(net.output_shape.as_list())
    assert sum(p.numel() for p in model.parameters()) == net.cost.params


def _check_keras(net, model) -> None:
    s = net.input_shape
    y = model(np.random.rand(1, s.h, s.w, s.c).astype("float32"))
    assert tuple(y.shape[1:]) == (net.output_shape.h, net.output_shape.w, net.output_shape.c)
    assert model.count_params() == net.cost.params


def _wide(calls: Callable[[str], str], block_names: list[str]) -> str:
    """Every block called in its own branch of one `add:`; locals out, shortcut, part1, ..."""
    blocks = "".join(f"block {n}:\n    prelu\n" for n in block_names)
    branches = "".join(f"            branch:\n{calls(n)}" for n in block_names)
    return (
        f"network wide\ninput 2x2x2\n{blocks}layers:\n    residual:\n        add:\n{branches}"
        "        shortcut:\n            split:\n                identity\n                identity\n"
    )


def test_blocks_called_twice_build_import_and_run(block_names, tmp_path):
    """`dw`/`pw` twice gave one shared module (half the params; Keras refused the duplicate
    layer names); `inputs`, `out`, `name`, `part1`, `branch1` shadowed locals."""
    net = specgen.compile(_wide(lambda n: f"                {n}\n" * 2, block_names))
    assert net.cost.params == 2 * 2 * len(block_names)  # a 2-channel PReLU per call
    _check_torch(net, _entry(_import(net.emit("torch"), tmp_path / "hostile_torch.py"))())
    _check_keras(net, _entry(_import(net.emit("keras"), tmp_path / "hostile_keras.py"))())


def test_blocks_called_16_times_build_and_run(block_names):
    """The 16th call of `bfloat` was the attribute `bfloat16`, i.e. `nn.Module.bfloat16`."""
    net = specgen.compile(_wide(lambda n: f"                {n} x 16\n", block_names))
    assert net.cost.params == 16 * 2 * len(block_names)
    assert "bfloat16_" in {row.name for row in net.cost.blocks}
    _check_torch(net, net.to_torch())
    # Keras names layers by strings, so only the numbered names that are reserved matter
    # there (16 calls of every name would be ~15,000 layers)
    numbered = [
        n
        for n in block_names
        if n in ISSUE_NAMES | TEMPLATE_NAMES
        or any(f"{n}{k}" in names.RESERVED for k in range(1, 17))
    ]
    keras_net = specgen.compile(_wide(lambda n: f"                {n} x 16\n", numbered))
    _check_keras(keras_net, keras_net.to_keras())


def test_deploy_form_with_hostile_block_names(block_names, tmp_path):
    """The deploy form's own names (DeployConv2d and its oneDNN helpers at module level, the
    network's `channels_last` local when its output is a map) against every block name."""
    blocks = "".join(f"block {n}:\n    conv 1x1 out=2 bn relu\n" for n in block_names)
    calls = "".join(f"    {n}\n" for n in block_names)
    net = specgen.compile(f"network wide\ninput 2x3x3\n{blocks}layers:\n{calls}").deploy()
    code = net.emit("torch")
    assert "DeployConv2d(" in code and "in_layout(" in code
    assert black.format_str(code, mode=black.Mode()) == code
    _check_torch(net, _entry(_import(code, tmp_path / "hostile_deploy.py"))())
    _check_torch(net, net.to_torch())


def test_network_names_build_and_run():
    """`network None` built `class None(nn.Module)`, `network _1` `class 1(...)`."""

    def make(n: str) -> str:
        return f"network {n}(g=2)\ninput 2x2x2\nlayers:\n    prelu\n"

    accepted = _accepted("network", make)
    assert set(accepted) >= ISSUE_NAMES
    models = []
    for n in accepted:
        net = specgen.compile(make(n))
        for target in ("torch", "keras"):
            compile(net.emit(target), f"<{target} {n}>", "exec")  # the file form is valid too
        _check_torch(net, net.to_torch())
        model = net.to_keras()
        assert model.count_params() == net.cost.params
        models.append(model)
    # one forward pass through every Keras model at once (a call costs ~25 ms each)
    inputs = keras.Input((2, 2, 2))
    outputs = keras.Model(inputs, [m(inputs) for m in models])(np.ones((1, 2, 2, 2), "float32"))
    assert len(outputs) == len(accepted)


def test_parameter_and_let_names_build_and_run():
    params = _accepted(
        "parameter",
        lambda n: f"network t({n}=1)\ninput 2x2x2\nblock b({n}=2):\n    conv 1x1 out={n}\nlayers:\n    b({n}={n} * 2)\n",
    )
    lets = _accepted(
        "let", lambda n: f"network t\ninput 2x2x2\nlet {n} = 2\nlayers:\n    conv 1x1 out={n}\n"
    )
    assert set(params) == set(lets)
    total = ", ".join(params)
    defaults = ", ".join(f"{n}=1" for n in params)
    specs = [
        # network and block parameters, all read by expressions; the docstrings list them
        f"network params({defaults})\ninput 2x2x2\n"
        f"block b({defaults.replace('=1', '=2')}):\n    conv 1x1 out=sum([{total}]) / {len(params)}\n"
        f"layers:\n    conv 1x1 out=sum([{total}]) * 2 / {len(params)}\n    b\n",
        # top-level lets, each reading the one before
        "network lets\ninput 2x2x2\nlet "
        + "\nlet ".join(f"{n} = {prev}" for prev, n in zip(["2", *lets[:-1]], lets, strict=True))
        + f"\nlayers:\n    conv 1x1 out={lets[-1]}\n",
        # lets in a block body and in `layers:`
        "network body_lets\ninput 2x2x2\nblock b:\n    let "
        + "\n    let ".join(
            f"{n} = {prev}" for prev, n in zip(["in", *lets[:-1]], lets, strict=True)
        )
        + f"\n    conv 1x1 out={lets[-1]}\nlayers:\n    b\n    let "
        + "\n    let ".join(
            f"{n} = {prev}" for prev, n in zip(["2", *lets[:-1]], lets, strict=True)
        )
        + f"\n    conv 1x1 out={lets[-1]}\n",
    ]
    for text in specs:
        net = specgen.compile(text)
        _check_torch(net, net.to_torch())
        _check_keras(net, net.to_keras())


def test_hostile_output_is_black_stable(block_names):
    """The statements laid out without black are what black would write."""
    chosen = [n for n in block_names if n in ISSUE_NAMES | TEMPLATE_NAMES] + [
        n for n in block_names if len(n) > 30
    ]
    net = specgen.compile(
        _wide(lambda n: f"                {n}\n                {n} x 16\n", chosen)
    )
    for code in (net.emit("torch"), net.emit("keras"), net.emit("keras", split_groups=True)):
        assert black.format_str(code, mode=black.Mode()) == code
