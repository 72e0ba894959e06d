"""`constraint` and `objective` lines on a compiled network: the cost terms they read, whether
each constraint holds and by how much it misses (the slack Optuna's constrained samplers
read), and each objective's value.

A pass after cost: it reads the IR and its `Cost`, never a framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import ir
from ..errors import Diagnostic, Span
from ..language import syntax as S
from ..language.domains import EPS, is_number
from ..language.expr import EvalError, evaluate, truth
from ..values import format_value


@dataclass(frozen=True, slots=True)
class ConstraintResult:
    """One `constraint` on one network: whether it holds, and by how much it misses
    (`violation` > 0 when it does not hold, <= 0 when it does: the slack, relative to the
    bound, that Optuna's constrained samplers read)."""

    text: str
    span: Span
    satisfied: bool
    violation: float
    message: str | None = None


def layer_count(node: ir.Node, memo: dict[int, int] | None = None) -> int:
    """Layers below `node`, as the cost report lists them (a block's count is kept on it)."""
    if type(node) is ir.Block:
        return node.layer_count
    kids = ir.children(node)
    if not kids:
        return 1
    memo = {} if memo is None else memo
    key = id(node)
    if key not in memo:
        memo[key] = sum(layer_count(child, memo) for _, child in kids)
    return memo[key]


def cost_terms(net: ir.Network, cost: Any, latency: float | None = None) -> dict[str, Any]:
    """The cost terms constraints and objectives read; `latency` (milliseconds, predicted
    from a latency table) only when a table is given."""
    terms = {
        "params": cost.params,
        "macs": cost.macs,
        "flops": cost.flops,
        "activations": cost.activations,
        "peak_activations": cost.peak_activations,
        "traffic": cost.traffic,
        "layers": layer_count(net.body),
    }
    if latency is not None:
        terms["latency"] = latency
    return terms


def scope(net: ir.Network, cost: Any, latency: float | None = None) -> dict[str, Any]:
    """What constraints and objectives read: parameters, lets, then the cost terms."""
    env = dict(net.scope)
    env.update(cost_terms(net, cost, latency))
    return env


NO_TABLE = (
    "`latency` is predicted from a latency table: pass one (--latency TABLE, or "
    "compile(..., latency=...)); `specgen profile SPEC -o TABLE` measures one"
)


def located(e: EvalError) -> Diagnostic:
    """An evaluation mistake as a diagnostic; `latency` without a table says how to get one."""
    hint = NO_TABLE if e.code == "unknown-name" and "`latency`" in e.message else e.hint
    return Diagnostic(e.message, e.span, hint, code=e.code)


def violation(test: S.Expr, env: Mapping[str, Any], ok: bool) -> float:
    """How far a comparison `a <= b` is from flipping, relative to |b|; 0 / 1 otherwise."""
    if type(test) is S.Compare and len(test.ops) == 1 and test.ops[0] in ("<", "<=", ">", ">="):
        a, b = (evaluate(x, env) for x in test.operands)
        if is_number(a) and is_number(b):
            diff = (a - b) if test.ops[0] in ("<", "<=") else (b - a)
            scale = max(abs(b), 1.0)
            if ok:
                return min(diff / scale, 0.0)
            return max(diff / scale, EPS)
    return 0.0 if ok else 1.0


def evaluate_constraints(
    net: ir.Network, cost: Any, source_text: str, latency: float | None = None
) -> tuple[tuple[ConstraintResult, ...], list[Diagnostic]]:
    """Every `constraint` of the spec on this network, or the mistakes in them."""
    constraints = net.program.constraints
    if not constraints:
        return (), []
    env = scope(net, cost, latency)
    results, errors = [], []
    lines = source_text.split("\n")
    for c in constraints:
        try:
            ok = truth(evaluate(c.test, env))
            amount = violation(c.test, env, ok)
        except EvalError as e:
            errors.append(located(e))
            continue
        text = _text(lines, c.span) if c.span.file is None else "constraint"
        results.append(ConstraintResult(text, c.span, ok, amount, c.message))
    return tuple(results), errors


def _text(lines: list[str], span: Span) -> str:
    if span.line == span.end_line and 0 < span.line <= len(lines):
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]
    return "constraint"


@dataclass(frozen=True, slots=True)
class ObjectiveResult:
    """One `objective` line on one network: its text, direction and value here."""

    text: str
    direction: str
    span: Span
    value: Any


def evaluate_objectives(
    net: ir.Network, cost: Any, source_text: str, latency: float | None = None
) -> tuple[tuple[ObjectiveResult, ...], list[Diagnostic]]:
    """Every `objective` of the spec on this network, or the mistakes in them (a name that
    is not a cost term, parameter or let; a value that is not a number)."""
    objectives = net.program.objectives
    if not objectives:
        return (), []
    env = scope(net, cost, latency)
    lines = source_text.split("\n")
    results, errors = [], []
    for o in objectives:
        try:
            value = evaluate(o.expr, env)
        except EvalError as e:
            errors.append(located(e))
            continue
        if not is_number(value):
            message = f"an objective must be a number, not {format_value(value)}"
            errors.append(Diagnostic(message, o.expr.span, code="type"))
            continue
        text = _text(lines, o.expr.span) if o.span.file is None else "objective"
        results.append(ObjectiveResult(text, o.direction, o.span, value))
    return tuple(results), errors
