"""How the family code's writer registers a line's modules under the compiler's names: static
paths as attributes and containers, automatic names counted at run time inside loops,
`as "PATH"` paths with `*` and `{expr}` through `place`, and the channels and H×W after."""

from __future__ import annotations

from collections.abc import Callable

from ...language import syntax as S
from .code import simple
from .layers import Made
from .pyexpr import NeedsSize, Untranslatable


class Placing:
    """Registration and names, for BodyWriter."""

    def place(self, stmt: S.Simple, made: list[Made]) -> tuple[list[Made], list[str | None]]:
        """Register the line's modules: (the modules registered, their static paths, None
        where a path is made at run time)."""
        alias = stmt.alias
        self.flattened(stmt, made)
        if alias is None and [m.base for m in made] == ["identity"] and not self.loop_marks:
            # a layer that does no work gets no module (its name is still counted)
            self.namer.auto("identity")
            made[0].skip = True
            return made, [None]
        if alias is None:
            return made, [self.auto(m) for m in made]
        if type(alias) is str:
            self.namer.claim(alias)
            return made, [self.register(alias, made[0])] + [self.auto(m) for m in made[1:]]
        return self.path(alias, made)

    def flattened(self, stmt: S.Simple, made: list[Made]) -> None:
        """In an nn.Sequential, an `fc` on a map gets its input flattened: by an
        `nn.Flatten()` registered just before it where it stands in the body itself (as
        `flatten`, a name the spec cannot have given), else by FlatLinear, an nn.Linear that
        flattens (inside a container, where a module more would move the indices)."""
        for i, m in enumerate(made):
            if not m.flatten:
                continue
            alias = stmt.alias
            top = i == 0 and (alias is None or type(alias) is str or len(alias.parts) == 1)
            top = top and not self.loop_marks and "flatten" not in self.namer.used
            if top:
                self.namer.used.add("flatten")
                for line in self.tree.register("flatten", "nn.Flatten()"):
                    self.init.add(line)
            else:
                self.gen.helpers.add("flat_linear")
                m.ctor = "FlatLinear" + m.ctor[len("nn.Linear") :]

    def auto(self, m: Made) -> str | None:
        counter = self.counters.get(m.base)
        if counter is None and self.loop_marks:
            count = self.namer.runtime_base(m.base)
            counter = self.counters[m.base] = self.names.take(f"{m.base}s")
            where = self.loop_marks[0]
            level = self.init.lines[where][0]
            self.init.lines.insert(where, (level, f"{counter} = {count}"))
            self.loop_marks = [i + 1 for i in self.loop_marks]
        if counter is not None:
            self.init.add(f"{counter} = {counter} + 1")  # (`+= 1` reads as a loop index)
            self.register_at_run_time(f'f"{m.base}{{{counter}}}"', m, "add_module")
            return None
        return self.register(self.namer.auto(m.base), m)

    def path(self, path: S.Path, made: list[Made]) -> tuple[list[Made], list[str | None]]:
        texts, static = path_parts(path, self.py)
        if path.appends and len(static) >= 2 and self._own_container(path, static):
            # a new container holding this line's layers: one nn.Sequential of them
            inner = ", ".join(self._ctor(m) for m in made)
            group = Made(
                made[-1].base, f"nn.Sequential({inner})", made[-1].channels, made[-1].rank
            )
            texts, static, made = texts[:-1], static[:-1], [group]
            path = S.Path(path.parts[:-1], path.span, path.text)
        targets = made if path.appends else made[:1]
        names: list[str | None] = []
        if not self.loop_marks and "?" not in static:
            prefix = self._hold(static[:-1])
            if prefix is not None:
                container = ".".join(prefix)
                for m in targets:
                    last = self.namer.index(container, static[-1])
                    if last is None:
                        break
                    names.append(self.register(".".join([*prefix, last]), m))
        if len(names) < len(targets):  # at run time: `place` resolves `*` as the elaborator
            if names:
                raise Untranslatable("a path partly known before the line runs")
            text = ".".join(texts)
            quoted = f'f"{text}"' if "{" in text else f'"{text}"'
            ctors = [self._ctor(m) for m in targets]
            if text == "*" and self.appends_only:  # the next index is the next position
                for ctor in ctors:
                    self.init.add(f"self.append({ctor})")
            else:
                self.gen.helpers.add("place")
                self.init.add(f"place(self, {quoted}, {', '.join(ctors)})")
            for m in targets:
                self._channels_after(m)
                names.append(None)
            root = texts[0] if texts[0] != "*" and "{" not in texts[0] else ""
            for key in list(self.namer.next) + [root]:
                if not root or key == root or key.startswith(root + "."):
                    self.namer.next[key] = None
            if root:
                self.namer.used.add(root)
        return made, names + [self.auto(m) for m in made[len(targets) :]]

    def _own_container(self, path: S.Path, static: list[str | None]) -> bool:
        """Whether the line's layers are all its container holds: a new one (`*` before the
        last part), or one named only on this line, outside loops, not made yet."""
        if static[-2] is None:
            return True
        prefix = static[:-1]
        if self.loop_marks or any(p is None or p == "?" for p in prefix):
            return False
        text = ".".join(prefix)
        return self.container_uses.get(text, 0) == 1 and text not in self.namer.holders

    def _hold(self, parts: list[str | None]) -> list[str] | None:
        resolved: list[str] = []
        for part in parts:
            got = self.namer.index(".".join(resolved), part)
            if got is None:
                return None
            resolved.append(got)
            self.namer.holders.add(".".join(resolved))
            if len(resolved) == 1:
                self.namer.used.add(got)
        return resolved

    def register(self, path: str, m: Made) -> str:
        """`self.conv1 = ...`, containers made on the way: a static path."""
        if m.window is not None and m.window[2] == "same":
            if not self.forward or self.size is None or "." in path:
                if self.size is None:
                    raise NeedsSize("`padding=same` depends on the input's size")
                raise Untranslatable("`padding=same` where the forward cannot pad")
            attr = self.attribute(f"{path}_padding")
            self.constants.append(attr)
            self.gen.helpers.add("same_padding")
            self.init.add(f"self.{attr} = same_padding(size, {m.window[0]}, {m.window[1]})")
            self.padded[path] = attr
        if m.parameter is not None and self.forward and path.isidentifier():
            ctor = m.parameter
            self.parameters.add(path)
        else:
            ctor = m.ctor if m.block is not None else self._ctor(m)
        for line in self.tree.register(path, ctor):
            self.init.add(line)
        if m.block is not None:
            self._block_made(m, self.tree.ref(path))
        self._channels_after(m)
        return path

    def register_at_run_time(self, path: str, m: Made, how: str) -> None:
        ctor = self._ctor(m)
        if how == "add_module":
            self.init.add(f"self.add_module({path}, {ctor})")
        else:
            self.init.add(f"place(self, {path}, {ctor})")
        self._channels_after(m)

    def _ctor(self, m: Made) -> str:
        if m.block is None:
            if m.helper:
                self.gen.helpers.add(m.helper)
            return m.ctor
        if self.block_var is None:
            self.block_var = self.names.take("block")
        var = self.block_var
        self.init.add(f"{var} = {m.ctor}")
        self._block_made(m, var)
        return var

    def _block_made(self, m: Made, ref: str) -> None:
        """A block's module is `ref`: its channels (unless the call's arguments give them)
        and H×W are read off it."""
        if not m.channels:
            m.channels = f"{ref}.out_channels"
        m.size = f"{ref}.out_size"

    def _size_after(self, m: Made) -> None:
        """`size = ...` after a layer that changes the H×W (where the code follows it)."""
        if self.size is None:
            return
        if m.block is not None:
            if not m.block.keeps_size:
                self.init.add(f"size = {m.size}")
        elif m.window is not None and m.window[2] == "same":
            self.gen.helpers.add("same_padding")
            self.init.add(f"size = same_size(size, {m.window[1]})")
        elif m.window is not None and not _keeps_size(m.window):
            k, s, p, d, ceil = m.window
            args = [self.size, k, s, p] + ([d] if d != "1" or ceil != "False" else [])
            args += [f"ceil_mode={ceil}"] if ceil != "False" else []
            self.gen.helpers.add("conv_size")
            self.init.add(f"size = conv_size({', '.join(args)})")
        elif m.size is not None:
            if m.size.startswith("pair("):
                self.gen.helpers.add("pair")
            self.init.add(f"size = {m.size}")

    def _channels_after(self, m: Made) -> None:
        self._size_after(m)
        if simple(m.channels) and not m.channels.endswith(".out_channels"):
            self.channels = m.channels
        else:
            self.init.add(f"channels = {m.channels}")
            self.channels = "channels"


def _keeps_size(window: tuple[str, str, str, str, str]) -> bool:
    """Whether a window (kernel, stride, padding, dilation, ceil_mode) leaves the H×W as it is:
    stride 1 and the padding d·(k - 1)/2 of an odd kernel."""
    k, s, p, d, _ceil = window
    if not (k.isdigit() and s == "1" and p.isdigit() and d.isdigit()):
        return False
    return 2 * int(p) == int(d) * (int(k) - 1)


def path_parts(path: S.Path, py: Callable[[S.Expr], str]) -> tuple[list[str], list[str | None]]:
    """A path written `as "a.{i}.*"` read two ways: each part as f-string text (`*` for an
    index the elaborator appends), and as known before the code runs (the text; None for
    `*`; "?" for a part with a `{hole}`)."""
    texts: list[str] = []
    static: list[str | None] = []
    for part in path.parts:
        if part is None:
            texts.append("*")
            static.append(None)
            continue
        pieces = [p if type(p) is str else "{" + py(p) + "}" for p in part]
        texts.append("".join(pieces))
        static.append(texts[-1] if all(type(p) is str for p in part) else "?")
    return texts, static
