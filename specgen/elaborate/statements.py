"""The statements of a body, run in order: layer lines and block calls (with their `x N`
repeats and `as NAME` / `as "PATH"` names), `let`, `assert`, `if`/`elif`/`else` and `for` iterations, and
composites; and the network itself, its top-level lets, input and `layers:` body."""

from __future__ import annotations

from collections.abc import Mapping

from .. import ir, limits, names
from ..errors import Frame, Span
from ..language import syntax as S
from ..language.expr import EvalError, Value, bind, iterable, truth
from ..layers import OPS
from ..layers.shapes import checked
from ..values import format_value
from .naming import Clash, Namer, reserved_alias
from .state import Abort, State


class Statements(State):
    """Bodies and their statements; layer lines, block calls and composites are made by the
    other concerns (`Lines`, `Calls`, `Composites`)."""

    def network(self, params: Mapping[str, Value]) -> ir.Network | None:
        """The network with its parameters bound to `params`: every one, already of its
        declared type (see `parameters.bind_parameters`)."""
        p = self.program
        env: dict[str, Value] = dict(params)
        try:
            for let in p.lets:
                if type(let) is S.Assert:
                    self.check_assert(let, env)
                else:
                    env[let.name] = self.eval(let.value, env)
            self.globals = env
            c, h, w = (self.int(self.eval(e, env), p.input_span, "an input size") for e in p.input)
            if min(c, h, w) <= 0:
                self.error(
                    f"input sizes must be positive, got {c}x{h}x{w}",
                    p.input_span,
                    code="non-positive",
                )
                return None
            shape = self.shape(checked, p.input_span, ir.Shape(c, h, w))
            body = self.body(p.body, env, shape, p.layers_span)
        except EvalError as e:
            self.eval_error(e)
            return None
        except Abort:
            return None
        bound = tuple((q.name, env[q.name]) for q in p.params)
        return ir.Network(p.name, bound, shape, body, p, tuple(env.items()))

    # ---- bodies --------------------------------------------------------------------------
    def body(
        self,
        stmts: tuple[S.Stmt, ...],
        env: Mapping[str, Value],
        shape: ir.Shape,
        span: Span,
        namer: Namer | None = None,
    ) -> ir.Seq:
        """Statements in sequence.  Composites share their enclosing `namer`: they are not
        modules of their own, so their layers are named in the enclosing block."""
        env = dict(env)
        env["in"] = shape.c
        return self.seq(stmts, env, shape, namer or Namer())

    def seq(
        self, stmts: tuple[S.Stmt, ...], env: dict[str, Value], shape: ir.Shape, namer: Namer
    ) -> ir.Seq:
        """`body` in `env`, which it owns (a block call's fresh environment is not copied)."""
        out = _Body(env, namer, shape, len(self.stack))
        self.run(stmts, out)
        children = tuple(out.children)
        if out.loops is None:
            return ir.Seq(None, shape, out.current, children)
        return ir.Seq(None, shape, out.current, children, tuple(out.loops))

    def run(self, stmts: tuple[S.Stmt, ...], out: _Body) -> None:
        """Statements into `out`; `if` and `for` bodies run in the same body (same names,
        same layer numbering).  A method, not a closure over the body: a recursive closure
        is a reference cycle that kept every compile's IR alive until the garbage collector
        ran, which slowed the whole search loop by 10-15 %."""
        env, namer, children = out.env, out.namer, out.children
        # the `for` iterations around these statements: the stack is the same for all of them
        # (block calls and loops inside them pop what they push)
        frames = tuple(self.stack[out.outer :]) if len(self.stack) > out.outer else None
        last = len(stmts) - 1
        for i, stmt in enumerate(stmts):
            t = type(stmt)
            if t is S.Simple:
                head = stmt.head
                name = head.name
                if stmt.repeat is not None:
                    nodes = self.simple(stmt, env, out.current, self.next_is_bn(stmts, i, last))
                elif name in self.blocks:
                    node = self.call(head, env, out.current)
                    if node is None:
                        raise Abort
                    nodes = ((name, node),)
                elif name in OPS:
                    nodes = self.layer(head, env, out.current, self.next_is_bn(stmts, i, last))
                else:
                    continue  # reported by analyze
                if not nodes:
                    continue
                alias = stmt.alias
                if alias is None:
                    children.extend([(namer(base), node) for base, node in nodes])
                elif type(alias) is str:
                    children.append((self.alias(stmt, namer), nodes[0][1]))
                    children.extend([(namer(base), node) for base, node in nodes[1:]])
                else:
                    children.extend(self.placed(alias, env, namer, nodes))
                out.made(len(nodes), frames)
                out.current = nodes[-1][1].out_shape
            elif t is S.Let:
                env[stmt.name] = self.eval(stmt.value, env)
            elif t is S.Assert:
                self.check_assert(stmt, env)
            elif t is S.If:
                for test, branch in stmt.branches:
                    if test is None or self.truth(test, env):
                        self.run(branch, out)
                        break
            elif t is S.For:
                for _ in self.iterations(stmt, env):
                    self.run(stmt.body, out)
            elif t is S.Compound:
                node = self.compound(stmt, env, out.current, namer)
                if node is not None:
                    children.append((namer.composite(stmt.head.name), node))
                    out.made(1, frames)
                    out.current = node.out_shape

    @staticmethod
    def next_is_bn(stmts: tuple[S.Stmt, ...], i: int, last: int) -> bool:
        """Whether a plain `bn` line follows statement i (a conv before it needs no bias)."""
        if i == last:
            return False
        nxt = stmts[i + 1]
        return type(nxt) is S.Simple and nxt.head.name == "bn" and nxt.repeat is None

    def alias(self, stmt: S.Simple, namer: Namer) -> str:
        """The name written with `as`, unless an earlier layer of this body has it."""
        if reserved_alias(stmt.alias):
            return namer(stmt.head.name)  # reported by analyze
        if not namer.claim(stmt.alias):
            self.error(
                f"`{stmt.alias}` already names a layer or block call in this body",
                stmt.alias_span,
                "give each `as` a different name (a loop would repeat it)",
                code="redefined",
            )
            raise Abort
        return stmt.alias

    def placed(
        self, path: S.Path, env: Mapping[str, Value], namer: Namer, nodes
    ) -> list[ir.Named]:
        """`nodes` under the names `as "PATH"` gives them: with a last `*`, each the next
        index of the path's container; else the first the path, the others their own."""
        parts = [None if part is None else self.path_part(part, path, env) for part in path.parts]
        try:
            prefix = namer.hold(parts[:-1])
            if path.appends:
                return [(namer.place(prefix, None), node) for _, node in nodes]
            first = [(namer.place(prefix, parts[-1]), nodes[0][1])]
        except Clash as e:
            self.error(str(e), path.span, code="redefined")
            raise Abort from None
        return first + [(namer(base), node) for base, node in nodes[1:]]

    def path_part(self, pieces: tuple, path: S.Path, env: Mapping[str, Value]) -> str:
        """One part of a path, its `{expr}` holes evaluated (non-negative ints)."""
        text = []
        for piece in pieces:
            if type(piece) is str:
                text.append(piece)
                continue
            value = self.eval(piece, env)
            if type(value) is not int or value < 0:
                self.error(
                    f"a path's `{{...}}` must be a non-negative int, got {format_value(value)}",
                    piece.span,
                    code="type",
                )
                raise Abort
            text.append(str(value))
        part = "".join(text)
        if part in names.RESERVED:
            self.error(
                f"`{part}` cannot be part of a module path: it is a Python word or an "
                "attribute of nn.Module or keras.Model",
                path.span,
                code="reserved",
            )
            raise Abort
        return part

    def truth(self, test: S.Expr, env: Mapping[str, Value]) -> bool:
        return truth(self.eval(test, env))

    def check_assert(self, stmt: S.Assert, env: Mapping[str, Value]) -> None:
        """A failed `assert` is the user's own rule: report their message and stop."""
        if not self.truth(stmt.test, env):
            message = stmt.message or "assertion failed"
            self.error(message, stmt.test.span, code="assert")
            raise Abort

    def iterations(self, stmt: S.For, env: dict[str, Value]):
        """Bind the loop variables in `env` for each item; while an iteration runs, its
        number and values are part of every diagnostic's chain."""
        value = self.eval(stmt.iterable, env)
        try:
            items = iterable(value, stmt.iterable.span, "for")
        except EvalError as e:
            self.eval_error(e)
            raise Abort from None
        budget = self.budget
        for number, item in enumerate(items, 1):
            budget.left -= 1
            if budget.left < 0:
                self.spend(0, stmt.span)
            try:
                bind(env, stmt.targets, item, stmt.span)
            except EvalError as e:
                self.eval_error(e)
                raise Abort from None
            shown = tuple((name, env[name]) for name in stmt.targets)
            self.stack.append(Frame(", ".join(stmt.targets), shown, stmt.span, number))
            try:
                yield number
            finally:
                self.stack.pop()

    def simple(self, stmt: S.Simple, env: dict[str, Value], shape: ir.Shape, next_is_bn: bool):
        head = stmt.head
        repeat = 1
        if stmt.repeat is not None:
            repeat = self.int(self.eval(stmt.repeat, env), stmt.repeat.span, "a repeat count")
            if not 0 <= repeat <= limits.MAX_REPEAT:
                self.error(
                    f"repeat count must be between 0 and {limits.MAX_REPEAT}, got {repeat}",
                    stmt.repeat.span,
                    code="limit",
                )
                raise Abort
        # A copy whose input shape is the previous copy's would find that copy in the cache
        # (same line, same values, same shape): it is taken as such, without binding again.
        out = []
        name = head.name
        if name in self.blocks:
            same = None
            for _ in range(repeat):
                if same is not None:  # what `call` does on finding it in the cache
                    self.descend(head.span, same.derived["depth"])
                    self.layers += same.layer_count  # count and spend, inline
                    budget = self.budget
                    budget.left -= same.derived["steps"]
                    if budget.left < 0 or self.layers > limits.MAX_LAYERS:
                        self.overrun(head.span)
                    node = same
                else:
                    errors_before = len(self.errors)
                    node = self.call(head, env, shape)
                    if node is None:
                        raise Abort
                    if node.out_shape == shape and len(self.errors) == errors_before:
                        same = node  # cached by `call`
                out.append((name, node))
                shape = node.out_shape
        elif name in OPS:
            last: tuple[list[ir.Named], int, bool, int] | None = None
            for r in range(repeat):
                bn = next_is_bn and r == repeat - 1
                if last is not None and last[2] == bn:  # what `layer` does on a cache hit
                    nodes = last[0]
                    self.layers += last[1]  # count and spend, inline
                    budget = self.budget
                    budget.left -= last[3]
                    if budget.left < 0 or self.layers > limits.MAX_LAYERS:
                        self.overrun(head.span)
                else:
                    before, errors_before, left = self.layers, len(self.errors), self.budget.left
                    nodes = self.layer(head, env, shape, bn)
                    last = None
                    if (
                        nodes
                        and nodes[-1][1].out_shape == shape
                        and len(self.errors) == errors_before
                    ):  # cached by `layer`
                        last = (nodes, self.layers - before, bn, left - self.budget.left)
                out.extend(nodes)
                if nodes:
                    shape = nodes[-1][1].out_shape
        return out  # else an unknown name, reported by analyze


class _Body:
    """A body being elaborated: its scope, names, statements so far and current shape."""

    __slots__ = ("env", "namer", "children", "loops", "current", "outer")

    def __init__(self, env: dict[str, Value], namer: Namer, shape: ir.Shape, outer: int):
        self.env = env
        self.namer = namer
        self.children: list[ir.Named] = []
        # the `for` iterations each child was made in; None until a child is made in one
        self.loops: list[tuple[Frame, ...]] | None = None
        self.current = shape
        self.outer = outer  # frames above this depth of the call stack are its iterations

    def made(self, n: int, frames: tuple[Frame, ...] | None) -> None:
        """The `n` children just added were made in the iterations `frames` (None: none)."""
        if frames is not None:
            if self.loops is None:
                self.loops = [()] * (len(self.children) - n)
            self.loops.extend([frames] * n)
        elif self.loops is not None:
            self.loops.extend([()] * n)
