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

import copy
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ...language import syntax as S
from ...layers import BY_OP, OPS
from ...names import RESERVED, NameTable
from ..tree import ModuleTree
from .layers import LineArgs, Made, layer
from .naming import StaticNamer
from .pyexpr import NeedsSize, PyExpr, Untranslatable

IN = "in_channels"  # what the spec's `in` is called in a constructor
ACTIVATIONS = frozenset(
    {"relu", "relu6", "prelu", "hswish", "hsigmoid", "sigmoid", "silu", "tanh", "gelu"}
    | {"softmax", "leakyrelu"}
)
# layers after which a 1×1 map may be larger again (or smaller)
_SPATIAL = frozenset({"conv", "dwconv", "igc", "maxpool", "avgpool", "adaptiveavgpool"})


@dataclass
class Code:
    """Lines of one method, with their indentation (in levels; 0 = the method's body)."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    level: int = 0

    def add(self, text: str) -> None:
        self.lines.append((self.level, text))


@dataclass
class Flow:
    """The tensor the forward pass is at: `var` holds it, `out` receives the next layer's
    output; its rank; whether this chain owns it (an in-place activation may overwrite it);
    whether its map is 1×1 (an `fc` on it reads the channels only)."""

    var: str = "x"
    out: str = "x"
    rank: int = 4
    owned: bool = False
    unit: bool = False
    last: str | None = None  # the conv or linear layer that made it (a BatchNorm folds into)


def is_sequential(stmts: tuple[S.Stmt, ...]) -> bool:
    """Whether a body is a plain sequence at its own level (no composite), so that its
    modules run in the order the constructor registers them."""
    for s in stmts:
        t = type(s)
        if t is S.Compound:
            return False
        if t is S.If and not all(is_sequential(b) for _, b in s.branches):
            return False
        if t is S.For and not is_sequential(s.body):
            return False
    return True


class BodyWriter:
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
        self.branch_size: str | None = None  # a composite's input H×W, for its branches

    # ---- names -----------------------------------------------------------------------------
    def name_of(self, spec_name: str) -> str:
        if spec_name == "in":
            return self.in_text
        found = self.local.get(spec_name) or self.gen.global_name(spec_name)
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
            flow = self.statement(stmt, flow, _next_is_bn(stmts, i))
        return flow

    def statement(self, stmt: S.Stmt, flow: Flow, next_is_bn: bool) -> Flow:
        t = type(stmt)
        if t is S.Let:
            self.init.add(f"{self.bind(stmt.name)} = {self.py(stmt.value)}")
        elif t is S.Assert:
            self.init.add(f"if not ({self.py(stmt.test)}):")
            self.init.add(f"    raise ValueError({_string(stmt.message or 'assertion failed')})")
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
    def conditional(self, stmt: S.If, flow: Flow) -> Flow:
        if not any(_makes_modules(b) for _, b in stmt.branches):
            self._branches(stmt, lambda i, cond: cond)
            return flow
        merged = self.choice_of_activation(stmt, flow)
        if merged is not None:
            return merged
        self.settle()
        start, tree = self.namer.copy(), copy.deepcopy(self.tree)
        outcomes, flows, trees = [], [], []
        tests = [test for test, _ in stmt.branches]
        flag = None
        if self.forward:  # the forward takes the branch the constructor took: it is kept
            flag = self.attribute(_flag_name(stmt))
            self.constants.append(flag)  # TorchScript then compiles the branch taken only
            if flow.var != flow.out:  # every branch then works on `out`
                self.fwd.add(f"{flow.out} = {flow.var}")
                flow = replace(flow, var=flow.out)
            if len(tests) <= 2 and (len(tests) == 1 or tests[1] is None):
                self.init.add(f"self.{flag} = {self._bool(tests[0])}")
            else:
                chain = " else ".join(
                    f"{i} if {self.py(t)}" for i, t in enumerate(tests) if t is not None
                )
                self.init.add(f"self.{flag} = {chain} else {len(tests) - 1}")

        def cond(i: int, written: str) -> str:
            if flag is None:
                return written
            two = len(tests) <= 2 and (len(tests) == 1 or tests[1] is None)
            return f"self.{flag}" if two else f"self.{flag} == {i}"

        def branch(i: int, stmts: tuple[S.Stmt, ...]) -> None:
            self.namer, self.tree = start.copy(), copy.deepcopy(tree)
            out = self.body(stmts, replace(flow))
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
        return _join(flows)

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
            acts = all(_activation(v) for v in (x, y))
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
        test = self._bool(stmt.branches[0][0])
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
        for i, (test, stmts) in enumerate(stmt.branches):
            written = self._bool(test) if test is not None else ""
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
            self.init.level -= 1
            if chained:
                if len(self.fwd.lines) == mark:
                    self.fwd.add("pass")
                self.fwd.level -= 1
                self.folds.level -= 1
                if len(self.folds.lines) == fold_mark + 1:
                    self.folds.lines.append((self.folds.level + 1, "pass"))
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

    def _bool(self, test: S.Expr) -> str:
        return self.py(test)

    # ---- loops -------------------------------------------------------------------------------
    def loop(self, stmt: S.For, flow: Flow) -> Flow:
        makes = _makes_modules(stmt.body)
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
        for a in head.args:
            if isinstance(a, S.KwArg):
                args.append(f"{cls.param_names[a.name]}={self.py(a.value)}")
            else:
                args.append(self.py(a))
        if self.size is not None:
            args.insert(1, self.size)
        args += [f"{g}={self.name_of(g)}" for g in cls.globals_]
        return Made(head.name, f"{cls.name}({', '.join(args)})", "", cls.out_rank, block=cls)

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
        if not _simple(made[0].channels):  # the output width once, in a local
            if self.channels == "out_channels":
                self.settle()
                made = [self.module(op, a, self.channels, flow, bias, flow.owned)]
            self.init.add(f"out_channels = {made[0].channels}")
            made[0] = self.module(
                op, _Override(a, {"out": "out_channels"}), self.channels, flow, bias, flow.owned
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
        dw = _Override(a, {"multiplier": None, "bias": None})
        pw = _Override(a, {"kernel": "1", "stride": None, "padding": None, "dilation": None})
        items: list[str] = []
        counts: dict[str, int] = {}
        channels = self.channels
        for name, op, args, b in (
            ("dw", "dwconv", dw, str(bias)),
            ("pw", "conv", pw, str(bias and not next_is_bn)),
        ):
            m = layer(op, args, channels, 4, b, False)
            items.append(f'("{name}", {m.ctor})')
            channels, prev = m.channels, m
            for sub, sub_args in trailing:
                counts[sub] = counts.get(sub, 0) + 1
                owned = BY_OP[prev.base].fresh or prev.base in ACTIVATIONS
                prev = layer(sub, sub_args, channels, 4, "True", owned and sub in ACTIVATIONS)
                items.append(f'("{sub}{counts[sub]}", {prev.ctor})')
        self.gen.helpers.add("ordered_dict")
        return Made("sepconv", f"nn.Sequential(OrderedDict([{', '.join(items)}]))", channels, 4)

    def module(
        self, op: str, a: LineArgs, channels: str, flow: Flow, bias: str, owned: bool
    ) -> Made:
        if op in ("fc", "flatten") and flow.rank == 4 and not flow.unit:
            if self.size is None:
                raise NeedsSize(f"`{op}` on a map reads its H×W")
            channels = f"{channels} * {self.size}[0] * {self.size}[1]"
        m = layer(op, a, channels, flow.rank, bias, owned and op in ACTIVATIONS, self.size)
        if op == "fc" and flow.rank == 4:
            m.flatten = not self.forward  # an nn.Sequential flattens it (see `flattened`)
        if m.helper:
            self.gen.helpers.add(m.helper)
        return m

    # ---- names and registration --------------------------------------------------------------
    def place(self, stmt: S.Simple, made: list[Made]) -> tuple[list[Made], list[str | None]]:
        """Register the line's modules: (the modules registered, their static paths, None
        where a path is made at run time)."""
        alias = stmt.alias
        self.flattened(stmt, made)
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
            self.init.add(f"{counter} += 1")
            self.register_at_run_time(f'f"{m.base}{{{counter}}}"', m, "add_module")
            return None
        return self.register(self.namer.auto(m.base), m)

    def path(self, path: S.Path, made: list[Made]) -> tuple[list[Made], list[str | None]]:
        texts: list[str] = []
        static: list[str | None] = []
        for part in path.parts:
            if part is None:
                texts.append("*")
                static.append(None)
                continue
            pieces = [p if type(p) is str else "{" + self.py(p) + "}" for p in part]
            texts.append("".join(pieces))
            static.append(texts[-1] if all(type(p) is str for p in part) else "?")
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
        ctor = m.ctor if m.block is not None else self._ctor(m)
        for line in self.tree.register(path, ctor):
            self.init.add(line)
        if m.block is not None:
            m.channels = f"{self.tree.ref(path)}.out_channels"
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
            return m.ctor
        if self.block_var is None:
            self.block_var = self.names.take("block")
        var = self.block_var
        self.init.add(f"{var} = {m.ctor}")
        m.channels = f"{var}.out_channels"
        return var

    def _size_after(self, m: Made) -> None:
        """`size = ...` after a layer that changes the H×W (where the code follows it)."""
        if self.size is None:
            return
        if m.block is not None:
            self.init.add(f"size = {m.channels[: -len('out_channels')]}out_size")
        elif m.window is not None and m.window[2] == "same":
            self.gen.helpers.add("same_padding")
            self.init.add(f"size = same_size(size, {m.window[1]})")
        elif m.window is not None and m.window[:4] != ("1", "1", "0", "1"):
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
        if m.block is None and _simple(m.channels):
            self.channels = m.channels
        else:
            self.init.add(f"channels = {m.channels}")
            self.channels = "channels"

    # ---- forward -----------------------------------------------------------------------------
    def apply(self, made: list[Made], names: list[str | None], flow: Flow) -> Flow:
        """The line's modules applied in turn: one statement, its calls nested
        (`out = self.relu1(self.bn1(self.conv1(x)))`), as the spec writes one line."""
        expr = flow.var
        last = flow.last
        for m, name in zip(made, names, strict=True):
            fresh = True if m.block is not None else (BY_OP[m.base].fresh or m.base in ACTIVATIONS)
            unit = m.base in ("gap", "gmp") or (flow.unit and m.base not in _SPATIAL)
            if self.forward:
                if name is None:
                    raise Untranslatable("a layer named at run time in a body with composites")
                last = self.fold_pair(last, m, name)
                if m.base == "fc" and flow.rank == 4:
                    expr = f"torch.flatten({expr}, 1)"
                if name in self.padded:  # -inf: what a max pool's own padding means
                    expr = f"nn.functional.pad({expr}, self.{self.padded[name]}, value=-math.inf)"
                    self.gen.helpers.add("math")
                expr = f"{self.tree.ref(name)}({expr})"
            flow = Flow(flow.out, flow.out, m.rank, fresh, unit)
        if self.forward:
            self.fwd.add(f"{flow.out} = {expr}")
        flow.last = last
        return flow

    def fold_pair(self, last: str | None, m: Made, name: str) -> str | None:
        """Note the BatchNorm `m` folds into `last` (the layer applied just before it); the
        layer `m` is, for the next one."""
        if m.base == "bn" and last is not None:
            a, b = last, name
            target_a, target_b = self.tree.target(a), self.tree.target(b)
            refs = f"{self.tree.ref(a)}, {self.tree.ref(b)}"
            if target_a is not None and target_b is not None:
                self.folds.add(f"{target_a}, {target_b} = fold_batchnorm({refs})")
            elif target_b is not None:
                self.folds.add(f"{target_b} = fold_batchnorm({refs})[1]")
            else:
                parent, key = self.tree.parent(b)
                self.folds.add(f'setattr({parent}, "{key}", fold_batchnorm({refs})[1])')
            self.gen.helpers.add("fold")
            return None
        if m.block is None and m.ctor.startswith("nn.Sequential("):  # run as a whole
            self.folds.add(f"fold_sequence({self.tree.ref(name)})")
            self.gen.helpers.add("fold_sequence")
        if m.base in ("conv", "pwconv", "dwconv", "gdc", "fc") and m.block is None:
            return name if not m.ctor.startswith("nn.Sequential(") else None
        return None

    # ---- composites --------------------------------------------------------------------------
    def composite(self, stmt: S.Compound, flow: Flow) -> Flow:
        kind = stmt.head.name
        outer = self.branch_size
        if self.size is not None:
            self.branch_size = self.names.fresh("branch_size")
            self.init.add(f"{self.branch_size} = size")
        try:
            return self._composite(stmt, flow, kind)
        finally:
            self.branch_size = outer

    def _composite(self, stmt: S.Compound, flow: Flow, kind: str) -> Flow:
        if kind == "residual":
            return self.residual(stmt, flow)
        if kind in ("concat", "add", "split"):
            return self.merge(stmt, flow)
        raise Untranslatable(f"`{kind}:` here")

    def branch(self, stmts, source: str, base: str, channels: str) -> tuple[str, str]:
        """`stmts` applied to `source`: (the variable holding the result, its channels)."""
        stable = (channels.isidentifier() and channels != "channels") or channels.isdigit()
        if _reads_in(stmts) and not stable:
            held = self.names.fresh(f"{base}_channels")
            self.init.add(f"{held} = {channels}")
            channels = held
        if self.branch_size is not None and self.size is not None:
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
        if shortcuts and not first:
            identity, _ = self.branch(shortcuts[0].body, source, "identity", start)
        self.channels = channels
        self.fwd.add(f"{flow.out} = {out} + {identity}")
        return Flow(flow.out, flow.out, 4, True, False)

    def merge(self, stmt: S.Compound, flow: Flow) -> Flow:
        kind = stmt.head.name
        branches = [s for s in stmt.body if type(s) is not S.Let]
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
        if kind == "add":
            self.fwd.add(f"{flow.out} = {' + '.join(outs)}")
            self.channels = channels[0]
        else:
            self.fwd.add(f"{flow.out} = torch.cat([{', '.join(outs)}], dim=1)")
            self.init.add(f"channels = {' + '.join(channels)}")
            self.channels = "channels"
        return Flow(flow.out, flow.out, 4, True, False)


def _join(flows: list[Flow]) -> Flow:
    if len({(f.var, f.rank) for f in flows}) > 1:
        raise Untranslatable("the branches of this `if` end in different tensors")
    f = flows[0]
    return Flow(f.var, f.out, f.rank, all(x.owned for x in flows), all(x.unit for x in flows))


def _simple(text: str) -> bool:
    """Channels worth repeating as they are (a name, a number, `planes * 4`)."""
    return len(text) <= 24 and "(" not in text and text.count(" ") <= 2


def _string(text: str) -> str:
    """A message as a Python string literal (the spec's STRING holds no quote or backslash)."""
    return '"' + text + '"'


def _next_is_bn(stmts: tuple[S.Stmt, ...], i: int) -> bool:
    if i + 1 >= len(stmts):
        return False
    nxt = stmts[i + 1]
    return type(nxt) is S.Simple and nxt.head.name == "bn" and nxt.repeat is None


def _makes_modules(stmts: tuple[S.Stmt, ...]) -> bool:
    for s in stmts:
        t = type(s)
        if t is S.Simple or t is S.Compound:
            return True
        if t is S.If and any(_makes_modules(b) for _, b in s.branches):
            return True
        if t is S.For and _makes_modules(s.body):
            return True
    return False


def _flag_name(stmt: S.If) -> str:
    """`use_residual`, `use_downsample`, `use_se`: after what the first branch makes first
    (the last written part of its path)."""
    for s in stmt.branches[0][1]:
        if type(s) is S.Compound:
            return f"use_{s.head.name}"
        if type(s) is S.Simple:
            alias = s.alias
            if type(alias) is str:
                return f"use_{alias}"
            if type(alias) is S.Path:
                written = [p for p in alias.parts if p and all(type(x) is str for x in p)]
                if written and not "".join(written[-1]).isdigit():
                    return f"use_{''.join(written[-1])}"
            return f"use_{s.head.name}"
    return "case"


def _reads_in(stmts: tuple[S.Stmt, ...]) -> bool:
    """Whether the statements read the spec's `in` (outside the blocks they call)."""
    from ...elaborate.analysis import _names

    found: set[str] = set()
    for stmt in stmts:
        _names(stmt, found)
    return "in" in found


class _Override:
    """A line's arguments with some replaced (None: the kind's default)."""

    def __init__(self, args: LineArgs, changes: dict[str, str | None]):
        self.args, self.changes = args, changes
        self.written = {k: v for k, v in args.written.items() if k not in changes}
        self.py = args.py

    def text(self, name: str) -> str | None:
        if name in self.changes:
            return self.changes[name]
        return self.args.text(name)

    def static(self, name: str):
        return self.args.static(name)


def collapse(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """`X = nn.Sequential()` followed only by `X.append(...)` lines, with `X` used nowhere
    after: `X = nn.Sequential(a, b, ...)`, as one would write it (the same keys)."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        level, text = lines[i]
        target = None
        if text.endswith(" = nn.Sequential()"):
            target, make = text[: -len(" = nn.Sequential()")], "{} = nn.Sequential({})"
        elif text == "self.append(nn.Sequential())" and i + 1 < len(lines):
            nxt = lines[i + 1][1]
            if nxt.startswith("self[") and "].append(" in nxt:
                target, make = nxt[: nxt.index("].append(") + 1], "self.append(nn.Sequential({1}))"
        if target is None:
            out.append(lines[i])
            i += 1
            continue
        j, items = i + 1, []
        prefix = f"{target}.append("
        while j < len(lines) and lines[j][0] == level and lines[j][1].startswith(prefix):
            items.append(lines[j][1][len(prefix) : -1])
            j += 1
        rest = " ".join(t for _, t in lines[j:])
        if not items or f"{target}." in rest or f"{target}[" in rest or f"{target})" in rest:
            out.append(lines[i])
            i += 1
            continue
        out.append((level, make.format(target, ", ".join(items))))
        i = j
    return out


def container_uses(stmts: tuple[S.Stmt, ...], out: dict[str, int] | None = None) -> dict[str, int]:
    """How many lines of a body name each static container path (`f.a` in `as "f.a.*"`)."""
    out = {} if out is None else out
    for s in stmts:
        t = type(s)
        if t is S.Simple and type(s.alias) is S.Path:
            parts = s.alias.parts[:-1]
            texts = []
            for part in parts:
                if part is None or not all(type(p) is str for p in part):
                    break
                texts.append("".join(part))
                key = ".".join(texts)
                out[key] = out.get(key, 0) + 1
        elif t is S.Compound or t is S.For:
            container_uses(s.body, out)
        elif t is S.If:
            for _, b in s.branches:
                container_uses(b, out)
    return out


def conditional_calls(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """`v = s` / `if f:` / `    v = call(v)`, with no `else`: `v = call(s) if f else s`."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        if i + 2 < len(lines):
            (l0, a), (l1, b), (l2, c) = lines[i], lines[i + 1], lines[i + 2]
            after = lines[i + 3] if i + 3 < len(lines) else (l0, "")
            if l0 == l1 and l2 == l1 + 1 and b.startswith("if ") and " = " in a:
                var, source = a.split(" = ", 1)
                if (
                    c.startswith(f"{var} = ")
                    and c.count(f"({var})") == 1
                    and not (
                        after[0] > l0 or after[1] in ("else:",) or after[1].startswith("elif")
                    )
                    and source.isidentifier()
                ):
                    call = c[len(var) + 3 :].replace(f"({var})", f"({source})")
                    out.append((l0, f"{var} = {call} if {b[3:-1]} else {source}"))
                    i += 3
                    continue
        out.append(lines[i])
        i += 1
    return out


def _activation(arg: Any) -> bool:
    """Whether a trailing argument is an activation layer (`relu`, `hswish`, `leakyrelu(0.2)`)."""
    name = arg.name if type(arg) is S.Name else arg.func if type(arg) is S.Call else None
    return name in ACTIVATIONS


def appends_only(stmts: tuple[S.Stmt, ...]) -> bool:
    """Whether every layer line and block call of a sequential body is named `as "*..."`: its
    own children are then 0, 1, 2, ... in order, and `*` is `len(self)`."""
    for s in stmts:
        t = type(s)
        if t is S.Simple and not (type(s.alias) is S.Path and s.alias.parts[0] is None):
            return False
        if t is S.For and not appends_only(s.body):
            return False
        if t is S.If and not all(appends_only(b) for _, b in s.branches):
            return False
        if t is S.Compound:
            return False
    return True


_SIZE_READ = re.compile(r"\bsize\b")


def prune_sizes(lines: list[tuple[int, str]], keep_last: bool) -> list[tuple[int, str]]:
    """Drop the `size = ...` lines whose value nothing reads (`keep_last`: the last one is
    read after these lines, as `self.out_size`)."""
    out = []
    for i, (level, text) in enumerate(lines):
        if text.startswith("size = "):
            read = False
            for later_level, later in lines[i + 1 :]:
                if later.startswith("size = ") and later_level <= level:
                    if _SIZE_READ.search(later[len("size = ") :]):
                        read = True
                    break
                if _SIZE_READ.search(later):
                    read = True
                    break
            else:
                read = read or keep_last
            if not read:
                continue
        out.append((level, text))
    return out
