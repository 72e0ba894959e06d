"""One elaboration's state and the services every concern of the elaborator uses: diagnostics
that carry the chain of block calls, expressions evaluated and paid from the step budget, and
the limits on layers and nesting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import ir, limits
from ..errors import Diagnostic, Frame, Span
from ..language import syntax as S
from ..language.expr import Budget, Compiled, EvalError, Value, as_int, compile_priced
from ..layers.shapes import ShapeError
from .analysis import Analysis


class Abort(Exception):
    """Stops elaboration after an error that leaves the following shapes unknown."""


class State:
    """What an elaboration holds and the services its concerns share (the `Builder` of
    `layers.kind`: `error` and `shape`)."""

    def __init__(self, program: S.Program, analysis: Analysis, budget: Budget | None = None):
        self.program = program
        # the steps this compile may still take (see limits.MAX_STEPS); the analysis's own
        # steps are charged to it, so each compile of a program starts from the same amount
        self.budget = budget or Budget(limits.MAX_STEPS - analysis.steps)
        self.line_steps = analysis.line_steps
        self.plans = analysis.plans
        self.reads = analysis.reads
        self.cache = analysis.blocks
        self.line_reads = analysis.line_reads
        self.lines = analysis.lines
        self.exprs = analysis.exprs
        self.calls = analysis.calls
        self.residuals = analysis.residuals
        # only blocks that passed the checks of names (a reserved or duplicate one is
        # reported by analyze, and a call to it is not expanded)
        self.blocks = {b.name: b for b in program.blocks if b.name in analysis.callable}
        self.global_keys: dict[str, tuple] = {}  # block name -> key part of the globals it reads
        self.errors: list[Diagnostic] = []
        self.stack: list[Frame] = []
        self.layers = 0
        self.depth = 0  # block calls and composites around the statement being expanded
        self.deepest = 0  # the largest depth reached (below the current block call)
        self.keys: dict[int, tuple[Value, Any]] = {}  # id(list or table) -> (it, its key)
        self.interned = analysis.interned
        self.analysis = analysis
        self.globals: dict[str, Value] = {}

    # ---- diagnostics ---------------------------------------------------------------------
    def error(
        self, message: str, span: Span, hint: str | None = None, code: str = "error"
    ) -> None:
        self.errors.append(Diagnostic(message, span, hint, tuple(self.stack), code))

    def eval_error(self, e: EvalError) -> None:
        self.error(e.message, e.span, e.hint, e.code)

    def shape(self, fn: Callable[..., ir.Shape], span: Span, *args: Any) -> ir.Shape:
        try:
            return fn(*args)
        except ShapeError as e:
            self.error(e.message, span, code=e.code)
            raise Abort from None

    # ---- expressions and the step budget -------------------------------------------------
    def compiled(self, expr: S.Expr) -> tuple[Compiled, int]:
        """`expr` compiled and the steps each evaluation costs (see `compile_priced`), once
        per program: the analysis keeps them."""
        return compiled(self.exprs, expr)

    def priced(self, expr: S.Expr, env: Mapping[str, Value]) -> Value:
        """`expr` in `env`, paid from the budget; its EvalError is the caller's to report."""
        fn, steps = self.compiled(expr)
        self.spend(steps, expr.span)
        return fn(env)

    def spend(self, n: int, span: Span) -> None:
        """Take `n` steps from the compile's budget; past it, report the limit and stop."""
        budget = self.budget
        budget.left -= n
        if budget.left < 0:
            self.eval_error(budget.exceeded(span))
            raise Abort

    def overrun(self, span: Span) -> None:
        """Report the limit passed, of layers or of steps (checked together, inline)."""
        self.count(0, span)
        self.spend(0, span)

    def eval(self, expr: S.Expr, env: Mapping[str, Value]) -> Value:
        found = self.exprs.get(id(expr))
        if found is None:
            self.compiled(expr)
            found = self.exprs[id(expr)]
        budget = self.budget
        budget.left -= found[1]
        if budget.left < 0:
            self.spend(0, expr.span)
        try:
            return found[0](env)
        except EvalError as e:
            self.eval_error(e)
            raise Abort from None

    def int(self, value: Value, span: Span, what: str) -> int:
        """`value` as an int; a mistake is reported here, with the current call chain."""
        try:
            return as_int(value, span, what)
        except EvalError as e:
            self.eval_error(e)
            raise Abort from None

    # ---- limits --------------------------------------------------------------------------
    def count(self, n: int, span: Span) -> None:
        self.layers += n
        if self.layers > limits.MAX_LAYERS:
            self.error(f"the network has more than {limits.MAX_LAYERS} layers", span, code="limit")
            raise Abort

    def descend(self, span: Span, levels: int) -> None:
        """Check that `levels` more levels of nesting stay within MAX_DEPTH: every later pass
        recurses once per level, so this bounds their stack."""
        if self.depth + levels > limits.MAX_DEPTH:
            self.error(
                f"blocks and composites nested more than {limits.MAX_DEPTH} deep",
                span,
                code="limit",
            )
            raise Abort
        self.deepest = max(self.deepest, self.depth + levels)


def compiled(exprs: dict[int, tuple[Compiled, int, S.Expr]], expr: S.Expr) -> tuple[Compiled, int]:
    """`expr` compiled and the steps each evaluation costs, from `exprs` (an analysis's),
    compiled on first use."""
    found = exprs.get(id(expr))
    if found is None:  # holding `expr` keeps its id from being reused
        fn, steps = compile_priced(expr)
        found = exprs[id(expr)] = (fn, steps, expr)
    return found[0], found[1]
