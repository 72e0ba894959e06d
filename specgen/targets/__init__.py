"""Emitters: one per target, chosen by name from a registry."""

from __future__ import annotations

from typing import Protocol


class Emitter(Protocol):
    name: str

    def emit(self, net, **options) -> str: ...


_REGISTRY: dict[str, Emitter] = {}


def register(emitter: Emitter) -> Emitter:
    _REGISTRY[emitter.name] = emitter
    return emitter


def targets() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    """The built-in targets register themselves on import (none imports a framework)."""
    from . import keras3, pytorch  # noqa: F401


def get_emitter(name: str) -> Emitter:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown target {name!r}; targets: {', '.join(targets()) or 'none'}"
        ) from None
