"""The points of a search space declared in a spec (`domains.Dimension`): its size, the grid of
a finite one, and points drawn at random — distinct while the space has that many, the same
ones for the same seed.  Part of the core: no Optuna import.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from ..values import plain
from .domains import Dimension


def space_size(dims: tuple[Dimension, ...]) -> int | None:
    total = 1
    for d in dims:
        if d.domain.size is None:
            return None
        total *= d.domain.size
    return total


def point_at(dims: tuple[Dimension, ...], index: int) -> dict[str, Any]:
    """The `index`-th point of a finite space, the last parameter varying fastest."""
    out = {}
    for d in reversed(dims):
        index, k = divmod(index, d.domain.size)
        out[d.name] = plain(d.domain.at(k))
    return {d.name: out[d.name] for d in dims}


def grid(dims: tuple[Dimension, ...]) -> Iterator[dict[str, Any]]:
    size = space_size(dims)
    assert size is not None
    for i in range(size):
        yield point_at(dims, i)


def sample(dims: tuple[Dimension, ...], n: int, seed: int | None) -> list[dict[str, Any]]:
    """`n` points drawn uniformly; distinct while the space (if finite) has that many."""
    return list(draw(dims, n, seed))


def draw(dims: tuple[Dimension, ...], n: int, seed: int | None) -> Iterator[dict[str, Any]]:
    """The points of `sample`, one at a time: a search of 10**8 trials holds the points drawn
    so far, not all of them before the first is evaluated."""
    rng = random.Random(seed)
    size = space_size(dims)
    if size is not None and n <= size and size < 2**62:
        for i in _distinct(rng, size, n):
            yield point_at(dims, i)
        return
    for _ in range(n):
        yield {d.name: plain(d.domain.sample(rng)) for d in dims}


def _distinct(rng: random.Random, size: int, k: int) -> Iterator[int]:
    """`rng.sample(range(size), k)` one index at a time: CPython's two methods draw the same
    numbers from `rng` (so seeds give the points they always gave), with its pool kept
    sparse (the indices moved so far) instead of a list of `size` items."""
    setsize = 21
    if k > 5:
        setsize += 4 ** math.ceil(math.log(k * 3, 4))
    if size <= setsize:
        moved: dict[int, int] = {}  # pool[j] is moved.get(j, j)
        for i in range(k):
            top = size - i - 1
            j = rng.randrange(size - i)
            value = moved.get(j, j)
            last = moved.pop(top, top)
            if j != top:
                moved[j] = last
            yield value
    else:
        selected: set[int] = set()
        for _ in range(k):
            j = rng.randrange(size)
            while j in selected:
                j = rng.randrange(size)
            selected.add(j)
            yield j
