"""Block calls: the binding of a call's arguments (planned once per call site when it has no
mistake of names or counts), and the expansion of its body, shared by identical calls through
the analysis's cache of instantiations."""

from __future__ import annotations

from .. import ir, limits
from ..errors import Frame, did_you_mean
from ..language import syntax as S
from ..language.expr import EvalError, Value
from . import analysis
from .analysis import CallPlan, trailing_name
from .keys import Keys
from .naming import Namer, counted
from .state import Abort

_UNPLANNED = object()


class Calls(Keys):
    """Block calls: arguments bound, bodies expanded or found in the cache."""

    def call(self, head: S.Head, env: dict[str, Value], shape: ir.Shape) -> ir.Block | None:
        """The node of a block call, expanded or found in the cache; None after a mistake in
        its arguments (reported)."""
        bdef = self.blocks[head.name]
        plan = self.calls.get(id(head), _UNPLANNED)
        if plan is _UNPLANNED:
            plan = self.calls[id(head)] = self.call_plan(head, bdef)
        if plan is None:
            bound = self.bind(head, bdef, env, shape)
        else:
            bound = self.bind_planned(plan, head, bdef, env, shape)
        if bound is None:
            return None
        args, benv = bound
        # An expansion depends only on its call site, its argument values, its input shape and
        # the globals it reads: identical calls, in this compile or an earlier one, share it.
        global_key = self.global_keys.get(bdef.name)
        if global_key is None:  # the globals do not change during a compile
            global_key = tuple(self.key(self.globals[n]) for n in self.reads[bdef.name])
            self.global_keys[bdef.name] = global_key
        parts = [id(head), shape.c, shape.h, shape.w, shape.flat, global_key]  # see Lines.layer
        for _, v in args:
            t = type(v)
            parts.append((t, v) if t is not tuple and t is not ir.Table else self.key(v))
        key = tuple(parts)
        cached = self.cache.get(key)
        if cached is not None:  # charged what expanding it again would cost
            self.descend(head.span, cached.derived["depth"])
            self.layers += cached.layer_count  # count and spend, inline
            budget = self.budget
            budget.left -= cached.derived["steps"]
            if budget.left < 0 or self.layers > limits.MAX_LAYERS:
                self.overrun(head.span)
            return cached
        if len(self.stack) >= limits.MAX_CALL_DEPTH:
            self.error(
                f"block calls nested more than {limits.MAX_CALL_DEPTH} deep",
                head.span,
                code="limit",
            )
            raise Abort
        self.descend(head.span, 1)
        self.stack.append(Frame(bdef.name, args, head.span))
        before, errors_before, left = self.layers, len(self.errors), self.budget.left
        start, outer_deepest = self.depth, self.deepest
        self.depth += 1
        self.deepest = self.depth
        try:
            benv["in"] = shape.c  # again: a parameter named `in` (reported) does not hide it
            body = self.seq(bdef.body, benv, shape, Namer())
        finally:
            self.stack.pop()
            self.depth -= 1
            depth, self.deepest = self.deepest - start, max(outer_deepest, self.deepest)
        node = ir.Block(head, shape, body.out_shape, bdef.name, args, body, self.layers - before)
        node.derived["depth"] = depth  # levels of nesting it adds, itself included
        node.derived["steps"] = left - self.budget.left  # what expanding its body cost
        if len(self.errors) == errors_before:
            if len(self.cache) >= analysis.BLOCK_CACHE_SIZE:
                self.cache.clear()
            analysis.charge(self.analysis, node.layer_count)
            self.cache[key] = node
        return node

    def call_plan(self, head: S.Head, bdef: S.BlockDef) -> CallPlan | None:
        """The binding of a block call worked out once per program; None when the call has
        a mistake of names or counts, which `bind` reports in its place."""
        names = [p.name for p in bdef.params]
        given: set[str] = set()
        args = []
        position = 0
        cost = 1  # the call, its arguments and the defaults it takes
        for arg in head.args:
            if trailing_name(arg):
                return None
            if isinstance(arg, S.KwArg):
                if arg.name not in names or arg.name in given:
                    return None
                name, expr = arg.name, arg.value
            else:
                if position >= len(names) or position < len(given):  # `bind` says why
                    return None
                name, expr = names[position], arg
                position += 1
            given.add(name)
            fn, steps = self.compiled(expr)
            args.append((name, fn))
            cost += steps
        order = []
        for p in bdef.params:
            if p.name in given:
                order.append((p.name, None))
            elif p.default is not None:
                fn, steps = self.compiled(p.default)
                order.append((p.name, fn))
                cost += steps
            else:
                return None  # a missing argument
        return CallPlan(tuple(args), tuple(order), cost)

    def bind_planned(
        self,
        plan: CallPlan,
        head: S.Head,
        bdef: S.BlockDef,
        env: dict[str, Value],
        shape: ir.Shape,
    ) -> tuple[tuple[tuple[str, Value], ...], dict[str, Value]] | None:
        """`bind` for a call without mistakes of names or counts, following its plan."""
        budget = self.budget
        budget.left -= plan.steps
        if budget.left < 0:
            self.spend(0, head.span)
        given: dict[str, Value] = {}
        ok = True
        for name, fn in plan.args:
            try:
                given[name] = fn(env)
            except EvalError as e:
                self.eval_error(e)
                ok = False
        if not ok:
            return None
        benv = dict(self.globals)
        benv["in"] = shape.c
        for name, default in plan.order:
            if default is None:
                benv[name] = given[name]
                continue
            try:
                benv[name] = default(benv)
            except EvalError as e:  # defaults are evaluated inside the call: its frame
                self.stack.append(Frame(bdef.name, tuple(given.items()), head.span))
                self.eval_error(e)
                self.stack.pop()
                raise Abort from None
        return tuple([(name, benv[name]) for name, _ in plan.order]), benv

    def bind(
        self, head: S.Head, bdef: S.BlockDef, env: dict[str, Value], shape: ir.Shape
    ) -> tuple[tuple[tuple[str, Value], ...], dict[str, Value]] | None:
        """The arguments of a block call and the environment of its body; None after a
        mistake (reported)."""
        names = [p.name for p in bdef.params]
        given: dict[str, Value] = {}
        ok = True
        position = 0
        for arg in head.args:
            if trailing_name(arg):
                ok = False  # reported by analyze
                continue
            try:
                if isinstance(arg, S.KwArg):
                    if arg.name not in names:
                        hint = did_you_mean(arg.name, names) or (
                            f"{bdef.name} takes {', '.join(names)}"
                            if names
                            else f"{bdef.name} takes no arguments"
                        )
                        raise EvalError(
                            f"block {bdef.name} has no parameter `{arg.name}`",
                            arg.name_span,
                            hint,
                            "unknown-argument",
                        )
                    if arg.name in given:
                        raise EvalError(
                            f"`{arg.name}` is given twice", arg.span, code="duplicate-argument"
                        )
                    given[arg.name] = self.priced(arg.value, env)
                else:
                    if position < len(given):  # after a keyword: Python's rule (`b(a=3, 4)`
                        # would set `a` twice, `b(c=3, 4)` reads as if 4 were `c`)
                        raise EvalError(
                            "a positional argument follows a keyword argument",
                            arg.span,
                            "give it by name, or before the keywords",
                            "positional-after-keyword",
                        )
                    if position >= len(names):
                        raise EvalError(
                            f"block {bdef.name} takes {counted(len(names), 'argument')}, got more",
                            arg.span,
                            code="too-many-arguments",
                        )
                    given[names[position]] = self.priced(arg, env)
                    position += 1
            except EvalError as e:
                self.eval_error(e)
                ok = False
        if not ok:
            return None
        benv = dict(self.globals)
        benv["in"] = shape.c
        missing = []
        self.stack.append(Frame(bdef.name, tuple(given.items()), head.span))
        try:  # defaults are evaluated inside the call: their errors get its frame
            for p in bdef.params:
                if p.name in given:
                    benv[p.name] = given[p.name]
                elif p.default is not None:
                    benv[p.name] = self.eval(p.default, benv)
                else:
                    missing.append(p.name)
        finally:
            self.stack.pop()
        if missing:
            self.error(
                f"block {bdef.name} needs {', '.join(f'`{m}`' for m in missing)}",
                head.span,
                f"signature: {bdef.name}({', '.join(p.name + ('=...' if p.default else '') for p in bdef.params)})",
                "missing-argument",
            )
            return None
        return tuple((p.name, benv[p.name]) for p in bdef.params), benv
