"""Composites: `residual` (with its `shortcut:`), `add`, `concat` and `split` with their
branches, and where `branch:` and `shortcut:` may stand."""

from __future__ import annotations

from .. import ir
from ..language import syntax as S
from ..language import words
from ..language.expr import Value
from ..layers import reparam
from ..layers.shapes import checked
from .naming import Namer, counted
from .state import Abort, State


class Composites(State):
    """The composites of a body; their statements are elaborated as bodies of their own that
    share the enclosing body's names."""

    def compound(
        self, stmt: S.Compound, env: dict[str, Value], shape: ir.Shape, namer: Namer
    ) -> ir.Node | None:
        self.descend(stmt.head.span, 1)
        self.depth += 1
        try:
            return self._compound(stmt, env, shape, namer)
        finally:
            self.depth -= 1

    def _compound(
        self, stmt: S.Compound, env: dict[str, Value], shape: ir.Shape, namer: Namer
    ) -> ir.Node | None:
        head = stmt.head
        kind = head.name
        if kind not in words.COMPOSITES:
            return None  # reported by analyze
        sizes = None
        for arg in head.args:
            if kind == "split" and isinstance(arg, S.KwArg) and arg.name == "sizes":
                sizes = self.eval(arg.value, env)
            else:
                span = arg.name_span if isinstance(arg, S.KwArg) else arg.span
                hint = (
                    "split takes `sizes=[...]`"
                    if kind == "split"
                    else f"{kind} takes no arguments"
                )
                self.error(f"unexpected argument to {kind}", span, hint, "unknown-argument")
        if kind in ("branch", "shortcut"):
            where = "add, rep, concat or split" if kind == "branch" else "residual"
            self.error(
                f"`{kind}:` belongs directly inside {where}", head.name_span, code="misplaced"
            )
            return None
        if kind == "residual":
            shortcuts, main, first = self.residual_parts(stmt)
            for extra in shortcuts[1:]:
                self.error(
                    "a residual has at most one `shortcut:`",
                    extra.head.name_span,
                    code="misplaced",
                )
            if not main:
                self.error(
                    "residual needs at least one statement besides its shortcut",
                    head.name_span,
                    code="empty",
                )
                return None
            short = None
            if first:
                short = self.body(shortcuts[0].body, env, shape, shortcuts[0].span, namer)
            body = self.body(main, env, shape, head.span, namer)
            if shortcuts and not first:
                short = self.body(shortcuts[0].body, env, shape, shortcuts[0].span, namer)
            return ir.Residual(head, shape, body.out_shape, body, short, first)

        parts: list[ir.Shape]
        n = len([s for s in stmt.body if not isinstance(s, S.Let)])
        if kind == "split":
            if sizes is None:
                if n and shape.c % n:
                    self.error(
                        f"split into {n} branches does not divide {shape.c} channels",
                        head.name_span,
                        f"give explicit sizes, e.g. split sizes=[{shape.c // n + shape.c % n}, ...]",
                        "split-divisibility",
                    )
                    raise Abort
                sizes = (shape.c // max(n, 1),) * n
            else:
                sizes = self.split_sizes(sizes, n, shape, head)
            parts = [ir.Shape(s, shape.h, shape.w) for s in sizes]
        else:
            parts = [shape] * n
        branches: list[ir.Named] = []
        i = 0
        for s in stmt.body:
            if type(s) in (S.For, S.If) and S.holds_branch(s):
                if kind == "split":
                    self.error(
                        "a `split:` has one branch per statement; `branch:` under `for` or "
                        "`if` works in add, rep and concat",
                        s.span,
                        code="misplaced",
                    )
                    raise Abort
                self.branches_of((s,), dict(env), shape, namer, kind, branches)
                i += 1
                continue
            if isinstance(s, S.Let):
                self.error(
                    f"`let` cannot stand directly in {kind}; put it inside a `branch:`",
                    s.name_span,
                    code="misplaced",
                )
                continue
            part = parts[i]
            i += 1
            if isinstance(s, S.Compound) and s.head.name == "branch":
                for arg in s.head.args:
                    self.error("branch takes no arguments", arg.span, code="unknown-argument")
                seq = self.body(s.body, env, part, s.span, namer)
                if kind != "rep" or seq.children:
                    branches.append((namer.composite("branch"), seq))
                continue
            seq = self.body((s,), env, part, s.span, namer)
            if kind == "rep" and not seq.children:
                continue  # an `if` that adds nothing: no branch (in `add:`, the identity)
            if len(seq.children) == 1:
                branches.append(seq.children[0])
            else:
                branches.append((namer.composite("branch"), seq))
        if not branches:
            self.error(f"{kind} needs at least one branch", head.name_span, code="empty")
            return None
        outs = [b.out_shape for _, b in branches]
        first = outs[0]
        if kind == "add":
            return ir.Add(head, shape, first, tuple(branches))
        if kind == "rep":
            node = ir.Add(head, shape, first, tuple(branches), rep=True)
            for message, span, hint in reparam.problems(node):
                self.error(message, span, hint, "rep-branch")
            return node
        total = self.shape(checked, head.span, ir.Shape(sum(o.c for o in outs), first.h, first.w))
        if kind == "concat":
            return ir.Concat(head, shape, total, tuple(branches))
        return ir.Split(head, shape, total, tuple(sizes), tuple(branches))

    def branches_of(
        self,
        stmts: tuple[S.Stmt, ...],
        env: dict[str, Value],
        shape: ir.Shape,
        namer: Namer,
        kind: str,
        out: list[ir.Named],
    ) -> None:
        """The branches that `for` and `if` statements inside add/rep/concat write with
        `branch:` lines: one per iteration, none from an `if` whose tests all fail; their
        `let`s and loop variables are in scope."""
        for s in stmts:
            t = type(s)
            if t is S.Let:
                env[s.name] = self.eval(s.value, env)
            elif t is S.Assert:
                self.check_assert(s, env)
            elif t is S.For:
                local = dict(env)
                for _ in self.iterations(s, local):
                    self.branches_of(s.body, dict(local), shape, namer, kind, out)
            elif t is S.If:
                for test, body in s.branches:
                    if test is None or self.truth(test, env):
                        self.branches_of(body, dict(env), shape, namer, kind, out)
                        break
            elif t is S.Compound and s.head.name == "branch":
                for arg in s.head.args:
                    self.error("branch takes no arguments", arg.span, code="unknown-argument")
                seq = self.body(s.body, env, shape, s.span, namer)
                if kind != "rep" or seq.children:
                    out.append((namer.composite("branch"), seq))
            else:
                self.error(
                    f"a `for` or `if` that writes {kind} branches holds `branch:` lines only "
                    "(and `let`, `assert`)",
                    s.span,
                    code="misplaced",
                )

    def residual_parts(
        self, stmt: S.Compound
    ) -> tuple[list[S.Compound], tuple[S.Stmt, ...], bool]:
        """A residual's `shortcut:` statements, its other statements, and whether the
        shortcut is written first; worked out once per program."""
        found = self.residuals.get(id(stmt))
        if found is None:
            shortcuts = [
                s for s in stmt.body if isinstance(s, S.Compound) and s.head.name == "shortcut"
            ]
            main = tuple(
                s
                for s in stmt.body
                if not (isinstance(s, S.Compound) and s.head.name == "shortcut")
            )
            # the shortcut's layers are named (and registered) where it is written
            first = (
                bool(shortcuts)
                and bool(main)
                and stmt.body.index(shortcuts[0]) < stmt.body.index(main[0])
            )
            found = self.residuals[id(stmt)] = (shortcuts, main, first)
        return found

    def split_sizes(self, sizes: Value, n: int, shape: ir.Shape, head: S.Head) -> tuple[int, ...]:
        span = next(a.value.span for a in head.args if isinstance(a, S.KwArg))
        if not isinstance(sizes, tuple):
            self.error("split sizes must be a list like [16, 16]", span)
            raise Abort
        values = tuple(self.int(v, span, "a split size") for v in sizes)
        if len(values) != n:
            self.error(
                f"split has {counted(n, 'branch')} but {counted(len(values), 'size')}",
                span,
                code="split-sizes",
            )
            raise Abort
        if any(v <= 0 for v in values) or sum(values) != shape.c:
            self.error(
                f"split sizes {list(values)} do not add up to the {shape.c} input channels",
                span,
                code="split-sizes",
            )
            raise Abort
        return values
