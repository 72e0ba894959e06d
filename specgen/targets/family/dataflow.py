"""How the family code's writer writes `forward`: each line's modules as one nested call, the
composites' data flow (`residual`, `concat`, `split`, `add`), and the BatchNorms that
`fold_batchnorms` folds into the layer applied just before them."""

from __future__ import annotations

import re

from ...language import syntax as S
from ...layers import BY_OP
from .code import ACTIVATIONS, SPATIAL, Flow, stable
from .layers import Made
from .pyexpr import Untranslatable
from .syntax import conditional, reads_in

# layers whose backward needs their input only: their output may be added to in place
_OUTPUT_UNSAVED = frozenset({"conv", "pwconv", "dwconv", "gdc", "fc", "bn", "add"})


class Dataflow:
    """`forward` and its composites, for BodyWriter."""

    last_applied: str | None = None  # the last layer `forward` applied (`bn`, `block`, ...)

    def apply(self, made: list[Made], names: list[str | None], flow: Flow) -> Flow:
        """The line's modules applied in turn: one statement, its calls nested
        (`out = self.relu1(self.bn1(self.conv1(x)))`), as the spec writes one line."""
        if all(m.skip for m in made):  # nothing applied: the tensor stays where it is
            return flow
        expr = flow.var
        last = flow.last
        for m, name in zip(made, names, strict=True):
            if m.skip:
                continue
            fresh = True if m.block is not None else (BY_OP[m.base].fresh or m.base in ACTIVATIONS)
            unit = m.base in ("gap", "gmp") or (flow.unit and m.base not in SPATIAL)
            if self.forward:
                if name is None:
                    raise Untranslatable("a layer named at run time in a body with composites")
                last = self.fold_pair(last, m, name)
                if m.base == "fc" and flow.rank == 4:
                    expr = f"torch.flatten({expr}, 1)"
                if name in self.padded:  # -inf: what a max pool's own padding means
                    expr = f"nn.functional.pad({expr}, self.{self.padded[name]}, value=-math.inf)"
                    self.gen.helpers.add("math")
                if name in self.parameters:  # a layer scale held as a bare parameter
                    expr = f"{expr} * {self.tree.ref(name)}"
                else:
                    expr = f"{self.tree.ref(name)}({expr})"
            flow = Flow(flow.out, flow.out, m.rank, fresh, unit)
        if self.forward:
            self.fwd.add(f"{flow.out} = {expr}")
        if made:
            self.last_applied = "block" if made[-1].block is not None else made[-1].base
        flow.last = last
        return flow

    def fold_pair(self, last: str | None, m: Made, name: str) -> str | None:
        """Note the BatchNorm `m` folds into `last` (the layer applied just before it); the
        layer `m` is, for the next one."""
        if m.base == "bn" and last is not None:
            self.folds.add(f'fold_pairs(self, [("{last}", "{name}")])')
            self.gen.helpers |= {"fold", "fold_pairs"}
            return None
        if m.block is None and m.ctor.startswith("nn.Sequential("):  # run as a whole
            self.folds.add(f"fold_sequence({self.tree.ref(name)})")
            self.gen.helpers.add("fold_sequence")
        if m.base in ("conv", "pwconv", "dwconv", "gdc", "fc") and m.block is None:
            return name if not m.ctor.startswith("nn.Sequential(") else None
        return None

    def composite(self, stmt: S.Compound, flow: Flow) -> Flow:
        kind = stmt.head.name
        outer = self.branch_size
        if self.size is not None:
            self.branch_size = self.names.fresh("branch_size")
            self.init.add(f"{self.branch_size} = size")
        held = self.init.lines[-1] if self.size is not None else None
        try:
            return self._composite(stmt, flow, kind)
        finally:
            self.branch_size = outer
            if held is not None:  # no branch went back to the input's size: not kept
                at = self.init.lines.index(held)
                name = re.compile(rf"\b{held[1].split()[0]}\b")
                if not any(name.search(t) for _, t in self.init.lines[at + 1 :]):
                    del self.init.lines[at]

    def _size_moved(self) -> bool:
        """Whether `size` was set since the composite kept its input's in `branch_size`."""
        for _, text in reversed(self.init.lines):
            if text == f"{self.branch_size} = size":
                return False
            if text.startswith("size = "):
                return True
        return True

    def _composite(self, stmt: S.Compound, flow: Flow, kind: str) -> Flow:
        if kind == "residual":
            return self.residual(stmt, flow)
        if kind in ("concat", "add", "rep", "split"):  # a `rep:` is a sum while it trains
            return self.merge(stmt, flow)
        raise Untranslatable(f"`{kind}:` here")

    def branch(self, stmts, source: str, base: str, channels: str) -> tuple[str, str]:
        """`stmts` applied to `source`: (the variable holding the result, its channels)."""
        if reads_in(stmts) and not stable(channels):
            held = self.names.fresh(f"{base}_channels")
            self.init.add(f"{held} = {channels}")
            channels = held
        if self.branch_size is not None and self.size is not None and self._size_moved():
            self.init.add(f"size = {self.branch_size}")
        self.channels, outer = channels, self.in_text
        self.in_text = channels  # a composite's branch is a body: `in` is its input
        mark = len(self.fwd.lines)
        var = self.fwd_names.fresh(base)
        out = self.body(stmts, Flow(source, var, 4, False, False))
        self.in_text = outer
        if len(self.fwd.lines) == mark:  # nothing applied: the branch is its input
            self.fwd_names.used.discard(var)
            return source, self.channels
        if out.rank == 2:
            self.fwd.add(f"{out.var} = {out.var}[:, :, None, None]")
        return out.var, self.channels

    def residual(self, stmt: S.Compound, flow: Flow) -> Flow:
        shortcuts = [s for s in stmt.body if type(s) is S.Compound and s.head.name == "shortcut"]
        main = tuple(s for s in stmt.body if s not in shortcuts)
        start, source = self.channels, flow.var
        first = bool(shortcuts) and stmt.body.index(shortcuts[0]) < stmt.body.index(main[0])
        identity = source
        if shortcuts and first:
            identity, _ = self.branch(shortcuts[0].body, source, "identity", start)
        out, channels = self.branch(main, source, "out", start)
        last = self.last_applied
        if shortcuts and not first:
            identity, _ = self.branch(shortcuts[0].body, source, "identity", start)
        self.channels = channels
        self.last_applied = "add"
        if out != source and last in _OUTPUT_UNSAVED and self.fwd.level == 0:
            # in place, as torchvision's `out += identity`: the tensor is the branch's own
            # and the layer that made it needs only its input for the backward pass (not
            # under an `if`, whose branches must end in the same variable)
            self.fwd.add(f"{out} += {identity}")
            return Flow(out, flow.out, 4, True, False)
        self.fwd.add(f"{flow.out} = {out} + {identity}")
        return Flow(flow.out, flow.out, 4, True, False)

    def merge(self, stmt: S.Compound, flow: Flow) -> Flow:
        kind = stmt.head.name
        branches = [s for s in stmt.body if type(s) is not S.Let]
        if any(S.holds_branch(b) for b in branches):
            raise Untranslatable("branches written by a `for` or `if`")
        if kind == "rep" and any(conditional(b) for b in branches):
            raise Untranslatable("a `rep:` branch under an `if` (left out where it adds nothing)")
        start = self.channels
        sources = [flow.var] * len(branches)
        sizes: list[str] = [start] * len(branches)
        if kind == "split":
            given = [
                a.value for a in stmt.head.args if isinstance(a, S.KwArg) and a.name == "sizes"
            ]
            parts = [self.fwd_names.fresh("part", True) for _ in branches]
            if given:
                split = self.names.fresh("sizes")
                self.init.add(f"{split} = {self.py(given[0])}")
                self.fwd.add(f"{', '.join(parts)} = torch.split({flow.var}, self.{split}, dim=1)")
                self.init.add(f"self.{self.attribute(split)} = {split}")
                sizes = [f"{split}[{i}]" for i in range(len(branches))]
            else:
                n = len(branches)
                self.fwd.add(f"{', '.join(parts)} = {flow.var}.chunk({n}, dim=1)")
                held = self.names.fresh("part_channels")
                self.init.add(f"{held} = {start} // {n}")
                sizes = [held] * n
            sources = parts
        elif not (start.isidentifier() and start != "channels") and not start.isdigit():
            held = self.names.fresh("branch_channels")
            self.init.add(f"{held} = {start}")
            sizes = [held] * len(branches)
        outs, channels = [], []
        for s, source, c in zip(branches, sources, sizes, strict=True):
            stmts = s.body if type(s) is S.Compound and s.head.name == "branch" else (s,)
            var, ch = self.branch(stmts, source, "branch", c)
            outs.append(var)
            channels.append(ch)
        if kind in ("add", "rep"):
            self.fwd.add(f"{flow.out} = {' + '.join(outs)}")
            self.channels = channels[0]
        else:
            self.fwd.add(f"{flow.out} = torch.cat([{', '.join(outs)}], dim=1)")
            self.init.add(f"channels = {' + '.join(channels)}")
            self.channels = "channels"
        return Flow(flow.out, flow.out, 4, True, False)
