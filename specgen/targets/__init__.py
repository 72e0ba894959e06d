"""Emitters: one per target, chosen by name.

The built-in targets (`pytorch.py`, `keras3.py`) are imported on first use, so that choosing
a target costs nothing until code is generated; `register` adds another emitter by name.
"""

from __future__ import annotations

from typing import Any, Protocol


class Emitter(Protocol):
    name: str

    def emit(self, net: Any, **options: Any) -> str: ...


_REGISTRY: dict[str, Emitter] = {}


def register(emitter: Emitter) -> Emitter:
    """Make `emitter` a target under its `name` (the built-in ones are found without this)."""
    _REGISTRY[emitter.name] = emitter
    return emitter


def _load_builtin() -> None:
    """The built-in targets, imported here (none imports a framework at module level)."""
    from .keras3 import KERAS
    from .pytorch import TORCH

    for emitter in (KERAS, TORCH):
        _REGISTRY.setdefault(emitter.name, emitter)


def targets() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get_emitter(name: str) -> Emitter:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown target {name!r}; targets: {', '.join(targets()) or 'none'}"
        ) from None
