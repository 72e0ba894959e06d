"""The layout is the architecture (docs/architecture.md): these tests read every module's import
statements (with `ast`, importing nothing) and fail on an import cycle, on an import from a
stage up into a later one or into a tool, on a deep-learning framework imported by the core or
at module level anywhere, and on a module or class that has grown past its size."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "specgen"

# The stages in pipeline order, then the driver and the tools.  A module may import from its
# own stage and from the ones before it, never from a later one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("specgen.errors", "specgen.values", "specgen.limits", "specgen.version"),  # shared by all
    ("specgen.language",),  # 1 parse: text -> syntax tree, expressions, search domains
    ("specgen.ir", "specgen.names"),  # the elaborated IR and the one name table
    ("specgen.layers",),  # 2 the layer kinds: how each is written, built, costed, checked
    ("specgen.elaborate",),  # 3 elaborate: syntax -> IR
    ("specgen.passes",),  # 4 validate, cost, constraints, fold: IR -> diagnostics, numbers
    ("specgen.targets",),  # 5 emit: IR -> PyTorch and Keras code, deploy, transfer, verify
    ("specgen.compiler",),  # the driver: `compile()` and `Network`
    ("specgen.tools",),  # built on the driver: cli, fmt, graph, report, search, highlight
    ("specgen", "specgen.__main__"),  # the public face
)
CORE = 6  # LAYERS[:CORE] is the core: no framework, not even inside a function
FRAMEWORKS = {
    "torch", "torchvision", "keras", "tensorflow", "jax", "onnx", "onnxruntime", "optuna"
}  # fmt: skip
MAX_MODULE_LINES = 550  # "about 500"; a data table (no functions) is exempt
MAX_CLASS_LINES = 300


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str, text: str | None = None) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import in module `name` (its source
    `text`, by default its file); `from X import y` counts as an import of X.y where that is a
    module, else of X.  Module level: not inside a function (a top-level `try:` or `if:` is
    module level too); imports under `if TYPE_CHECKING:` are for type checkers only."""
    if text is None:
        text = MODULES[name].read_text(encoding="utf-8")
    tree = ast.parse(text)
    package = name if name in MODULES and _is_package(name) else name.rpartition(".")[0]
    skipped: set[int] = set()
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            in_function |= {id(n) for n in ast.walk(node) if n is not node}
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        top = id(node) not in in_function
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                target = full if full in MODULES else module
                out.append((target, node.lineno, top))
    return out


def _upward(name: str, text: str | None = None) -> list[str]:
    rank = _rank(name)
    return [
        f"{name}:{line} imports {target} ({_rank(target)} > {rank})"
        for target, line, _ in _imports(name, text)
        if target in MODULES and _rank(target) > rank
    ]


def _frameworks(name: str, text: str | None = None) -> list[str]:
    """The framework imports `name` may not have: any in the core, module-level ones elsewhere."""
    found = [
        (t, line, top) for t, line, top in _imports(name, text) if t.split(".")[0] in FRAMEWORKS
    ]
    core = _rank(name) < CORE
    return [f"{name}:{line} imports {t}" for t, line, top in found if core or top]


def _rank(name: str) -> int:
    best = (-1, -1)  # (prefix length, rank): the longest matching prefix decides
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                best = max(best, (len(prefix), rank))
    assert best[1] >= 0, f"{name} is in no layer of tests/test_architecture.py"
    return best[1]


GRAPH = {
    name: sorted({t for t, _, _ in _imports(name) if t in MODULES and t != name})
    for name in MODULES
}


def test_every_module_has_a_layer():
    for name in MODULES:
        _rank(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_from_a_later_stage(name):
    upward = _upward(name)
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_frameworks_only_where_they_are_used(name):
    # the core never; emitters and tools inside the function that needs one
    wrong = _frameworks(name)
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    """Tarjan's strongly connected components over every import, lazy ones included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def _has_code(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.FunctionDef | ast.ClassDef) for n in tree.body)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_classes_stay_small(name):
    text = MODULES[name].read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.count("\n")
    if _has_code(tree):
        assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines: split it by concern"
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            size = node.end_lineno - node.lineno + 1
            assert size <= MAX_CLASS_LINES, f"{name}.{node.name} has {size} lines"


def test_every_package_is_shipped():
    """pyproject.toml lists the packages the wheel holds: every folder of modules must be in
    it, and be a regular package (an `__init__.py` saying what the stage holds)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for folder in sorted({p.parent for p in MODULES.values()}):
        name = ".".join(folder.relative_to(ROOT).parts)
        assert f'"{name}"' in text, f"{name} is missing from pyproject's packages"
        assert (folder / "__init__.py").is_file(), f"{name} has no __init__.py"


def test_public_short_paths_are_their_homes():
    """`specgen.deploy` & co. are the very modules of their stage packages, keep their own
    spec (relative imports inside them warn otherwise) and import cleanly under -W error."""
    code = (
        "import importlib, specgen\n"
        "from specgen import PUBLIC_MODULES\n"
        "for alias, home in PUBLIC_MODULES.items():\n"
        "    module = importlib.import_module(alias)\n"
        "    assert module is importlib.import_module(home), alias\n"
        "    assert module.__spec__.name == home, (alias, module.__spec__.name)\n"
        "from specgen.deploy import fold_keras\n"
        "import specgen.targets.keras3\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr


def test_the_checker_sees_a_violation():
    """Planted violations are caught: a pass importing a tool (even lazily), the core
    importing a framework inside a function, a target importing one at module level (also
    under a top-level `try:`); and what is allowed passes."""
    assert _upward("specgen.passes.cost", "def f():\n    from ..tools.cli import main\n")
    assert _upward("specgen.language.syntax", "from .. import ir\n")
    assert not _upward("specgen.passes.cost", "from ..layers.registry import LAYER_KINDS\n")
    assert _frameworks("specgen.passes.cost", "def f():\n    import torch\n")
    assert _frameworks(
        "specgen.targets.verify", "try:\n    import torch\nexcept ImportError:\n    pass\n"
    )
    assert not _frameworks("specgen.targets.verify", "def f():\n    import torch\n")
    assert not _frameworks("specgen.passes.cost", "if TYPE_CHECKING:\n    import torch\n")


def test_every_layer_kind_has_code_in_every_target():
    """A layer kind registered in specgen/layers/ without its code in a target would compile
    and cost, then fail at `build`: each target's per-layer table must cover the registry
    (a kind the elaborator expands, like sepconv, is written by its parts)."""
    from specgen.layers import LAYER_KINDS
    from specgen.targets import keras3_layers, pytorch_layers

    built = {kind.node for kind in LAYER_KINDS if kind.build is not None}
    for table in (pytorch_layers.LAYER_CODE, keras3_layers.LAYER_CODE):
        assert set(table) == built, sorted(t.__name__ for t in set(table) ^ built)
