"""Caches of results computed from source texts, bounded by the characters of those texts:
a search loop that compiles one spec with many parameter values parses and analyses it once."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

# What a cache entry holds, per character of the text(s) it was computed from: a parse tree
# takes 50-110 bytes a character (tracemalloc; the denser the tokens, the more), an analysis
# as much again, and the block instantiations an analysis keeps after a compile ~40 more.
# Bounded by entries, the caches could hold 512 specs of 100,000 characters (~5 GiB in a
# long-running process); bounded by characters, each holds at most CACHE_CHARS of text
# (~55-125 MB).
CACHE_CHARS = 500_000
CACHE_ENTRIES = 512


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    entries: int
    chars: int


R = TypeVar("R")


class TextCache:
    """A thread-safe LRU cache of results computed from source texts, bounded by the total
    size of those texts as well as by the number of entries.  Failures (SpecError) are not
    cached, as with functools.lru_cache."""

    def __init__(self, chars: int = CACHE_CHARS, entries: int = CACHE_ENTRIES) -> None:
        self.max_chars, self.max_entries = chars, entries
        self._data: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._chars = self.hits = self.misses = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        """The value cached under `key`, or None.  Without the lock: the OrderedDict's own
        operations are atomic, and an entry evicted meanwhile only costs its move."""
        found = self._data.get(key)
        if found is None:
            self.misses += 1
            return None
        try:  # noqa: SIM105 - contextlib.suppress is slower on this hot path
            self._data.move_to_end(key)
        except KeyError:
            pass
        self.hits += 1
        return found[0]

    def put(self, key: Any, value: Any, chars: int) -> None:
        """Keep `value`, computed from `chars` characters of text, evicting the least
        recently used entries as needed (a value larger than the whole cache is not kept)."""
        if chars > self.max_chars:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._chars -= old[1]
            self._data[key] = (value, chars)
            self._chars += chars
            while self._chars > self.max_chars or len(self._data) > self.max_entries:
                _, (_, gone) = self._data.popitem(last=False)
                self._chars -= gone

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self.hits, self.misses, len(self._data), self._chars)

    def cache_clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._chars = 0


def cached_by_text(chars: Callable[..., int]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate a function of texts with a TextCache; `chars(*args)` is the size of the texts
    its arguments hold.  The function keeps `cache_info()` and `cache_clear()`."""

    def wrap(fn: Callable[..., R]) -> Callable[..., R]:
        cache = TextCache()

        data = cache._data  # the hit path inline: a search loop takes it twice a compile

        @functools.wraps(fn)
        def cached(*args: Any, **kwargs: Any) -> R:
            key = (args, tuple(sorted(kwargs.items()))) if kwargs else args
            found = data.get(key)
            if found is not None:
                try:  # noqa: SIM105 - contextlib.suppress is slower on this hot path
                    data.move_to_end(key)
                except KeyError:
                    pass
                cache.hits += 1
                return found[0]
            cache.misses += 1
            value = fn(*args, **kwargs)
            cache.put(key, value, chars(*args, **kwargs))
            return value

        cached.cache = cache  # type: ignore[attr-defined]
        cached.cache_info = cache.cache_info  # type: ignore[attr-defined]
        cached.cache_clear = cache.cache_clear  # type: ignore[attr-defined]
        return cached

    return wrap
