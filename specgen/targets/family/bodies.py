"""One class of the family code from one body (a block definition or the network's
`layers:`): its constructor translated from the spec's statements (`let` → a local, `if` →
`if`, `for` and `x N` → loops, layer lines → modules at the elaborator's names) and, unless
the body is a plain sequence (then the class is an `nn.Sequential` and runs its modules in
the order it registers them), a `forward` with the composites' data flow written out.

Channels are followed as Python text through the constructor (`width` after `conv
out=width`, `block.out_channels` after a block call).  What the family code cannot write
raises Untranslatable with the reason.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...language import syntax as S
from ...layers import BY_OP, OPS
from ...names import RESERVED, NameTable
from ..tree import ModuleTree
from .branches import Branches
from .code import ACTIVATIONS, IN, Code, Flow, Override, python_string, simple
from .dataflow import Dataflow
from .layers import LineArgs, Made, layer
from .naming import StaticNamer
from .placing import Placing
from .pyexpr import NeedsSize, PyExpr, Untranslatable, may_be_float, may_be_list
from .syntax import next_is_bn

__all__ = ["IN", "BodyWriter", "Flow"]


class BodyWriter(Branches, Placing, Dataflow):
    """Writes one class's `__init__` lines (and `forward` lines, where `forward` is set)
    from a body's statements.  `gen` is the module's generator: the block classes by name,
    the helpers used, the Python names of the globals."""

    def __init__(self, gen: Any, forward: bool, params: dict[str, str]):
        self.gen = gen
        self.forward = forward
        self.init = Code()
        self.fwd = Code()
        self.folds = Code()  # `fold_batchnorms`: the pairs `forward` applies one after another
        self.names = NameTable(gen.reserved)
        self.fwd_names = NameTable(gen.reserved | {"x"})
        self.local: dict[str, str] = dict(params)
        self.names.used.update(params.values())
        self.names.used.update(("channels", "out_channels"))
        self.py = PyExpr(self.name_of)
        self.float_names: set[str] = set()  # `let`s that may hold a float
        self.py.floaty = lambda name: name in self.float_names or name in gen.float_globals
        self.pair_names: set[str] = set()
        self.py.pairy = lambda name: name in self.pair_names or name in gen.pair_globals
        self.namer = StaticNamer()
        self.tree = ModuleTree(sequential=not forward)
        self.channels = IN
        self.loop_marks: list[int] = []  # where each enclosing loop starts in init.lines
        self.counters: dict[str, str] = {}  # base -> the local that counts it at run time
        self.attributes: set[str] = set()
        self.constants: list[str] = []  # attributes TorchScript takes as constants
        self.block_var: str | None = None  # the local a block is built in
        self.in_text = IN  # the spec's `in`: the input channels of the innermost body
        self.container_uses: dict[str, int] = {}  # static container path -> lines naming it
        self.appends_only = False  # an nn.Sequential whose every line is `as "*..."`
        self.size: str | None = None  # "size" where the constructor follows the H×W
        self.padded: dict[str, str] = {}  # a max pool's path -> its `same` padding attribute
        self.parameters: set[str] = set()  # layers held as a bare nn.Parameter (layer scale)
        self.branch_size: str | None = None  # a composite's input H×W, for its branches

    # ---- names -----------------------------------------------------------------------------
    def name_of(self, spec_name: str) -> str:
        if spec_name == "in":
            return self.in_text
        found = self.local.get(spec_name)  # parameters, globals passed in, lets, loop variables
        if found is None:
            raise Untranslatable(f"`{spec_name}` is not bound here")
        return found

    def attribute(self, base: str) -> str:
        """A plain attribute of the class (a flag the forward reads): no module's name."""
        name = base
        while name in self.namer.used or name in RESERVED or name in self.attributes:
            name += "_"
        self.attributes.add(name)
        return name

    def bind(self, spec_name: str) -> str:
        """The Python local of a spec name bound here (a `let`, a loop variable)."""
        found = self.local.get(spec_name)
        if found is None:
            found = self.local[spec_name] = self.names.take(spec_name)
        return found

    # ---- statements --------------------------------------------------------------------------
    def body(self, stmts: tuple[S.Stmt, ...], flow: Flow) -> Flow:
        for i, stmt in enumerate(stmts):
            flow = self.statement(stmt, flow, next_is_bn(stmts, i))
        return flow

    def statement(self, stmt: S.Stmt, flow: Flow, next_is_bn: bool) -> Flow:
        t = type(stmt)
        if t is S.Let:
            self.init.add(f"{self.bind(stmt.name)} = {self.py(stmt.value)}")
            if may_be_float(stmt.value, self.py.floaty):
                self.float_names.add(stmt.name)
            if may_be_list(stmt.value, self.py.pairy):
                self.pair_names.add(stmt.name)
        elif t is S.Assert:
            self.init.add(f"if not ({self.py(stmt.test)}):")
            self.init.add(
                f"    raise ValueError({python_string(stmt.message or 'assertion failed')})"
            )
        elif t is S.If:
            flow = self.conditional(stmt, flow)
        elif t is S.For:
            flow = self.loop(stmt, flow)
        elif t is S.Compound:
            flow = self.composite(stmt, flow)
        elif t is S.Simple:
            flow = self.simple(stmt, flow, next_is_bn)
        return flow

    def settle(self) -> None:
        """Hold the current channels in the local `channels` (before a branch or a loop)."""
        if self.channels != "channels":
            self.init.add(f"channels = {self.channels}")
            self.channels = "channels"

    # ---- if ----------------------------------------------------------------------------------

    # ---- loops -------------------------------------------------------------------------------

    # ---- layer lines and block calls ---------------------------------------------------------
    def simple(self, stmt: S.Simple, flow: Flow, next_is_bn: bool) -> Flow:
        if stmt.repeat is None:
            return self._line(stmt, flow, next_is_bn)
        if self.forward:
            raise Untranslatable("`x N` in a body with composites")
        self.settle()
        self.init.add(f"for _ in range({self.py(stmt.repeat)}):")
        return self._loop_body(lambda f: self._line(stmt, f, next_is_bn), flow)

    def _line(self, stmt: S.Simple, flow: Flow, next_is_bn: bool) -> Flow:
        head = stmt.head
        if head.name in self.gen.blocks:
            made = [self.block_call(head)]
        elif head.name in OPS:
            made = self.layer_line(head, next_is_bn, flow)
        else:
            raise Untranslatable(f"`{head.name}` is neither a layer nor a block")
        made, names = self.place(stmt, made)
        return self.apply(made, names, flow)

    def block_call(self, head: S.Head) -> Made:
        cls = self.gen.blocks[head.name]
        args = [self.channels]
        given = {IN: self.channels}  # the block's parameters as the call gives them
        order = list(cls.param_names)
        for i, a in enumerate(head.args):
            if isinstance(a, S.KwArg):
                given[a.name] = self.py(a.value)
                args.append(f"{cls.param_names[a.name]}={given[a.name]}")
            else:
                args.append(self.py(a))
                if i < len(order):
                    given[order[i]] = args[-1]
        if self.size is not None:
            args.insert(1, self.size)
        args += [f"{cls.global_names[g]}={self.name_of(g)}" for g in cls.globals_]
        # its output's channels where the call says them (an argument that is a name or a
        # number), else read off the block made
        out = given.get(cls.out_param, cls.defaults.get(cls.out_param, ""))
        out = out if out.isidentifier() or out.isdigit() else ""
        ctor = f"{cls.name}({', '.join(args)})"
        return Made(head.name, ctor, out, cls.out_rank, block=cls)

    def layer_line(self, head: S.Head, next_is_bn: bool, flow: Flow) -> list[Made]:
        plan = self.gen.analysis.plans[id(head)]
        op = plan.spec.name
        a = LineArgs(plan, self.py)
        if op == "sepconv":
            return [self.sepconv(plan, a, next_is_bn, flow)]
        bias = a.text("bias")
        if bias is None:  # AUTO: no bias before a BatchNorm
            follows = plan.trailing[0][0].spec.name == "bn" if plan.trailing else next_is_bn
            bias = "False" if follows else "True"
        made = [self.module(op, a, self.channels, flow, bias, flow.owned)]
        if not simple(made[0].channels):  # the output width once, in a local
            if self.channels == "out_channels":
                self.settle()
                made = [self.module(op, a, self.channels, flow, bias, flow.owned)]
            self.init.add(f"out_channels = {made[0].channels}")
            made[0] = self.module(
                op, Override(a, {"out": "out_channels"}), self.channels, flow, bias, flow.owned
            )
            made[0].channels = "out_channels"
        for sub, _span in plan.trailing:
            prev = made[-1]
            owned = BY_OP[prev.base].fresh or prev.base in ACTIVATIONS
            f = replace(flow, rank=prev.rank)
            made.append(
                self.module(sub.spec.name, LineArgs(sub, self.py), prev.channels, f, "True", owned)
            )
        return made

    def sepconv(self, plan: Any, a: LineArgs, next_is_bn: bool, flow: Flow) -> Made:
        """An nn.Sequential of `dw` (k×k depthwise), its trailing layers, `pw` (1×1) and
        its trailing layers, named as the elaborator names them."""
        trailing = [(sub.spec.name, LineArgs(sub, self.py)) for sub, _ in plan.trailing]
        bias = not (trailing and trailing[0][0] == "bn")
        dw = Override(a, {"multiplier": None, "bias": None})
        pw = Override(a, {"kernel": "1", "stride": None, "padding": None, "dilation": None})
        items: list[str] = []
        counts: dict[str, int] = {}
        channels, window = self.channels, None
        for name, op, args, b in (
            ("dw", "dwconv", dw, str(bias)),
            ("pw", "conv", pw, str(bias and not next_is_bn)),
        ):
            m = layer(op, args, channels, 4, b, False)
            window = window if name == "pw" else m.window  # the depthwise conv's
            items.append(f'("{name}", {m.ctor})')
            channels, prev = m.channels, m
            for sub, sub_args in trailing:
                counts[sub] = counts.get(sub, 0) + 1
                owned = BY_OP[prev.base].fresh or prev.base in ACTIVATIONS
                prev = layer(sub, sub_args, channels, 4, "True", owned and sub in ACTIVATIONS)
                if prev.helper:  # `droppath`'s DropPath
                    self.gen.helpers.add(prev.helper)
                items.append(f'("{sub}{counts[sub]}", {prev.ctor})')
        self.gen.helpers.add("ordered_dict")
        ctor = f"nn.Sequential(OrderedDict([{', '.join(items)}]))"
        return Made("sepconv", ctor, channels, 4, window=window)

    def module(
        self, op: str, a: LineArgs, channels: str, flow: Flow, bias: str, owned: bool
    ) -> Made:
        if flow.rank == 2 and op in BY_OP and BY_OP[op].spatial:
            # an (N, C) tensor into a layer that reads a map: the per-point code reshapes it
            raise Untranslatable(f"`{op}` after an `fc` (on an (N, C) tensor)")
        if op in ("fc", "flatten") and flow.rank == 4 and not flow.unit:
            if self.size is None:
                raise NeedsSize(f"`{op}` on a map reads its H×W")
            channels = f"{channels} * {self.size}[0] * {self.size}[1]"
        m = layer(op, a, channels, flow.rank, bias, owned and op in ACTIVATIONS, self.size)
        if op == "fc" and flow.rank == 4:
            m.flatten = not self.forward  # an nn.Sequential flattens it (see `flattened`)
        if m.helper and m.parameter is None:  # (a layer scale's, where registered)
            self.gen.helpers.add(m.helper)
        return m
