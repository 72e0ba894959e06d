"""A network's architecture as one key: what a search uses to recognise that two points of
its space give the same network (`width=1.0` and `width=1.05` rounding to the same channel
counts, a parameter that only a disabled branch reads, ...), so that a candidate is trained
once however many points lead to it.

The key is a SHA-256 over the computation alone: every layer's kind, settings and input and
output shapes, and how layers are composed (sequences, residuals, sums, concatenations,
splits).  Module names, block names and arguments, source positions and the order in which
a residual's shortcut is registered do not change what the network computes, and are left
out.  Keys are stable across processes and machines (no `hash()`), so workers sharing a
study agree on them."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from .. import ir

# fields that say where a node was written or how it is named, not what it computes
_LEFT_OUT = frozenset({"src", "loops", "name", "args", "layer_count", "derived", "shortcut_first"})
_FIELDS: dict[type, tuple[str, ...]] = {}


def architecture_key(net: ir.Network) -> str:
    """The network's architecture key: 32 hex digits, equal for two networks exactly when
    they compute the same function of the same input shape (up to their weights)."""
    parts: list[str] = [f"deploy={net.deploy}"]
    _walk(net.body, parts)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name not in _LEFT_OUT)
        _FIELDS[cls] = names
    return names


def _walk(node: ir.Node, parts: list[str]) -> None:
    """Appends `node`'s description to `parts`, its children's in order after it."""
    if isinstance(node, ir.Block):
        # a block call is its body: the same layers written inline compute the same thing.
        # One instantiation is shared by every compile that makes it: described once.
        text = node.derived.get("architecture")
        if text is None:
            inner: list[str] = []
            _walk(node.body, inner)
            text = node.derived["architecture"] = "\n".join(inner)
        parts.append(text)
        return
    cls = type(node)
    parts.append(f"<{cls.__name__}")
    for name in _fields(cls):
        value = getattr(node, name)
        if isinstance(value, ir.Node):
            parts.append(f"{name}:")
            _walk(value, parts)
        elif isinstance(value, tuple) and value and _is_named(value):
            parts.append(f"{name}[{len(value)}]")
            for _, child in value:
                _walk(child, parts)
        elif value is None and name == "shortcut":
            parts.append("shortcut:identity")
        else:
            parts.append(f"{name}={_plain(value)}")
    parts.append(">")


def _is_named(value: tuple) -> bool:
    first = value[0]
    return isinstance(first, tuple) and len(first) == 2 and isinstance(first[1], ir.Node)


def _plain(value: Any) -> str:
    """A setting as text that says its type too (1 and 1.0 and True differ)."""
    if isinstance(value, ir.Shape):
        return f"{value.c}x{value.h}x{value.w}{'f' if value.flat else ''}"
    if isinstance(value, tuple):
        return "(" + ",".join(_plain(v) for v in value) + ")"
    return f"{type(value).__name__}:{value!r}"
