"""Spec values that are not plain numbers, and how any value is written back in .conv syntax."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def format_value(value: Any) -> str:
    """A spec value as it would be written in a .conv file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Table):
        return (
            "{" + ", ".join(f"{format_value(k)}: {format_value(v)}" for k, v in value.items) + "}"
        )
    return str(value)


@dataclass(frozen=True, slots=True)
class Table:
    """A `{key: value}` literal: a frozen, hashable lookup table."""

    items: tuple[tuple[Any, Any], ...]

    def get(self, key: Any) -> Any:
        for k, v in self.items:
            if k == key and isinstance(k, bool) == isinstance(key, bool):
                return v
        raise KeyError(key)

    def domain(self) -> list[Any]:
        return [k for k, _ in self.items]
