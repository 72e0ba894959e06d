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

    __slots__ = ()

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

    def claim(self, name: str) -> bool:
        """Take `name` as it is (`as NAME`); False when it is already in use here."""
        if self.taken(name):
            return False
        self.used.add(name)
        return True
