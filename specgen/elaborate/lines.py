"""Layer lines: a line's values bound from its plan, its IR nodes made by the layer kinds of
`specgen.layers` (the elaborator is their `Builder`), and the cache that lets identical lines,
in this compile or an earlier one, share their nodes."""

from __future__ import annotations

from typing import Any

from .. import ir, layers, limits
from ..errors import did_you_mean
from ..language import syntax as S
from ..language.expr import EvalError, Value
from ..layers import AUTO, BY_OP, OPS
from . import analysis
from .keys import Keys
from .naming import Namer
from .state import Abort


class Lines(Keys):
    """The layer lines of a body, cached by place, input shape and the values they read."""

    def layer(
        self, head: S.Head, env: dict[str, Value], shape: ir.Shape, next_is_bn: bool
    ) -> list[ir.Named]:
        """The nodes of one layer line; identical lines (same place, input shape and values of
        the names they read), in this compile or an earlier one, share them."""
        hid = id(head)
        # `in` is the enclosing body's input, not this line's (`se squeeze=in // 4`); the
        # shape by its fields, which hash in C (a Shape's hash is a Python call)
        parts = [hid, shape.c, shape.h, shape.w, shape.flat, next_is_bn, env.get("in")]
        for n in self.line_reads[hid]:
            v = env.get(n)
            t = type(v)
            parts.append((t, v) if t is not tuple and t is not ir.Table else self.key(v))
        key = tuple(parts)
        cached = self.lines.get(key)
        budget = self.budget
        if cached is not None:  # what evaluating it again would cost, as if not cached
            self.layers += cached[1]  # count and spend, inline: once per layer line
            budget.left -= cached[2]
            if budget.left < 0 or self.layers > limits.MAX_LAYERS:
                self.overrun(head.span)
            return cached[0]
        before, errors_before, left = self.layers, len(self.errors), budget.left
        budget.left -= self.line_steps[hid]
        if budget.left < 0:
            self.spend(0, head.span)
        nodes = self._layer(head, env, shape, next_is_bn)
        if len(self.errors) == errors_before:
            if len(self.lines) >= analysis.BLOCK_CACHE_SIZE:
                self.lines.clear()
            analysis.charge(self.analysis, self.layers - before)
            self.lines[key] = (nodes, self.layers - before, left - self.budget.left)
        return nodes

    def _layer(
        self, head: S.Head, env: dict[str, Value], shape: ir.Shape, next_is_bn: bool
    ) -> list[ir.Named]:
        plan = self.plans[id(head)]
        if not plan.complete:
            raise Abort  # a required argument is missing (reported by analyze)
        try:
            values = layers.apply(plan, env)
            # a trailing layer without written values (`bn relu`) takes its defaults as they
            # are: only the main layer's values are changed below
            trailing = (
                [
                    (p.spec.name, layers.apply(p, env) if p.binders else p.base)
                    for p, _span in plan.trailing
                ]
                if plan.trailing
                else ()
            )
        except EvalError as e:
            if e.code == "unknown-name" and e.hint is None:
                e.hint = did_you_mean(e.message.split("`")[1], OPS)
            self.eval_error(e)
            raise Abort from None
        if values.get("bias", None) is AUTO:
            values["bias"] = not (
                (trailing and trailing[0][0] == "bn") or (not trailing and next_is_bn)
            )
        op = plan.spec.name
        if op == "sepconv":
            return [("sepconv", self.sepconv(head, values, trailing, shape, next_is_bn))]
        node = self.make(op, head, values, shape)
        out = [(op, node)]
        for name, tvalues in trailing:
            node = self.make(name, head, tvalues, node.out_shape)
            out.append((name, node))
        return out

    def make(self, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.Node:
        """One IR layer from bound values."""
        self.layers += 1  # self.count(1, ...), inline: once per layer of the network
        if self.layers > limits.MAX_LAYERS:
            self.count(0, head.span)
        return BY_OP[op].build(self, op, head, v, shape)

    def sepconv(
        self, head: S.Head, v: dict[str, Any], trailing: list, shape: ir.Shape, next_is_bn: bool
    ) -> ir.SepConv:
        bias = not (trailing and trailing[0][0] == "bn")
        dw = {
            "kernel": v["kernel"],
            "stride": v["stride"],
            "padding": v["padding"],
            "dilation": v["dilation"],
            "multiplier": 1,
            "bias": bias,
        }
        pw = {"out": v["out"], "stride": (1, 1), "group": 1, "bias": bias and not next_is_bn}
        namer = Namer()
        children: list[ir.Named] = []
        current = shape
        for op, values, base in (("dwconv", dw, "dw"), ("pwconv", pw, "pw")):
            node = self.make(op, head, values, current)
            children.append((base, node))
            for name, tvalues in trailing:
                node = self.make(name, head, tvalues, node.out_shape)
                children.append((namer(name), node))
            current = node.out_shape
        return ir.SepConv(head, shape, current, ir.Seq(None, shape, current, tuple(children)))
