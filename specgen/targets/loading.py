"""Generated PyTorch source loaded as if it had been imported: a module registered in
`sys.modules` (its text in `linecache`) for as long as anything defined in it lives.

`inspect.getsource`, `torch.jit.script`, tracebacks and in-process pickling look classes up
through their module; this is what lets them see the classes of an in-memory build as they
would those of a `-o` file, without keeping every module of a search loop alive.
"""

from __future__ import annotations

import functools
import sys
import threading
import types
import weakref
from typing import Any

from .common import run_source

# guards sys.modules' generated entries: builds from several threads, and the unregistering
# that garbage collection runs (re-entrantly, inside a build, too: hence reentrant)
_REGISTRY = threading.RLock()


def load_module(code: str, net_name: str) -> dict[str, Any]:
    """The namespace of `code` executed as a registered module.

    The module is `specgen_generated_<name>_<hash>` in `sys.modules`, its `__file__`
    `<specgen:<name>-<hash>>`, with that text in `linecache`.  Loads of the same source share
    the module (safely from several threads at once), which stays registered while anything
    defined in it lives (see `_GeneratedModule`): keep the namespace until something made
    from it holds it.
    """
    import hashlib
    import linecache

    digest = hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]
    name, filename = f"specgen_generated_{net_name}_{digest}", f"<specgen:{net_name}-{digest}>"
    # (again on every build, in case someone cleared linecache; mtime None: never stale)
    lines = (len(code), None, code.splitlines(True), filename)
    with _REGISTRY:
        namespace = _registered(name)
        linecache.cache[filename] = lines
    if namespace is None:  # executed outside the lock; the first to register it wins
        fresh: dict[str, Any] = {}
        try:
            run_source(code, name, filename, fresh)
        except BaseException:
            with _REGISTRY:
                if _registered(name) is None:
                    linecache.cache.pop(filename, None)
            raise
        with _REGISTRY:
            namespace = _registered(name)
            if namespace is None:
                namespace = _register(name, filename, fresh)
            linecache.cache[filename] = lines
    return namespace


class _Anchor:
    """An object only a generated module's namespace refers to: it dies with the namespace."""

    __slots__ = ("namespace", "__weakref__")

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace


class _GeneratedModule(types.ModuleType):
    """The `sys.modules` entry of a `to_torch()` module.

    It refers to the module's namespace only weakly, and looks its attributes up there: the
    classes' methods hold the namespace (their globals), so it lives while any class, block,
    model or function of the module lives, however made (`to_torch`, `copy.deepcopy`,
    `pickle`, a class called directly), and the entry (with its linecache text) goes when
    garbage collection takes the last of them.  A count of `to_torch` calls cannot know of
    copies, and a strong entry would keep every module of a search loop alive.
    """

    def _specgen_namespace(self) -> dict[str, Any] | None:
        """The module's namespace, or None once garbage collection has taken it."""
        anchor = self.__dict__.get("__specgen_anchor__", lambda: None)()
        return None if anchor is None else anchor.namespace

    def __getattr__(self, attr: str) -> Any:
        try:
            return (self._specgen_namespace() or {})[attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._specgen_namespace() or ()))


def _registered(name: str) -> dict[str, Any] | None:
    """The live namespace registered as `name`, or None (call with `_REGISTRY` held)."""
    module = sys.modules.get(name)
    return module._specgen_namespace() if type(module) is _GeneratedModule else None


def _register(name: str, filename: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Register `namespace` as module `name` (call with `_REGISTRY` held)."""
    anchor = _Anchor(namespace)
    namespace["__specgen_anchor__"] = anchor
    module = _GeneratedModule(name)
    module.__file__ = filename
    gone = functools.partial(_unregister, name, filename, weakref.ref(module))
    module.__dict__["__specgen_anchor__"] = weakref.ref(anchor, gone)
    sys.modules[name] = module
    return namespace


def _unregister(
    name: str,
    filename: str,
    module: weakref.ref[types.ModuleType],
    _anchor: object,
    lock: Any = _REGISTRY,
    modules: dict[str, Any] = sys.modules,
) -> None:
    """The anchor's callback: unregister its module, unless another has taken its name."""
    import linecache

    with lock:
        registered = module()
        if registered is not None and modules.get(name) is registered:
            del modules[name]
            linecache.cache.pop(filename, None)
