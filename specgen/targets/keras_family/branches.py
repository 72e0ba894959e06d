"""How the Keras family code writes what chooses and repeats: `if`/`elif`/`else` as Python's
`if` (two branches that differ only in activations as one line choosing them, an optional
residual as one conditional `Add`), `for` loops and `x N` repeats, whose names are counted
at run time."""

from __future__ import annotations

from dataclasses import replace

from ...language import syntax as S
from ...layers import OPS
from ..family.code import Flow, join
from ..family.pyexpr import Untranslatable
from ..family.syntax import is_activation, makes_modules

# activations without arguments, which `apply_activation` applies by their spec name
_PLAIN_ACTIVATIONS = frozenset({"relu", "relu6", "sigmoid", "hsigmoid", "hswish", "silu"})
_PLAIN_ACTIVATIONS |= {"tanh", "gelu"}


class Branches:
    """`if` and loops, for KerasBody."""

    def conditional(self, stmt: S.If, flow: Flow) -> Flow:
        """The `if`; written again where a loop in one branch counted at run time a name
        that another branch took statically (then every branch counts it)."""
        before, mark, namer, top = set(self.counters), len(self.code.lines), self.namer, self.top
        result = self._conditional(stmt, flow)
        new = set(self.counters) - before
        if new:
            shift = len(new)  # each counter's first line, inserted above the `if`
            del self.code.lines[mark + shift :]
            self.namer = namer.copy()
            self.namer.runtime |= new
            self.top = (top[0] + shift, top[1])
            result = self._conditional(stmt, flow)
        return result

    def _conditional(self, stmt: S.If, flow: Flow) -> Flow:
        choice = self._choice_of_activation(stmt)
        if choice is not None:
            return self.line(choice[0], flow, False, choice[1])
        if self._optional_residual(stmt):
            return self.optional_residual(stmt, flow)
        makes = any(makes_modules(b) for _, b in stmt.branches)
        if makes:
            flow = self.settle(flow)
        start = self.namer.copy()
        outcomes, flows = [], []
        mark = len(self.code.lines)
        for i, (test, stmts) in enumerate(stmt.branches):
            head = "else:" if test is None else f"{'if' if i == 0 else 'elif'} {self.py(test)}:"
            self.code.add(head)
            self.code.level += 1
            before = len(self.code.lines)
            self.namer = start.copy()
            flows.append(self.body(stmts, replace(flow)))
            outcomes.append(self.namer)
            if len(self.code.lines) == before:
                self.code.add("pass")
            self.code.level -= 1
        if stmt.branches[-1][0] is not None:
            outcomes.append(start.copy())
            flows.append(flow)
        self.namer = start.copy()
        self.namer.join(outcomes)
        if makes and len(stmt.branches) == 2 and stmt.branches[1][0] is None:
            self._choice_of_layers(mark, self.py(stmt.branches[0][0]))
        return join(flows) if makes else flow

    def _choice_of_activation(self, stmt: S.If) -> tuple[S.Simple, dict[int, str]] | None:
        """`if c: LINE` / `else: LINE'`, the lines the same but for their activations and
        named by the same `as`: LINE, its activations `apply_activation(x, "hswish" if c
        else "relu", name)` (what the PyTorch family code writes `nn.Hardswish() if c else
        nn.ReLU()`).  None where it is not that."""
        branches = stmt.branches
        if len(branches) != 2 or branches[1][0] is not None:
            return None
        lines = [b[0] if len(b) == 1 else None for _, b in branches]
        if not all(type(x) is S.Simple and x.repeat is None for x in lines):
            return None
        a, b = lines
        if a.alias is None or a.head.name != b.head.name or a.head.name not in OPS:
            return None
        if len(a.head.args) != len(b.head.args) or self._alias(a) != self._alias(b):
            return None
        kinds: list[tuple[str, str]] = []
        for x, y in zip(a.head.args, b.head.args, strict=True):
            if is_activation(x) and is_activation(y):
                kinds.append((self.gen.text(x.span), self.gen.text(y.span)))
            elif self.gen.text(x.span) != self.gen.text(y.span):
                return None
        if all(x == y for x, y in kinds) or not all(
            x in _PLAIN_ACTIVATIONS and y in _PLAIN_ACTIVATIONS for x, y in kinds
        ):
            return None
        items = self.layers_of(a.head, False)
        acts = [i for i, (op, _) in enumerate(items) if is_activation(S.Name(op, a.head.span))]
        if len(acts) != len(kinds):
            return None
        test = self.py(branches[0][0])
        return a, {
            i: f'"{x}" if {test} else "{y}"'
            for i, (x, y) in zip(acts, kinds, strict=True)
            if x != y
        }

    def _optional_residual(self, stmt: S.If) -> bool:
        """`if c: residual: LINES` / `else: LINES`, the same single-line statements, no
        shortcut, the residual's name static (not counted at run time)."""
        branches = stmt.branches
        if len(branches) != 2 or branches[1][0] is not None or len(branches[0][1]) != 1:
            return False
        res, other = branches[0][1][0], branches[1][1]
        if type(res) is not S.Compound or res.head.name != "residual" or res.head.args:
            return False
        if self.loop_marks or "residual" in self.counters:
            return False
        body = res.body
        if len(body) != len(other) or any(type(x) not in (S.Simple, S.Let) for x in body):
            return False
        return all(
            x.span.line == x.span.end_line
            and y.span.line == y.span.end_line
            and self.gen.text(x.span) == self.gen.text(y.span)
            for x, y in zip(body, other, strict=True)
        )

    def optional_residual(self, stmt: S.If, flow: Flow) -> Flow:
        """The lines once, then the sum with the input only where `c` holds:
        `x = layers.Add(name=...)([out, x]) if c else out`."""
        test = self.py(stmt.branches[0][0])
        flow = self.settle(flow)
        start = self.namer.copy()
        out = self.branch(stmt.branches[1][1], flow.var, "out")
        without = self.namer.copy()
        label = self.label(self.auto("residual"))
        add = f"layers.Add(name={label()})([{out}, {flow.var}])"
        self.code.add(f"{flow.out} = {add} if {test} else {out}")
        with_ = self.namer
        self.namer = start
        self.namer.join([with_, without])
        return Flow(flow.out, flow.out, 4, True, False)

    def _alias(self, line: S.Simple) -> str | None:
        alias = line.alias
        return alias if alias is None or type(alias) is str else self.gen.text(alias.span)

    def _choice_of_layers(self, mark: int, test: str) -> None:
        """`if c:` / `else:` whose branches are the same lines but for some layers'
        constructors (`bn hswish` / `bn relu`): the lines once, each such layer chosen
        there, `(layers.Activation("hard_swish", ...) if c else layers.ReLU(...))(x)`."""
        lines = self.code.lines[mark:]
        n = (len(lines) - 2) // 2
        if len(lines) != 2 * n + 2 or lines[n + 1][1] != "else:":
            return
        first, second = lines[1 : n + 1], lines[n + 2 :]
        merged = []
        for (level, a), (other, b) in zip(first, second, strict=True):
            if level != other:
                return
            if a != b:
                out = a.split(" = ", 1)[0] + " = "
                if not (a.startswith(out) and b.startswith(out)) or not (")(" in a and ")(" in b):
                    return
                (ctor_a, arg_a), (ctor_b, arg_b) = (t[len(out) :].rsplit(")(", 1) for t in (a, b))
                if arg_a != arg_b or "(" not in ctor_a or "(" not in ctor_b:
                    return
                a = f"{out}({ctor_a}) if {test} else {ctor_b}))({arg_a}"
            merged.append((level - 1, a))
        self.code.lines[mark:] = merged

    def loop(self, stmt: S.For, flow: Flow) -> Flow:
        makes = makes_modules(stmt.body)
        if makes:
            flow = self.settle(flow)
        targets = ", ".join(self.bind(n) for n in stmt.targets)
        self.code.add(f"for {targets} in {self.py(stmt.iterable, iterated=True)}:")
        return self._loop_body(lambda f: self.body(stmt.body, f), flow)

    def _loop_body(self, write, flow: Flow) -> Flow:
        self.loop_marks.append(len(self.code.lines) - 1)
        self.code.level += 1
        before = len(self.code.lines)
        start = self.namer.copy()
        out = write(flow)
        if out.var != flow.var or out.rank != flow.rank:
            raise Untranslatable("a loop whose body ends in another tensor or rank")
        if len(self.code.lines) == before:
            self.code.add("pass")
        self.code.level -= 1
        self.loop_marks.pop()
        for key, k in self.namer.next.items():
            if start.next.get(key, 0) != k:
                self.namer.next[key] = None
        return replace(out, unit=out.unit and flow.unit)

    # ---- layer lines and block calls ---------------------------------------------------------
