"""specgen: a declarative language and compiler for efficient convolutional architectures.

    net = specgen.compile("examples/shufflenet_v1.conv", params={"g": 8})
    net.cost.params, net.cost.macs, net.output_shape

The core (parse → elaborate → validate → cost) imports no deep-learning framework.  The public
names are imported on first use (PEP 562): `import specgen.tools.cli` must reach the command
line's Ctrl-C handler before anything slow (lark, even `typing`) is imported.

The packages are the pipeline's stages (docs/architecture.md): `language` → `elaborate` →
`passes` → `targets`, with `tools` built on them.  The modules users import by name keep their
short public paths (`specgen.transfer`, `specgen.deploy`, `specgen.verify`, `specgen.report`,
`specgen.fmt`, `specgen.graph`, `specgen.search`, `specgen.cli`): each is the same module object
as its home in a stage package.
"""

import importlib as _importlib
import importlib.abc as _abc
import importlib.util as _util
import sys as _sys

__all__ = [
    "Diagnostic",
    "Network",
    "Space",
    "SpecError",
    "compile",
    "latency_model",
    "load_checkpoint",
    "space",
    "__version__",
]
from .version import __version__

_LAZY = {
    "compile": ".compiler",
    "Network": ".compiler",
    "SpecError": ".errors",
    "Diagnostic": ".errors",
    "space": ".tools.search",
    "Space": ".tools.search",
    "load_checkpoint": ".targets.checkpoints",
    "latency_model": ".tools.profile",
}

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; type checkers see True
if TYPE_CHECKING:
    from .compiler import Network, compile
    from .errors import Diagnostic, SpecError
    from .targets.checkpoints import load_checkpoint
    from .tools.profile import latency_model
    from .tools.search import Space, space


def __getattr__(name: str) -> object:
    """Import a public name on first use and keep it as a module attribute."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the lazy names too, so completion and `dir(specgen)` show the public API."""
    return sorted(set(globals()) | set(_LAZY))


# public module path -> the module's home; `import specgen.transfer` gives the very module
# `specgen.targets.transfer`, so patches and isinstance checks see one object
PUBLIC_MODULES = {
    "specgen.checkpoints": "specgen.targets.checkpoints",
    "specgen.cli": "specgen.tools.cli",
    "specgen.deploy": "specgen.targets.deploy",
    "specgen.fmt": "specgen.tools.fmt",
    "specgen.graph": "specgen.tools.graph",
    "specgen.highlight": "specgen.tools.highlight",  # the Pygments entry point of old installs
    "specgen.report": "specgen.tools.report",
    "specgen.search": "specgen.tools.search",
    "specgen.transfer": "specgen.targets.transfer",
    "specgen.verify": "specgen.targets.verify",
}


class _Alias(_abc.MetaPathFinder, _abc.Loader):
    """Finds the public short paths of `PUBLIC_MODULES` and loads them as their home module."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib's protocol
        if fullname in PUBLIC_MODULES:
            return _util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):  # noqa: ANN001
        module = _importlib.import_module(PUBLIC_MODULES[spec.name])
        spec.loader_state = module.__spec__  # importlib is about to put `spec` in its place
        return module

    def exec_module(self, module) -> None:  # noqa: ANN001 - already executed at its home
        # give the module its own spec back, so that its relative imports, `find_spec` and
        # `reload` see where it lives
        module.__spec__ = module.__spec__.loader_state


_sys.meta_path.append(_Alias())
