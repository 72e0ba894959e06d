"""The elaborator's naming (`elaborate.naming.Namer`) run on a body's statements without
their values, for the family code: a name is static (the same in every member of the family)
where the elaborator's would be, and the code computes it where it depends on a loop or a
branch.  The rules mirror `Namer` exactly; the tests compare the two on every example."""

from __future__ import annotations

import copy
import re

from ...names import RESERVED, NameTable
from .pyexpr import Untranslatable


class StaticNamer:
    """Counts per base (None: differs between members), roots taken, and per container the
    next index (None: differs between members)."""

    def __init__(self) -> None:
        self.counts: dict[str, int | None] = {}
        self.used: set[str] = set()
        self.next: dict[str, int | None] = {}
        self.holders: set[str] = set()
        self.runtime: set[str] = set()  # bases whose count a local of the code holds
        self.uncertain: set[str] = set()  # names taken in some members only

    def copy(self) -> StaticNamer:
        return copy.deepcopy(self)

    def same(self, other: StaticNamer) -> bool:
        return (self.counts, self.used, self.next, self.holders) == (
            other.counts,
            other.used,
            other.next,
            other.holders,
        )

    def join(self, branches: list[StaticNamer]) -> None:
        """After an `if`: what every branch agrees on stays known; a count that differs is
        refused (the code would need the elaborator's numbering at run time)."""
        first = branches[0]
        for other in branches[1:]:
            if other.counts != first.counts:
                raise Untranslatable(
                    "the names after this `if` depend on the branch taken; name the layers "
                    'of its branches with `as "PATH"`'
                )
        self.counts = dict(first.counts)
        self.used = set().union(*(b.used for b in branches))
        # taken in some branches only: an automatic name that would be one of them differs
        self.uncertain = set().union(*(b.uncertain for b in branches)) | (
            self.used - set.intersection(*(b.used for b in branches))
        )
        self.holders = set().union(*(b.holders for b in branches))
        for key in set().union(*(b.next for b in branches)):
            values = {b.next.get(key, 0) for b in branches}
            self.next[key] = values.pop() if len(values) == 1 else None

    def taken(self, name: str) -> bool:
        return name in self.used or name in RESERVED

    def auto(self, base: str) -> str | None:
        """The next automatic name of `base` (`conv3`), or None where it is counted at run
        time (`runtime_base`)."""
        if base in self.runtime or self.counts.get(base, 0) is None:
            return None
        if f"{base}{self.counts.get(base, 0) + 1}" in self.uncertain:
            raise Untranslatable(
                f"whether `{base}{self.counts.get(base, 0) + 1}` is taken depends on a branch"
            )
        # the compiler's own numbering (Namer is a NameTable), over the counts known here
        table = NameTable()
        table.used = self.used
        table.counts = {b: k for b, k in self.counts.items() if k is not None}
        name = table.fresh(base, numbered=True)
        self.counts[base] = table.counts[base]
        return name

    def runtime_base(self, base: str) -> int:
        """Count `base` at run time from here on; returns the count so far.  Refused where a
        numbered name of `base` could be reserved or taken (the elaborator would skip it)."""
        if base not in self.runtime:
            pattern = re.compile(re.escape(base) + r"[0-9]+_*")
            clash = [n for n in self.used | RESERVED if pattern.fullmatch(n)]
            count = self.counts.get(base, 0)
            if count is None or any(int(re.sub(r"\D", "", n[len(base) :])) > count for n in clash):
                raise Untranslatable(f"a numbered `{base}` name is taken or reserved")
            if any(n.endswith("_") for n in clash) or base[:1] == "_":
                raise Untranslatable(f"a numbered `{base}` name is taken or reserved")
            self.runtime.add(base)
            return count
        return -1

    def claim(self, name: str) -> None:
        """`as NAME`."""
        if name == "flatten" and name in self.used:
            raise Untranslatable("`flatten` names the family code's own nn.Flatten here")
        self.used.add(name)

    def index(self, container: str, part: str | None) -> str | None:
        """A path part: `*` resolved where the container's next index is known (else None),
        and the next index moved past an index given."""
        k = self.next.get(container, 0)
        if part is None:
            if k is None:
                return None
            part = str(k)
        if part.isdigit():
            self.next[container] = None if k is None else max(k, int(part) + 1)
        return part

    def unknown(self, container: str) -> None:
        """A child was placed in `container` at run time: its next index is no longer known."""
        self.next[container] = None
