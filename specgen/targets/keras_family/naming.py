"""How the Keras family code names its layers: the elaborator's names, decided by the
PyTorch family code's StaticNamer where every member has them, counted at run time where a
loop makes them (`f"{name}-conv{convs}"`), and `place(indices, "features.*")` for the paths
of a body that a loop, an `if` or a `{hole}` decides."""

from __future__ import annotations

import re

from ...language import syntax as S
from ..family.naming import StaticNamer
from ..family.placing import path_parts
from ..family.pyexpr import Untranslatable
from ..family.syntax import reads_in
from .layers import Label


class RuntimePaths(Untranslatable):
    """A path that the static names cannot resolve: the body is written again with every
    path resolved at run time (`place`)."""


class RuntimeCount(Untranslatable):
    """A name whose number differs between members outside a loop (after an `if` whose
    branches take different numbers of it): the function is written again counting it at
    run time from its start."""

    def __init__(self, base: str):
        super().__init__(f"the `{base}` names differ between members")
        self.base = base


class Namer(StaticNamer):
    """StaticNamer, with counts that differ after an `if` unknown rather than refused: a
    composite's name (`residual1`) is counted where the PyTorch code counts none, and only
    a later name of the same base needs the count."""

    def join(self, branches: list[StaticNamer]) -> None:
        counts = [b.counts for b in branches]
        bases = set().union(*counts)
        differ = {k for k in bases if len({c.get(k, 0) for c in counts}) > 1}
        for b in branches:
            b.counts = {k: (None if k in differ else v) for k, v in b.counts.items()}
            b.counts.update({k: None for k in differ})
        super().join(branches)

    def claim(self, name: str) -> None:
        """`as NAME`; refused where a name counted at run time could be it (the elaborator
        would skip it, the counter would not)."""
        for base in self.runtime:
            if re.fullmatch(re.escape(base) + r"[0-9]+_*", name):
                raise Untranslatable(f"`{name}` is taken where `{base}` is counted at run time")
        super().claim(name)


class Naming:
    """Names and locals, for KerasBody."""

    # ---- names -----------------------------------------------------------------------------
    def name_of(self, spec_name: str) -> str:
        if spec_name == "in":
            if self.in_text is None:
                raise Untranslatable("`in` where the writer does not hold it")
            return self.in_text
        found = self.local.get(spec_name)
        if found is None:
            raise Untranslatable(f"`{spec_name}` is not bound here")
        return found

    def bind(self, spec_name: str) -> str:
        found = self.local.get(spec_name)
        if found is None:
            found = self.local[spec_name] = self.names.take(spec_name)
        return found

    def hold_in(self, stmts: tuple[S.Stmt, ...], source: str, always: bool = False) -> None:
        """`in` as a local where a statement of the body's own (not a composite's branch,
        which reads its own input's) reads it, or `always`: the channels of `source`."""
        if always or any(type(s) is not S.Compound and reads_in((s,)) for s in stmts):
            self.in_text = self.names.fresh("in_channels")
            self.code.add(f"{self.in_text} = {source}.shape[-1]")

    def auto(self, base: str) -> str:
        """The next automatic name of `base`: static, or counted at run time in loops."""
        counter = self.counters.get(base)
        if counter is None and self.loop_marks:
            # counted from the start of the statement of the function's own level that holds
            # the loop (which may stand in an `if`): the count there must be the count now
            where, counts = self.top
            count = self.namer.runtime_base(base)
            if counts.get(base, 0) != count:
                raise Untranslatable(f"`{base}` names taken before a loop in the same statement")
            counter = self.counters[base] = self.names.take(f"{base}s")
            self.code.lines.insert(where, (0, f"{counter} = {count}"))
            self.loop_marks = [i + 1 for i in self.loop_marks]
            self.top = (where + 1, counts)
        if counter is not None:
            self.code.add(f"{counter} = {counter} + 1")
            return f"{base}{{{counter}}}"
        name = self.namer.auto(base)
        if name is None:  # after an `if` whose branches differ: counted from the start
            raise RuntimeCount(base)
        return name

    def count_from_start(self, base: str) -> None:
        """Count `base`'s names at run time from the function's first line."""
        count = self.namer.runtime_base(base)
        counter = self.counters[base] = self.names.take(f"{base}s")
        self.code.add(f"{counter} = {count}")

    def label(self, piece: str) -> Label:
        return Label(piece, self.prefix)

    def path(self, path: S.Path, count: int) -> list[str]:
        """The names of the first `count` layers of a line written `as "PATH"`."""
        texts, static = path_parts(path, self.py)
        if not self.runtime_paths:
            if self.loop_marks or "?" in static:
                raise RuntimePaths("a path in a loop or with a `{hole}`")
            prefix = self._hold(static[:-1])
            names = []
            for _ in range(count):
                last = self.namer.index(".".join(prefix), static[-1])
                if last is None:
                    raise RuntimePaths("a path whose index differs between members")
                names.append("-".join([*prefix, last]))
            return names
        if texts[0] not in ("*",) and "{" not in texts[0]:
            self.namer.used.add(texts[0])
        self.helpers.add("place")
        text = ".".join(texts)
        quoted = f'f"{text}"' if "{" in text else f'"{text}"'
        within = f", within={self.prefix}" if self.prefix else ""
        if count == 1:
            var = self._path_local("label")
            self.code.add(f"{var} = place(indices, {quoted}{within})")
            return [f"{{{var}}}"]
        var = self._path_local("labels")
        self.code.add(f"{var} = place(indices, {quoted}, {count}{within})")
        return [f"{{{var}[{i}]}}" for i in range(count)]

    def _path_local(self, base: str) -> str:
        """The local holding the names `place` gives (one per function and kind)."""
        found = self.path_vars.get(base)
        if found is None:
            found = self.path_vars[base] = self.names.take(base)
        return found

    def _hold(self, parts: list[str | None]) -> list[str]:
        resolved: list[str] = []
        for part in parts:
            got = self.namer.index(".".join(resolved), part)
            if got is None:
                raise RuntimePaths("a container whose index differs between members")
            resolved.append(got)
            self.namer.holders.add(".".join(resolved))
            if len(resolved) == 1:
                self.namer.used.add(got)
        return resolved

    # ---- statements ------------------------------------------------------------------------
