"""How elaboration names things: the words a spec cannot take for its own names, the attribute
names of layers within a body (`conv1`, `bn1`, `unit2`), and counted nouns in messages."""

from __future__ import annotations

import keyword

from .. import names
from ..language import words
from ..language.expr import CONSTANTS
from ..layers import OPS
from ..names import NameTable

RESERVED = words.KEYWORDS | set(keyword.kwlist) | set(OPS) | set(words.COMPOSITES)


def reserved_alias(name: str) -> bool:
    """Words an `as` name cannot take: the language's, Python's, nn.Module's, keras.Model's."""
    return name in RESERVED or name in CONSTANTS or name in names.RESERVED


def counted(n: int, noun: str) -> str:
    """`1 branch`, `2 branches`, `3 arguments`."""
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("ch") else "s")


_RESERVED_NAMES = names.RESERVED


class Namer(NameTable):
    """Unique attribute names within one body: conv1, bn1, relu1, conv2, unit1, ...

    They name the modules of the generated code as well as the cost report's rows, so they
    come from the name table: a block called `dw` twice gives `dw1`, `dw2`, and the 16th call
    of a block `bfloat` gives `bfloat16_`, never the `nn.Module.bfloat16` method.
    """

    __slots__ = ("holders", "next", "leaves", "keras", "composites")

    def __init__(self) -> None:
        super().__init__()
        # `as "PATH"` only: paths that hold others, the next index of each, the paths that
        # name layers, and Keras' form of each (`.` -> `-`), which must stay distinct
        self.holders: set[str] | None = None
        self.composites: set[str] | None = None  # names of composites: no module of their own

    def __call__(self, base: str) -> str:
        # NameTable.fresh's fast path, inline (a table with no parent and nothing reserved
        # of its own); anything else goes through fresh itself
        k = self.counts.get(base, 0) + 1
        name = f"{base}{k}"
        if name[0] != "_" and name not in self.used and name not in _RESERVED_NAMES:
            self.counts[base] = k
            self.used.add(name)
            return name
        return self.fresh(base, numbered=True)

    def composite(self, base: str) -> str:
        """The report's name of a composite (`residual1`, `branch2`): numbered as layers are,
        but no module, so a path may still use it as a container."""
        name = self(base)
        if self.composites is None:
            self.composites = set()
        self.composites.add(name)
        return name

    def claim(self, name: str) -> bool:
        """Take `name` as it is (`as NAME`); False when it is already in use here."""
        if self.taken(name):
            return False
        self.used.add(name)
        return True

    def hold(self, parts: list[str | None]) -> list[str]:
        """The containers `parts` name, `*` resolved to the next index of its container (one
        new child per call), all marked as holding others; raises Clash."""
        if self.holders is None:
            self.holders, self.next, self.leaves, self.keras = set(), {}, set(), {}
        out: list[str] = []
        for part in parts:
            path, part = self._step(out, part)
            soft = self.composites is not None and path in self.composites
            if path in self.leaves or (
                not out and path in self.used and path not in self.holders and not soft
            ):
                raise Clash(f"`{path}` names a layer and cannot hold others")
            self.holders.add(path)
            if not out:
                self.used.add(path)
            out.append(part)
        return out

    def place(self, prefix: list[str], part: str | None) -> str:
        """The path of one layer: `prefix` (from `hold`) and `part` (None: the next index);
        raises Clash when the path is taken or holds others."""
        if self.holders is None:
            self.hold([])
        path, _ = self._step(prefix, part)
        if path in self.holders:
            raise Clash(f"`{path}` holds other layers and cannot name one")
        if path in self.leaves or (not prefix and self.taken(path)):
            raise Clash(f"`{path}` already names a layer or block call in this body")
        keras = path.replace(".", "-")
        other = self.keras.get(keras)
        if other is not None:
            raise Clash(f"`{path}` and `{other}` would have the same Keras name `{keras}`")
        self.keras[keras] = path
        self.leaves.add(path)
        if not prefix:
            self.used.add(path)
        return path

    def _step(self, prefix: list[str], part: str | None) -> tuple[str, str]:
        """(the path `prefix.part`, the part), `*` resolved; the container's next index moves
        past an index given."""
        container = ".".join(prefix)
        k = self.next.get(container, 0)
        if part is None:
            part = str(k)
        if part.isdigit():
            self.next[container] = max(k, int(part) + 1)
        return (f"{container}.{part}" if prefix else part), part


class Clash(Exception):
    """A path that cannot be given (taken, or a layer where a container is, or the reverse)."""
