"""The keys values are looked up by in the caches compiles share: plain values as themselves,
lists and tables by a small stand-in, interned per analysis."""

from __future__ import annotations

import itertools
from typing import Any

from .. import ir
from ..language.expr import Value
from . import analysis
from .state import State


class Keys(State):
    """The cache keys of values: plain values as themselves, lists and tables by a stand-in."""

    def key(self, value: Value) -> Any:
        """`_key(value)`, computed once per list or table object in a compile (a large list
        passed to a block called many times is walked once)."""
        if type(value) is not tuple and type(value) is not ir.Table:
            return (type(value), value)
        found = self.keys.get(id(value))
        if found is None:  # holding `value` keeps its id
            found = self.keys[id(value)] = (value, self.intern(_key(value)))
        return found[1]

    def intern(self, key: Any) -> tuple:
        """A small stand-in for the key of a list or table: cache keys hash it on every
        lookup, and a nested key of 10,000 items took 100 us to hash, at every block call
        that passed the list.  Stand-ins are never reused, so clearing the table (when it
        grows past BLOCK_CACHE_SIZE) loses sharing, never correctness."""
        token = self.interned.get(key)
        if token is None:
            if len(self.interned) >= analysis.BLOCK_CACHE_SIZE:
                self.interned.clear()
            analysis.charge(self.analysis, 1)
            token = self.interned[key] = (_Interned, next(_TOKENS))
        return token


class _Interned:
    """Marks the stand-in of a list or table in a cache key (no value has this type)."""


_TOKENS = itertools.count()


def _key(value: Value) -> Any:
    """A hashable key that tells 1, 1.0 and true apart."""
    t = type(value)
    if t is tuple:
        return tuple(_key(v) for v in value)
    if t is ir.Table:
        return ("table", tuple((_key(k), _key(v)) for k, v in value.items))
    return (t, value)
