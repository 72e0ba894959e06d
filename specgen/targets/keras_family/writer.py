"""One function of the Keras family code from one body (a block definition or the network's
`layers:`): its statements translated in order — `let` → a local, `if` → `if`, `for` and
`x N` → loops, layer lines → Keras layers applied at once, composites → their data flow.

The functional API builds while it runs, so unlike the PyTorch family code there is no
constructor to keep apart from a forward pass, and nothing follows channels or sizes: a
layer that needs them reads them off its input tensor.  Layer names are the elaborator's
(the same StaticNamer as the PyTorch family code decides them), counted at run time inside
loops; module paths a loop or a `{hole}` makes are resolved by the `place` helper.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...language import syntax as S
from ...layers import BY_OP, OPS
from ...names import NameTable
from ..family.code import Code, Flow, python_string
from ..family.layers import LineArgs
from ..family.pyexpr import PyExpr, Untranslatable, may_be_float, may_be_list
from ..family.syntax import next_is_bn
from .branches import Branches
from .flow import Composites
from .layers import Label, layer
from .naming import Namer, Naming

# where a tensor of rank 2 (after `fc`) must be a map again
_NEEDS_MAP = frozenset(op for op, kind in BY_OP.items() if kind.spatial) | {"sepconv"}


class KerasBody(Naming, Branches, Composites):
    """Writes one function's lines.  `gen` is the module's generator (the block functions
    by name, the helpers used); `params` maps the spec's names of the parameters (and of the
    globals passed in) to their Python names; `prefix` is the local holding the block's
    name (None in the network function)."""

    def __init__(self, gen: Any, params: dict[str, str], prefix: str | None, table: NameTable):
        self.gen = gen
        self.code = Code()
        self.names = table
        self.local: dict[str, str] = dict(params)
        self.prefix = prefix
        self.helpers: set[str] = gen.helpers
        self.py = PyExpr(self.name_of)
        self.py.used = self.helpers
        self.float_names: set[str] = set()
        self.py.floaty = lambda name: name in self.float_names or name in gen.float_globals
        self.pair_names: set[str] = set()
        self.py.pairy = lambda name: name in self.pair_names or name in gen.pair_globals
        self.namer = Namer()
        self.loop_marks: list[int] = []
        self.top: tuple[int, dict] = (0, {})  # the statement at level 0 being written
        self.counters: dict[str, str] = {}
        self.in_text: str | None = None
        self.runtime_paths = False  # every path through `place` (`indices`)
        self.path_vars: dict[str, str] = {}

    def body(self, stmts: tuple[S.Stmt, ...], flow: Flow) -> Flow:
        for i, stmt in enumerate(stmts):
            flow = self.statement(stmt, flow, next_is_bn(stmts, i))
        return flow

    def statement(self, stmt: S.Stmt, flow: Flow, next_bn: bool) -> Flow:
        if self.code.level == 0:  # where a counter that a loop inside it needs starts
            self.top = (len(self.code.lines), dict(self.namer.counts))
        t = type(stmt)
        if t is S.Let:
            self.code.add(f"{self.bind(stmt.name)} = {self.py(stmt.value)}")
            if may_be_float(stmt.value, self.py.floaty):
                self.float_names.add(stmt.name)
            if may_be_list(stmt.value, self.py.pairy):
                self.pair_names.add(stmt.name)
        elif t is S.Assert:
            self.code.add(f"if not ({self.py(stmt.test)}):")
            message = python_string(stmt.message or "assertion failed")
            self.code.add(f"    raise ValueError({message})")
        elif t is S.If:
            flow = self.conditional(stmt, flow)
        elif t is S.For:
            flow = self.loop(stmt, flow)
        elif t is S.Compound:
            flow = self.composite(stmt, flow)
        elif t is S.Simple:
            flow = self.simple(stmt, flow, next_bn)
        return flow

    def settle(self, flow: Flow) -> Flow:
        """The tensor in `flow.out` (before a branch or a loop that writes it there)."""
        if flow.var != flow.out:
            self.code.add(f"{flow.out} = {flow.var}")
            flow = replace(flow, var=flow.out)
        return flow

    def simple(self, stmt: S.Simple, flow: Flow, next_bn: bool) -> Flow:
        if stmt.repeat is None:
            return self.line(stmt, flow, next_bn)
        if next_bn and stmt.head.name in OPS:
            # only the last copy is followed by the `bn`, and the bias of an unbiased kind
            # of line depends on it: the copies differ
            plan = self.gen.analysis.plans[id(stmt.head)]
            if plan.spec.name == "sepconv" or not plan.trailing:
                raise Untranslatable("`x N` before a `bn` line")
        flow = self.settle(flow)
        self.code.add(f"for _ in range({self.py(stmt.repeat)}):")
        return self._loop_body(lambda f: self.line(stmt, f, next_bn), flow)

    def line(
        self, stmt: S.Simple, flow: Flow, next_bn: bool, choices: dict[int, str] | None = None
    ) -> Flow:
        """A layer line or block call; `choices`: item -> the Python text of the activation
        chosen there (see `_choice_of_activation`)."""
        head = stmt.head
        if head.name in self.gen.blocks:
            items: list[tuple[str, Any]] = [("block", head)]
        elif head.name in OPS:
            items = self.layers_of(head, next_bn)
        else:
            raise Untranslatable(f"`{head.name}` is neither a layer nor a block")
        alias = stmt.alias
        if alias is None and [op for op, _ in items] == ["identity"] and not self.loop_marks:
            self.namer.auto("identity")  # no layer: it does no work (its name is counted)
            return flow
        named: list[str] = []
        if type(alias) is str:
            self.namer.claim(alias)
            named = [alias]
        elif alias is not None:
            named = self.path(alias, len(items) if alias.appends else 1)
        for i, (op, what) in enumerate(items):
            if i < len(named):  # names from `place` hold the block's name already
                label = Label(named[i], None if named[i][0] == "{" else self.prefix)
            else:
                label = self.label(self.auto(op if op != "block" else what.name))
            if choices and i in choices:
                self.helpers |= {"activation", "hard_sigmoid"}
                kind = choices[i]
                self.emit(flow.out, "apply_activation", f"{flow.var}, {kind}, {label()}")
                flow = replace(flow, var=flow.out, owned=True)
            else:
                flow = self.apply(op, what, label, flow)
        return flow

    def layers_of(self, head: S.Head, next_bn: bool) -> list[tuple[str, Any]]:
        """(op, (LineArgs, bias)) for the line's layer and its trailing ones."""
        plan = self.gen.analysis.plans[id(head)]
        a = LineArgs(plan, self.py)
        op = plan.spec.name
        bias = a.text("bias")
        if bias is None:  # AUTO: no bias before a BatchNorm
            follows = plan.trailing[0][0].spec.name == "bn" if plan.trailing else next_bn
            bias = "False" if follows else "True"
        items: list[tuple[str, Any]] = [(op, (a, bias, plan, next_bn))]
        if op == "sepconv":  # its trailing layers are its own
            return items
        for sub, _span in plan.trailing:
            items.append((sub.spec.name, (LineArgs(sub, self.py), "True", sub, False)))
        return items

    def apply(self, op: str, what: Any, label: Label, flow: Flow) -> Flow:
        arg, out = flow.var, flow.out
        if flow.rank == 2 and (op in _NEEDS_MAP or op == "block"):
            self.emit(out, f"layers.Reshape((1, 1, {arg}.shape[-1]))", arg)
            arg, flow = out, replace(flow, var=out, rank=4)
        if op == "block":
            fn = self.gen.blocks[what.name]
            args = [arg]
            for a in what.args:
                if isinstance(a, S.KwArg):
                    args.append(f"{fn.param_names[a.name]}={self.py(a.value)}")
                else:
                    args.append(self.py(a))
            args += [f"{fn.param_names[g]}={self.name_of(g)}" for g in fn.globals_]
            self.emit(out, fn.name, ", ".join(args) + f", name={label()}")
            return Flow(out, out, fn.out_rank, True, False)
        a, bias, plan, next_bn = what
        if op == "sepconv":
            self.sepconv(a, bias, plan, next_bn, label, arg, out)
            return Flow(out, out, 4, True, False)
        rank = layer(self, op, a, label, arg, out, flow.rank, flow.unit, bias)
        unit = op in ("gap", "gmp") or (flow.unit and not BY_OP[op].spatial)
        return Flow(out, out, rank, True, unit)

    def sepconv(self, a, bias, plan, next_bn, label: Label, arg: str, out: str) -> None:
        """The depthwise conv, its trailing layers, the 1×1 conv and its trailing layers,
        named as the elaborator names them (`dw`, `bn1`, `pw`, `bn2`), then the line's
        name on the result."""
        from ..family.code import Override

        trailing = [(sub.spec.name, LineArgs(sub, self.py)) for sub, _ in plan.trailing]
        own_bias = not (trailing and trailing[0][0] == "bn")
        dw = Override(a, {"multiplier": None, "bias": None})
        pw = Override(a, {"kernel": "1", "stride": None, "padding": None, "dilation": None})
        counts: dict[str, int] = {}
        cur = arg
        for name, op, args, b in (
            ("dw", "dwconv", dw, str(own_bias)),
            ("pw", "conv", pw, str(own_bias and not next_bn)),
        ):
            layer(
                self, op, args, Label(f"{label.piece}-{name}", label.prefix), cur, out, 4, False, b
            )
            cur = out
            for sub, sub_args in trailing:
                counts[sub] = counts.get(sub, 0) + 1
                sub_label = Label(f"{label.piece}-{sub}{counts[sub]}", label.prefix)
                layer(self, sub, sub_args, sub_label, cur, out, 4, False, "True")
        self.emit(out, f"layers.Identity(name={label()})", out)

    def emit(self, out: str, ctor: str, arg: str) -> None:
        self.code.add(f"{out} = {ctor}({arg})")

    # ---- composites --------------------------------------------------------------------------
