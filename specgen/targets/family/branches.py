"""How the family code's writer writes what chooses and repeats: `if`/`elif`/`else` (in the
constructor, and in `forward` under a flag the constructor keeps), activations chosen by an
`if` as one line, `for` loops and `x N` repeats (whose names are made at run time)."""

from __future__ import annotations

import copy
from dataclasses import replace

from ...language import syntax as S
from ...layers import OPS
from .code import Flow, join, stable
from .pyexpr import Untranslatable
from .syntax import flag_name, is_activation, makes_modules


class Branches:
    """`if` and loops, for BodyWriter."""

    def conditional(self, stmt: S.If, flow: Flow) -> Flow:
        if not any(makes_modules(b) for _, b in stmt.branches):
            self._branches(stmt, lambda i, cond: cond)
            return flow
        merged = self.choice_of_activation(stmt, flow)
        if merged is not None:
            return merged
        before = self.channels
        settled = stmt.branches[-1][0] is not None or not stable(before)
        if settled:
            self.settle()  # (with an `else`, each branch settles its own)
        channels = before if stable(before) else self.channels  # what the branches start from
        start, tree = self.namer.copy(), copy.deepcopy(self.tree)
        outcomes, flows, trees, unchanged = [], [], [], []
        tests = [test for test, _ in stmt.branches]
        flags: list[str] = []  # one boolean per tested branch
        if self.forward:  # the forward takes the branch the constructor took: it is kept
            base = flag_name(stmt)
            tested = [t for t in tests if t is not None]
            for i, test in enumerate(tested):
                flags.append(self.attribute(base if len(tested) == 1 else f"{base}_{i}"))
                # a boolean constant: TorchScript then compiles the branch taken only (it
                # does not fold `self.flag == 1`, so every branch is a flag of its own)
                self.constants.append(flags[-1])
                taken = self.py(test)
                if i:  # and no branch before it
                    before = " or ".join(f"self.{f}" for f in flags[:-1])
                    before = f"({before})" if i > 1 else before
                    loose = any(w in f" {taken} " for w in (" or ", " if ", " lambda "))
                    taken = f"not {before} and " + (f"({taken})" if loose else taken)
                self.init.add(f"self.{flags[-1]} = {taken}")
            if flow.var != flow.out:  # every branch then works on `out`
                self.fwd.add(f"{flow.out} = {flow.var}")
                flow = replace(flow, var=flow.out)

        def cond(i: int, written: str) -> str:
            return f"self.{flags[i]}" if i < len(flags) else written

        def branch(i: int, stmts: tuple[S.Stmt, ...]) -> None:
            self.namer, self.tree, self.channels = start.copy(), copy.deepcopy(tree), channels
            mark = len(self.init.lines)
            out = self.body(stmts, replace(flow))
            kept = not any(t.startswith("channels = ") for _, t in self.init.lines[mark:])
            unchanged.append(self.channels == before and kept)
            if settled and unchanged[-1]:
                self.channels = "channels"  # which holds them already
            self.settle()
            outcomes.append(self.namer)
            flows.append(out)
            trees.append(self.tree)

        self._branches(stmt, cond, branch)
        if tests[-1] is not None:  # no branch taken
            outcomes.append(start.copy())
            flows.append(flow)
            trees.append(tree)
        self.namer = start.copy()
        self.namer.join(outcomes)
        self.tree = trees[0] if all(t.children == trees[0].children for t in trees) else tree
        if stable(before) and all(unchanged):  # the same channels whichever branch is taken
            self.channels = before
        return join(flows)

    def choice_of_activation(self, stmt: S.If, flow: Flow) -> Flow | None:
        """`if c: LINE` / `else: LINE'`, the two lines the same but for their activations
        (`... bn hswish as "*.*"` / `... bn relu as "*.*"`): one line whose activation is
        `nn.Hardswish(...) if c else nn.ReLU(...)`."""
        if len(stmt.branches) != 2 or stmt.branches[1][0] is not None:
            return None
        lines = [b[0] if len(b) == 1 else None for _, b in stmt.branches]
        if not all(type(x) is S.Simple and x.repeat is None for x in lines):
            return None
        a, b = lines
        if type(a.alias) is not S.Path or self.gen.text(a.alias.span) != self.gen.text(
            b.alias.span
        ):
            return None
        if a.head.name != b.head.name or len(a.head.args) != len(b.head.args):
            return None
        for x, y in zip(a.head.args, b.head.args, strict=True):
            same = self.gen.text(x.span) == self.gen.text(y.span)
            acts = all(is_activation(v) for v in (x, y))
            if not (same or acts):
                return None
        if a.head.name not in OPS:
            return None
        mark = len(self.init.lines)
        first = self.layer_line(a.head, False, flow)
        del_from = len(self.init.lines)
        second = self.layer_line(b.head, False, flow)
        del self.init.lines[del_from:]
        if len(first) != len(second) or len(self.init.lines) < mark:
            return None
        test = self.py(stmt.branches[0][0])
        for m, other in zip(first, second, strict=True):
            if m.ctor != other.ctor:
                m.ctor = f"{m.ctor} if {test} else {other.ctor}"
        made, names = self.place(a, first)
        return self.apply(made, names, flow)

    def _branches(self, stmt: S.If, cond, branch=None) -> None:
        """The `if`/`elif`/`else` lines; `branch(i, stmts)` writes each body (else the
        constructor's own lines only)."""
        chained = branch is not None and self.forward
        chain_start = len(self.folds.lines)
        init_start = len(self.init.lines)
        bodies: list[tuple[int, int]] = []  # each branch's constructor lines
        fold_bodies: list[tuple[int, int]] = []
        for i, (test, stmts) in enumerate(stmt.branches):
            written = self.py(test) if test is not None else ""
            line = cond(i, written)
            if i == 0:
                head = f"if {line}:"
            elif test is None or (chained and cond(i, "") == cond(0, "")):
                head = "else:"
            else:
                head = f"elif {line}:"
            self.init.add(head)
            if chained:
                self.fwd.add(head)
                self.fwd.level += 1
                fold_mark = len(self.folds.lines)
                self.folds.add(head)
                self.folds.level += 1
            self.init.level += 1
            before, mark = len(self.init.lines), len(self.fwd.lines)
            if branch is None:
                self._constructor_only(stmts)
            else:
                branch(i, stmts)
            if len(self.init.lines) == before:
                self.init.add("pass")
            bodies.append((before, len(self.init.lines)))
            self.init.level -= 1
            if chained:
                if len(self.fwd.lines) == mark:
                    self.fwd.add("pass")
                self.fwd.level -= 1
                self.folds.level -= 1
                if len(self.folds.lines) == fold_mark + 1:
                    self.folds.lines.append((self.folds.level + 1, "pass"))
                fold_bodies.append((fold_mark + 1, len(self.folds.lines)))
        if chained and stmt.branches[-1][0] is None:
            # the same modules whichever branch is taken (only `forward` differs): made once
            _hoist(self.init.lines, init_start, bodies)
            _hoist(self.folds.lines, chain_start, fold_bodies)
        if chained:
            self._drop_empty_folds(chain_start)

    def _drop_empty_folds(self, start: int) -> None:
        """An `if` chain of `fold_batchnorms` with nothing to fold in any branch goes."""
        chain = self.folds.lines[start:]
        if all(t == "pass" or t.startswith(("if ", "elif ")) or t == "else:" for _, t in chain):
            del self.folds.lines[start:]

    def _constructor_only(self, stmts: tuple[S.Stmt, ...]) -> None:
        for s in stmts:
            self.statement(s, Flow(), False)

    def loop(self, stmt: S.For, flow: Flow) -> Flow:
        makes = makes_modules(stmt.body)
        if makes and self.forward:
            raise Untranslatable("a loop that makes layers in a body with composites")
        if makes:
            self.settle()
        targets = ", ".join(self.bind(n) for n in stmt.targets)
        self.init.add(f"for {targets} in {self.py(stmt.iterable, iterated=True)}:")
        return self._loop_body(lambda f: self.body(stmt.body, f), flow)

    def _loop_body(self, write, flow: Flow) -> Flow:
        """A loop's body, written once: what it names is named at run time."""
        self.loop_marks.append(len(self.init.lines) - 1)
        self.init.level += 1
        before = len(self.init.lines)
        start = self.namer.copy()
        flow = write(flow)
        self.settle()
        if len(self.init.lines) == before:
            self.init.add("pass")
        self.init.level -= 1
        self.loop_marks.pop()
        for key, k in self.namer.next.items():  # the containers it fills
            if start.next.get(key, 0) != k:
                self.namer.next[key] = None
        return flow


def _hoist(lines: list[tuple[int, str]], start: int, bodies: list[tuple[int, int]]) -> None:
    """An `if` chain (from `start`) whose branches' `bodies` (line ranges) are the same lines:
    those lines once, without the `if`."""
    first = lines[bodies[0][0] : bodies[0][1]]
    if any(lines[a:b] != first for a, b in bodies[1:]):
        return
    lines[start:] = [(level - 1, text) for level, text in first if text != "pass"]
