"""How the Keras family code writes the composites: `residual:` as `layers.Add` of the
branch and the shortcut, `concat:` and `add:` as `Concatenate` and `Add` of their branches,
`split:` as `split_channels`, each merge layer named after the composite as the elaborator
names it (after its branches)."""

from __future__ import annotations

from dataclasses import replace

from ...language import syntax as S
from ..family.code import Flow
from ..family.pyexpr import Untranslatable
from ..family.syntax import conditional


class Composites:
    """The composites' data flow, for KerasBody."""

    def branch(self, stmts: tuple[S.Stmt, ...], source: str, base: str) -> str:
        """`stmts` applied to `source`: the variable holding the result (a map)."""
        outer = self.in_text
        self.in_text = f"{source}.shape[-1]"  # `source` stays as it is in the branch
        var = self.names.fresh(base)
        flow = self.body(stmts, Flow(source, var, 4, False, False))
        self.in_text = outer
        if flow.var == source:
            return source
        if flow.rank == 2:
            self.emit(flow.var, f"layers.Reshape((1, 1, {flow.var}.shape[-1]))", flow.var)
        return flow.var

    def composite(self, stmt: S.Compound, flow: Flow) -> Flow:
        kind = stmt.head.name
        if flow.rank == 2:
            self.emit(flow.out, f"layers.Reshape((1, 1, {flow.var}.shape[-1]))", flow.var)
            flow = replace(flow, var=flow.out, rank=4)
        if kind == "residual":
            return self.residual(stmt, flow)
        if kind in ("concat", "add", "rep", "split"):  # a `rep:` is a sum while it trains
            return self.merge(stmt, flow)
        raise Untranslatable(f"`{kind}:` here")

    def residual(self, stmt: S.Compound, flow: Flow) -> Flow:
        shortcuts = [s for s in stmt.body if type(s) is S.Compound and s.head.name == "shortcut"]
        main = tuple(s for s in stmt.body if s not in shortcuts)
        first = bool(shortcuts) and stmt.body.index(shortcuts[0]) < stmt.body.index(main[0])
        source = flow.var
        short = source
        if shortcuts and first:
            short = self.branch(shortcuts[0].body, source, "shortcut")
        out = self.branch(main, source, "out")
        if shortcuts and not first:
            short = self.branch(shortcuts[0].body, source, "shortcut")
        label = self.label(self.auto("residual"))
        self.emit(flow.out, f"layers.Add(name={label()})", f"[{out}, {short}]")
        return Flow(flow.out, flow.out, 4, True, False)

    def merge(self, stmt: S.Compound, flow: Flow) -> Flow:
        kind = stmt.head.name
        branches = [s for s in stmt.body if type(s) is not S.Let]
        if any(S.holds_branch(b) for b in branches):
            raise Untranslatable("branches written by a `for` or `if`")
        if kind == "rep" and any(conditional(b) for b in branches):
            raise Untranslatable("a `rep:` branch under an `if` (left out where it adds nothing)")
        sources = [flow.var] * len(branches)
        mark = len(self.code.lines)
        level = self.code.level
        if kind == "split":
            sources = [self.names.fresh("part", True) for _ in branches]
        outs = []
        for s, source in zip(branches, sources, strict=True):
            is_branch = type(s) is S.Compound and s.head.name == "branch"
            stmts = s.body if is_branch else (s,)
            outs.append(self.branch(stmts, source, "branch"))
            if is_branch or self._nodes(s) != 1:  # the elaborator's name of the branch
                if self.loop_marks or self.namer.counts.get("branch", 0) is None:
                    self.namer.counts["branch"] = None
                else:
                    self.namer.auto("branch")
        piece = self.auto(kind)
        label = self.label(piece)
        if kind == "split":
            if "{" in piece:
                raise Untranslatable("a `split` named at run time")
            given = [a.value for a in stmt.head.args if isinstance(a, S.KwArg)]
            n = len(branches)
            sizes = self.py(given[0]) if given else f"[{flow.var}.shape[-1] // {n}] * {n}"
            self.helpers.add("split")
            line = f"{', '.join(sources)} = split_channels({flow.var}, {sizes}, {label()})"
            self.code.lines.insert(mark, (level, line))
        if len(outs) == 1:
            self.code.add(f"{flow.out} = {outs[0]}")
        else:
            merge = "layers.Add" if kind in ("add", "rep") else "layers.Concatenate"
            self.emit(flow.out, f"{merge}(name={label()})", f"[{', '.join(outs)}]")
        return Flow(flow.out, flow.out, 4, True, False)

    def _nodes(self, s: S.Stmt) -> int | None:
        """How many layers a branch's one statement makes (None: not known here)."""
        if type(s) is S.Simple and s.repeat is None:
            if s.head.name in self.gen.blocks:
                return 1
            plan = self.gen.analysis.plans.get(id(s.head))
            if plan is not None:
                return 1 + len(plan.trailing)
        if type(s) is S.Compound:
            return 1
        return None
