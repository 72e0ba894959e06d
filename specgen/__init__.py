"""specgen: a declarative language and compiler for efficient convolutional architectures.

    net = specgen.compile("examples/shufflenet_v1.conv", params={"g": 8})
    net.cost.params, net.cost.macs, net.output_shape

The core (parse → elaborate → validate → cost) imports no deep-learning framework.  The public
names are imported on first use (PEP 562): `import specgen.cli` must reach the command line's
Ctrl-C handler before anything slow (lark, even `typing`) is imported.
"""

import importlib as _importlib

__all__ = ["Diagnostic", "Network", "Space", "SpecError", "compile", "space", "__version__"]
__version__ = "0.1.0"

_LAZY = {
    "compile": ".compiler",
    "Network": ".compiler",
    "SpecError": ".errors",
    "Diagnostic": ".errors",
    "space": ".search",
    "Space": ".search",
}

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; type checkers see True
if TYPE_CHECKING:
    from .compiler import Network, compile
    from .errors import Diagnostic, SpecError
    from .search import Space, space


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
