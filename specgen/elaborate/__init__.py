"""Pass 2 — elaborate: `syntax.Program` + parameter values → `ir.Network`.

Binds parameters, evaluates every expression, expands block calls and repeats, and gives every
node its shapes (via `shapes`), because `in` and the kernel of `gdc` depend on them.  Mistakes
are collected as diagnostics carrying the chain of block calls; elaboration stops early only
when a shape can no longer be computed.  Identical block instantiations — same block, same
argument values, same input shape — are elaborated once and shared.
"""

from __future__ import annotations

import itertools
import keyword
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from .. import ir, limits, names
from ..errors import MAX_DIAGNOSTICS, Diagnostic, Frame, Span, did_you_mean
from ..language import syntax as S
from ..language.expr import (
    BUDGET,
    CONSTANTS,
    Budget,
    Compiled,
    EvalError,
    Value,
    as_int,
    bind,
    compile_priced,
    iterable,
    size,
    truth,
)
from ..layers import ops
from ..layers.ops import AUTO, OPS
from ..layers.shapes import ShapeError, auto_padding, checked, same_padding, windowed
from ..names import NameTable
from ..values import ValueProblem, from_python


class _Abort(Exception):
    """Stops elaboration after an error that leaves the following shapes unknown."""


RESERVED = ops.KEYWORDS | set(keyword.kwlist) | set(OPS) | set(ops.COMPOSITES)


def _reserved_alias(name: str) -> bool:
    """Words an `as` name cannot take: the language's, Python's, nn.Module's, keras.Model's."""
    return name in RESERVED or name in CONSTANTS or name in names.RESERVED


class Analysis:
    """What is known of a program before any parameter value: its mistakes of names,
    duplicates and recursion, and the binding plan of every layer line."""

    __slots__ = (
        "errors",
        "plans",
        "reads",
        "blocks",
        "line_reads",
        "lines",
        "callable",
        "exprs",
        "calls",
        "residuals",
        "line_steps",
        "steps",
        "over",
        "interned",
        "__weakref__",  # analyses holding cached nodes are tracked weakly (see _charge)
    )

    def __init__(self) -> None:
        self.errors: list[Diagnostic] = []
        self.plans: dict[int, ops.Plan] = {}
        # block name -> the global names (network parameters, top-level lets) its expansion
        # reads, directly or through the blocks it calls
        self.reads: dict[str, tuple[str, ...]] = {}
        # block instantiations shared across compiles; see Elaborator.call
        self.blocks: dict[tuple, ir.Block] = {}
        # layer line (id of its head) -> the names its arguments read; see Elaborator.layer
        self.line_reads: dict[int, tuple[str, ...]] = {}
        # the nodes of layer lines, shared across compiles
        self.lines: dict[tuple, tuple[list[ir.Named], int]] = {}
        # the blocks that can be called: defined once, under a name that is not reserved
        self.callable: frozenset[str] = frozenset()
        # made on first use, see Elaborator: id(expression) -> (its compiled form, the steps
        # an evaluation costs, it); id(head of a block call) -> its _CallPlan, or None when
        # the call has a mistake the general path reports; id(residual) -> its shortcuts,
        # main statements, shortcut first
        self.exprs: dict[int, tuple[Compiled, int, S.Expr]] = {}
        self.calls: dict[int, _CallPlan | None] = {}
        self.residuals: dict[int, tuple[list[S.Compound], tuple[S.Stmt, ...], bool]] = {}
        # layer line (id of its head) -> the steps one evaluation of its arguments costs
        self.line_steps: dict[int, int] = {}
        # the steps the analysis took (constant arguments are evaluated once, here), charged
        # to every compile of the program; where its budget ran out, if it did
        self.steps = 0
        self.over: Span | None = None
        # the key of every list and table value seen -> its stand-in (see Elaborator.intern)
        self.interned: dict[Any, tuple] = {}


BLOCK_CACHE_SIZE = 20_000
# Layers held by the caches of every analysis in the process together (block instantiations,
# layer lines and list stand-ins count by the layers they hold, a stand-in as one).  The
# analyses themselves are cached by text (parse.TextCache), but what their caches hold grows
# with the compiles, not the text: ~3 kB a layer, so this keeps them to a few hundred MB.
# Past it every analysis's caches are emptied, which loses sharing, never correctness.
MAX_CACHED_LAYERS = 100_000
_cached = [0]  # layers held now, across analyses (approximate under threads: a bound only)
_holding: weakref.WeakSet[Analysis] = weakref.WeakSet()
_holding_lock = threading.Lock()


def _charge(analysis: Analysis, layers: int) -> None:
    """Count `layers` more layers held by `analysis`'s caches, emptying every analysis's
    caches first when the process-wide bound would be passed."""
    if _cached[0] + layers > MAX_CACHED_LAYERS:
        with _holding_lock:
            for held in list(_holding):
                held.blocks.clear()
                held.lines.clear()
                held.interned.clear()
            _holding.clear()
            _cached[0] = 0
    if _cached[0] == 0 or analysis not in _holding:
        with _holding_lock:
            _holding.add(analysis)
    _cached[0] += max(layers, 1)


def _names(node, out: set[str]) -> None:
    """Every name read by an expression, argument list or statement body."""
    t = type(node)
    if t is S.Name:
        out.add(node.name)
    elif t is S.BinOp:
        _names(node.left, out)
        _names(node.right, out)
    elif t is S.Neg:
        _names(node.operand, out)
    elif t is S.Call or t is S.ListExpr:
        for a in node.args if t is S.Call else node.items:
            _names(a, out)
    elif t is S.Index:
        _names(node.target, out)
        _names(node.index, out)
    elif t is S.MapExpr:
        for k, v in node.pairs:
            _names(k, out)
            _names(v, out)
    elif t is S.KwArg or t is S.Let:
        _names(node.value, out)
    elif t is S.Compare:
        for a in node.operands:
            _names(a, out)
    elif t is S.BoolOp:
        _names(node.left, out)
        _names(node.right, out)
    elif t is S.Not:
        _names(node.operand, out)
    elif t is S.Cond:
        _names(node.test, out)
        _names(node.then, out)
        _names(node.orelse, out)
    elif t is S.ListComp:
        _names(node.element, out)
        for clause in node.clauses:
            _names(clause.iterable, out)
            for c in clause.conds:
                _names(c, out)
    elif t is S.Assert:
        _names(node.test, out)
    elif t is S.If:
        for test, body in node.branches:
            if test is not None:
                _names(test, out)
            for stmt in body:
                _names(stmt, out)
    elif t is S.For:
        _names(node.iterable, out)
        for stmt in node.body:
            _names(stmt, out)
    elif t is S.Simple or t is S.Compound:
        for a in node.head.args:
            _names(a, out)
        if t is S.Simple and node.repeat is not None:
            _names(node.repeat, out)
        if t is S.Compound:
            for stmt in node.body:
                _names(stmt, out)


def analyze(program: S.Program) -> Analysis:
    """Check `program` without parameter values.

    Depends only on the syntax tree, so `compile` caches it with the parse.
    """
    analysis = Analysis()
    errors = analysis.errors

    def err(message: str, span: Span, hint: str | None = None, code: str = "name") -> None:
        errors.append(Diagnostic(message, span, hint, code=code))

    def check_params(params: tuple[S.Param, ...], need_default: bool) -> None:
        seen: set[str] = set()
        for p in params:
            if p.name in seen:
                err(f"parameter `{p.name}` is declared twice", p.span, code="duplicate-parameter")
            seen.add(p.name)
            if p.name in RESERVED or p.name in CONSTANTS:
                err(f"`{p.name}` is reserved and cannot name a parameter", p.span, code="reserved")
            if need_default and p.default is None:
                err(
                    f"network parameter `{p.name}` needs a default (`{p.name}=...`)",
                    p.span,
                    code="missing-default",
                )

    check_params(program.params, True)
    blocks: dict[str, S.BlockDef] = {}
    for b in program.blocks:
        if b.name in blocks:
            err(f"block `{b.name}` is defined twice", b.name_span, code="duplicate-block")
        elif b.name in RESERVED:
            what = "a built-in layer" if b.name in OPS else "reserved"
            err(f"block name `{b.name}` is {what}", b.name_span, code="reserved")
        else:
            blocks[b.name] = b
        check_params(b.params, False)
        seen_default = False
        for p in b.params:
            if p.default is not None:
                seen_default = True
            elif seen_default:
                err(f"parameter `{p.name}` without a default follows one with a default", p.span)
    for let in program.lets:
        if isinstance(let, S.Let) and let.name in RESERVED:
            err(
                f"`{let.name}` is reserved and cannot be redefined", let.name_span, code="reserved"
            )

    calls: dict[str, set[str]] = {name: set() for name in blocks}

    def check_alias(stmt: S.Simple) -> None:
        alias = stmt.alias
        if stmt.repeat is not None:
            err(
                "`as` names one layer or block call; a repeated line would need several",
                stmt.alias_span,
                "write the line once per name, or drop `as`",
                code="syntax",
            )
        elif _reserved_alias(alias):
            err(
                f"`{alias}` is reserved and cannot name a layer",
                stmt.alias_span,
                "it is a word of the language, of Python, or an attribute of nn.Module or "
                "keras.Model",
                code="reserved",
            )

    def walk(
        body: tuple[S.Stmt, ...], owner: str | None, scope: set[str] | None = None
    ) -> set[str]:
        """Check the names of `body`; return the names bound after it (`if` and `for` bodies
        bind into the enclosing body, as in Python)."""
        scope = set(scope or ())  # names already bound in this body: parameters, earlier lets
        for stmt in body:
            if isinstance(stmt, S.Assert):
                continue
            if isinstance(stmt, S.If):
                bound: set[str] = set()
                for _, branch in stmt.branches:  # each branch may bind the same names
                    bound |= walk(branch, owner, scope)
                scope |= bound
                continue
            if isinstance(stmt, S.For):
                for target in stmt.targets:
                    if target in RESERVED or target in CONSTANTS:
                        err(
                            f"`{target}` is reserved and cannot name a loop variable",
                            stmt.span,
                            code="reserved",
                        )
                scope |= walk(stmt.body, owner, scope | set(stmt.targets)) | set(stmt.targets)
                continue
            if isinstance(stmt, S.Let):
                if stmt.name in RESERVED:
                    err(
                        f"`{stmt.name}` is reserved and cannot be redefined",
                        stmt.name_span,
                        code="reserved",
                    )
                elif stmt.name in scope:
                    err(
                        f"`{stmt.name}` is already defined here; choose another name",
                        stmt.name_span,
                        code="redefined",
                    )
                scope.add(stmt.name)
                continue
            head = stmt.head
            name = head.name
            if isinstance(stmt, S.Simple) and stmt.alias is not None:
                check_alias(stmt)
            if name in ("else", "elif"):
                err(
                    f"`{name}` without an `if`: it must follow the body of an `if` or `elif` "
                    "at the same indentation",
                    head.name_span,
                    code="syntax",
                )
            elif isinstance(stmt, S.Compound):
                if name not in ops.COMPOSITES:
                    what = "layer" if name in OPS else "block call" if name in blocks else "name"
                    hint = did_you_mean(name, ops.COMPOSITES) or "composites: " + ", ".join(
                        ops.COMPOSITES
                    )
                    err(
                        f"`{name}:` is not a composite ({what} `{name}` takes no body)",
                        head.name_span,
                        hint,
                        "unknown-composite",
                    )
                walk(stmt.body, owner, scope)
            elif name in blocks:
                if owner is not None:
                    calls[owner].add(name)
                for arg in head.args:
                    if _trailing_name(arg):
                        err(
                            f"a block call takes no trailing layers: put `{_trailing_name(arg)}` on a line of its own",
                            arg.span,
                            code="syntax",
                        )
            elif name in ops.COMPOSITES:
                err(
                    f"`{name}` needs an indented body: end the line with `:`",
                    head.name_span,
                    code="syntax",
                )
            elif name in OPS:
                p = ops.plan(OPS[name], head.args, head.name_span)
                analysis.plans[id(head)] = p
                found: set[str] = set()
                for a in head.args:
                    _names(a, found)
                analysis.line_reads[id(head)] = tuple(sorted(found - {"in"}))
                analysis.line_steps[id(head)] = 1 + sum(
                    size(a.value if type(a) is S.KwArg else a) for a in head.args
                )
                for e in p.errors:
                    err(e.message, e.span, e.hint, e.code)
            else:
                # only the diagnostics that will be shown get a (linear-time) suggestion
                hint = (
                    did_you_mean(name, [*OPS, *blocks]) if len(errors) < MAX_DIAGNOSTICS else None
                )
                if name == "x":  # `x 3` on a line of its own, most likely after a composite
                    hint = (
                        "`x N` ends the line it repeats; a composite cannot be repeated: wrap "
                        "it in a block and repeat the call (`unit() x 3`), or put it in "
                        "`for i in range(3):`"
                    )
                err(f"unknown layer or block `{name}`", head.name_span, hint, "unknown-layer")
        return scope

    top: set[str] = {p.name for p in program.params}
    for let in program.lets:
        if not isinstance(let, S.Let):
            continue
        if let.name in top:
            err(
                f"`{let.name}` is already defined; choose another name",
                let.name_span,
                code="redefined",
            )
        top.add(let.name)
    for b in program.blocks:
        walk(b.body, b.name if blocks.get(b.name) is b else None, {p.name for p in b.params})
    walk(program.body, None)

    # One depth-first pass over the call graph, without recursion (a chain of blocks can be
    # long): it reports cycles and, in post-order, closes `reads` over the callees, so the
    # whole analysis stays linear in the size of the program.
    global_names = {p.name for p in program.params}
    global_names |= {let.name for let in program.lets if isinstance(let, S.Let)}
    reach: dict[str, frozenset[str]] = {}
    position: dict[str, int] = {}  # blocks on the current path, with their depth on it

    def direct_reads(b: S.BlockDef) -> set[str]:
        found: set[str] = set()
        for p in b.params:
            if p.default is not None:
                _names(p.default, found)
        for stmt in b.body:
            _names(stmt, found)
        return found & global_names

    def visit(root: str) -> None:
        path = [root]
        position[root] = 0
        stack = [iter(sorted(calls[root]))]
        while stack:
            callee = next(stack[-1], None)
            if callee is None:
                done = path.pop()
                del position[done]
                stack.pop()
                found = direct_reads(blocks[done])
                for c in calls[done]:
                    found |= reach.get(c, frozenset())  # absent only on a cycle (an error)
                reach[done] = frozenset(found)
            elif callee in position:
                cycle = path[position[callee] :] + [callee]
                if len(cycle) > 9:
                    cycle = cycle[:4] + [f"... ({len(cycle) - 8} more)"] + cycle[-4:]
                err(
                    f"block `{callee}` is recursive: {' → '.join(cycle)}",
                    blocks[callee].name_span,
                    code="recursive-block",
                )
            elif callee not in reach:
                position[callee] = len(path)
                path.append(callee)
                stack.append(iter(sorted(calls[callee])))

    for name in blocks:
        if name not in reach:
            visit(name)
    for name, found in reach.items():
        analysis.reads[name] = tuple(sorted(found))
    analysis.callable = frozenset(blocks)
    return analysis


class Elaborator:
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

    def compiled(self, expr: S.Expr) -> tuple[Compiled, int]:
        """`expr` compiled and the steps each evaluation costs (see `compile_priced`), once
        per program: the analysis keeps them."""
        found = self.exprs.get(id(expr))
        if found is None:  # holding `expr` keeps its id from being reused
            fn, steps = compile_priced(expr)
            found = self.exprs[id(expr)] = (fn, steps, expr)
        return found[0], found[1]

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
            raise _Abort

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
            raise _Abort from None

    def int(self, value: Value, span: Span, what: str) -> int:
        """`value` as an int; a mistake is reported here, with the current call chain."""
        try:
            return as_int(value, span, what)
        except EvalError as e:
            self.eval_error(e)
            raise _Abort from None

    def count(self, n: int, span: Span) -> None:
        self.layers += n
        if self.layers > limits.MAX_LAYERS:
            self.error(f"the network has more than {limits.MAX_LAYERS} layers", span, code="limit")
            raise _Abort

    def descend(self, span: Span, levels: int) -> None:
        """Check that `levels` more levels of nesting stay within MAX_DEPTH: every later pass
        recurses once per level, so this bounds their stack."""
        if self.depth + levels > limits.MAX_DEPTH:
            self.error(
                f"blocks and composites nested more than {limits.MAX_DEPTH} deep",
                span,
                code="limit",
            )
            raise _Abort
        self.deepest = max(self.deepest, self.depth + levels)

    def key(self, value: Value) -> Any:
        """`_key(value)`, computed once per list or table object in a compile (a large list
        passed to a block called many times is walked once)."""
        if type(value) is not tuple and type(value) is not ir.Table:
            return (type(value), value)
        found = self.keys.get(id(value))
        if found is None:  # holding `value` keeps its id
            found = self.keys[id(value)] = (value, self.intern(_key(value)))
        return found[1]

    def intern(self, key: Any) -> tuple:
        """A small stand-in for the key of a list or table: cache keys hash it on every
        lookup, and a nested key of 10,000 items took 100 us to hash, at every block call
        that passed the list.  Stand-ins are never reused, so clearing the table (when it
        grows past BLOCK_CACHE_SIZE) loses sharing, never correctness."""
        token = self.interned.get(key)
        if token is None:
            if len(self.interned) >= BLOCK_CACHE_SIZE:
                self.interned.clear()
            _charge(self.analysis, 1)
            token = self.interned[key] = (_Interned, next(_TOKENS))
        return token

    def shape(self, fn, span: Span, *args) -> ir.Shape:
        try:
            return fn(*args)
        except ShapeError as e:
            self.error(e.message, span, code=e.code)
            raise _Abort from None

    # ---- the network ---------------------------------------------------------------------
    def network(self, params: Mapping[str, Any]) -> ir.Network | None:
        p = self.program
        declared = {q.name: q for q in p.params}
        for name in params:
            if name not in declared:
                hint = (
                    did_you_mean(name, declared) if len(self.errors) < MAX_DIAGNOSTICS else None
                ) or (
                    f"parameters: {', '.join(declared)}"
                    if declared
                    else "this network has no parameters"
                )
                self.error(
                    f"unknown parameter `{name}`", Span(0, 0, 0, 0), hint, "unknown-parameter"
                )
        env: dict[str, Value] = {}
        try:
            for q in p.params:
                if q.default is None:
                    raise _Abort
                default = self.eval(q.default, env)
                if q.name in params:
                    env[q.name] = self.override(q, default, params[q.name])
                else:
                    env[q.name] = default
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
        except _Abort:
            return None
        bound = tuple((q.name, env[q.name]) for q in p.params)
        return ir.Network(p.name, bound, shape, body, p, tuple(env.items()))

    def override(self, param: S.Param, default: Value, value: Any) -> Value:
        """A parameter value given from the CLI or the API, checked against its default's type."""
        try:
            value = from_python(value, limits.MAX_LIST, limits.MAX_VALUE_DEPTH)
        except ValueProblem as problem:
            self.error(
                f"parameter `{param.name}` got {problem}", param.span, code="parameter-type"
            )
            raise _Abort from None
        if not _in_range(value):
            self.error(
                f"parameter `{param.name}` got a number that is too large or not finite "
                "(limit 2**53)",
                param.span,
                code="parameter-type",
            )
            raise _Abort
        if _kind(default) != _kind(value) or (
            isinstance(default, int)
            and not isinstance(default, bool)
            and isinstance(value, float)
            and not value.is_integer()
        ):
            self.error(
                f"parameter `{param.name}` expects a value like {ir.format_value(default)}, got {ir.format_value(value)}",
                param.span,
                code="parameter-type",
            )
            raise _Abort
        # the declared default's type governs: `--set wa=36` on `wa=24.48` is the float 36.0
        # (as an int, `/` would refuse 36 / 24 as inexact), 2.0 on `depth=50` the int 2
        if isinstance(default, float) and type(value) is int:
            value = float(value)
        elif isinstance(default, int) and isinstance(value, float):
            value = int(value)
        return value

    # ---- bodies --------------------------------------------------------------------------
    def body(
        self,
        stmts: tuple[S.Stmt, ...],
        env: Mapping[str, Value],
        shape: ir.Shape,
        span: Span,
        namer: _Namer | None = None,
    ) -> ir.Seq:
        """Statements in sequence.  Composites share their enclosing `namer`: they are not
        modules of their own, so their layers are named in the enclosing block."""
        env = dict(env)
        env["in"] = shape.c
        return self.seq(stmts, env, shape, namer or _Namer())

    def seq(
        self, stmts: tuple[S.Stmt, ...], env: dict[str, Value], shape: ir.Shape, namer: _Namer
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
                        raise _Abort
                    nodes = ((name, node),)
                elif name in OPS:
                    nodes = self.layer(head, env, out.current, self.next_is_bn(stmts, i, last))
                else:
                    continue  # reported by check_program
                if not nodes:
                    continue
                if stmt.alias is None:
                    children.extend([(namer(base), node) for base, node in nodes])
                else:
                    children.append((self.alias(stmt, namer), nodes[0][1]))
                    children.extend([(namer(base), node) for base, node in nodes[1:]])
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
                    children.append((namer(stmt.head.name), node))
                    out.made(1, frames)
                    out.current = node.out_shape

    @staticmethod
    def next_is_bn(stmts: tuple[S.Stmt, ...], i: int, last: int) -> bool:
        """Whether a plain `bn` line follows statement i (a conv before it needs no bias)."""
        if i == last:
            return False
        nxt = stmts[i + 1]
        return type(nxt) is S.Simple and nxt.head.name == "bn" and nxt.repeat is None

    def alias(self, stmt: S.Simple, namer: _Namer) -> str:
        """The name written with `as`, unless an earlier layer of this body has it."""
        if _reserved_alias(stmt.alias):
            return namer(stmt.head.name)  # reported by analyze
        if not namer.claim(stmt.alias):
            self.error(
                f"`{stmt.alias}` already names a layer or block call in this body",
                stmt.alias_span,
                "give each `as` a different name (a loop would repeat it)",
                code="redefined",
            )
            raise _Abort
        return stmt.alias

    def truth(self, test: S.Expr, env: Mapping[str, Value]) -> bool:
        return truth(self.eval(test, env))

    def check_assert(self, stmt: S.Assert, env: Mapping[str, Value]) -> None:
        """A failed `assert` is the user's own rule: report their message and stop."""
        if not self.truth(stmt.test, env):
            message = stmt.message or "assertion failed"
            self.error(message, stmt.test.span, code="assert")
            raise _Abort

    def iterations(self, stmt: S.For, env: dict[str, Value]):
        """Bind the loop variables in `env` for each item; while an iteration runs, its
        number and values are part of every diagnostic's chain."""
        value = self.eval(stmt.iterable, env)
        try:
            items = iterable(value, stmt.iterable.span, "for")
        except EvalError as e:
            self.eval_error(e)
            raise _Abort from None
        budget = self.budget
        for number, item in enumerate(items, 1):
            budget.left -= 1
            if budget.left < 0:
                self.spend(0, stmt.span)
            try:
                bind(env, stmt.targets, item, stmt.span)
            except EvalError as e:
                self.eval_error(e)
                raise _Abort from None
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
                raise _Abort
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
                        raise _Abort
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
        return out  # else an unknown name, reported by check_program

    # ---- layers --------------------------------------------------------------------------
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
            if len(self.lines) >= BLOCK_CACHE_SIZE:
                self.lines.clear()
            _charge(self.analysis, self.layers - before)
            self.lines[key] = (nodes, self.layers - before, left - self.budget.left)
        return nodes

    def _layer(
        self, head: S.Head, env: dict[str, Value], shape: ir.Shape, next_is_bn: bool
    ) -> list[ir.Named]:
        plan = self.plans[id(head)]
        if not plan.complete:
            raise _Abort  # a required argument is missing (reported by analyze)
        try:
            values = ops.apply(plan, env)
            # a trailing layer without written values (`bn relu`) takes its defaults as they
            # are: only the main layer's values are changed below
            trailing = (
                [
                    (p.spec.name, ops.apply(p, env) if p.binders else p.base)
                    for p, _span in plan.trailing
                ]
                if plan.trailing
                else ()
            )
        except EvalError as e:
            if e.code == "unknown-name" and e.hint is None:
                e.hint = did_you_mean(e.message.split("`")[1], OPS)
            self.eval_error(e)
            raise _Abort from None
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
        span = head.span
        if op == "conv" or op == "pwconv" or op == "dwconv":
            if op == "pwconv":
                v = {**v, "kernel": (1, 1), "padding": (0, 0), "dilation": (1, 1)}
            if op == "dwconv":
                groups, out = shape.c, shape.c * v["multiplier"]
            else:
                groups, out = v["group"], shape.c if v["out"] is AUTO else v["out"]
            padding = _padding(v, shape)
            try:
                out_shape = windowed(shape, out, v["kernel"], v["stride"], padding, v["dilation"])
            except ShapeError as e:
                self.error(e.message, span, code=e.code)
                raise _Abort from None
            return ir.Conv(
                head,
                shape,
                out_shape,
                op,
                out,
                v["kernel"],
                v["stride"],
                padding,
                v["dilation"],
                groups,
                v["bias"],
                v.get("padding") == "same",
            )
        if op == "bn":
            return ir.BatchNorm(head, shape, shape, v["eps"], v["momentum"])
        if op in ops._ACTS:
            return ir.Act(head, shape, shape, op)
        if op == "gdc":
            k = (shape.h, shape.w)
            out_shape = self.shape(windowed, span, shape, shape.c, k, (1, 1), (0, 0, 0, 0), (1, 1))
            return ir.Conv(
                head,
                shape,
                out_shape,
                "gdc",
                shape.c,
                k,
                (1, 1),
                (0, 0, 0, 0),
                (1, 1),
                shape.c,
                v["bias"],
            )
        if op == "igc":
            g = v["M"] * v["L"]
            padding = _padding(v, shape)
            out_shape = self.shape(
                windowed, span, shape, g, v["kernel"], v["stride"], padding, v["dilation"]
            )
            return ir.IGC(
                head,
                shape,
                out_shape,
                v["M"],
                v["L"],
                v["kernel"],
                v["stride"],
                padding,
                v["dilation"],
                v["bias"],
            )
        if op in ("maxpool", "avgpool"):
            return self.pool(op, head, v, shape)
        if op == "adaptiveavgpool":
            out_shape = self.shape(checked, span, ir.Shape(shape.c, *v["size"]))
            return ir.AdaptivePool(head, shape, out_shape, v["size"])
        if op == "se":
            return ir.SE(head, shape, shape, v["squeeze"], v["act"], v["gate"])
        if op == "shuffle":
            return ir.Shuffle(head, shape, shape, v["group"])
        if op == "leakyrelu":
            return ir.Act(head, shape, shape, op, v["slope"])
        if op in ("gap", "gmp"):
            return ir.GlobalPool(
                head, shape, ir.Shape(shape.c, 1, 1), "avg" if op == "gap" else "max"
            )
        if op == "flatten":
            flat = ir.Shape(shape.numel, 1, 1, flat=True)
            return ir.Flatten(head, shape, self.shape(checked, span, flat))
        if op == "fc":
            return ir.Linear(
                head,
                shape,
                self.shape(checked, span, ir.Shape(v["out"], 1, 1, flat=True)),
                v["out"],
                v["bias"],
            )
        if op == "dropout":
            return ir.Dropout(head, shape, shape, v["p"])
        if op == "identity":
            return ir.Identity(head, shape, shape)
        raise AssertionError(op)

    def pool(self, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape) -> ir.Pool:
        """`maxpool` / `avgpool`: the stride defaults to the kernel (as in PyTorch and Keras);
        PyTorch's limits on padding and ceil_mode are checked where they are written."""
        kernel = v["kernel"]
        stride = kernel if v["stride"] is AUTO else v["stride"]
        padding = _padding({**v, "dilation": (1, 1)}, shape, stride)
        top, bottom, left, right = padding
        if 2 * max(top, bottom) > kernel[0] or 2 * max(left, right) > kernel[1]:
            shown = f"{top}x{left}" if ir.symmetric(padding) else ir.format_value(tuple(padding))
            self.error(
                f"{op} padding {shown} is more than half its kernel", head.span, code="range"
            )
        ceil_mode = v["ceil_mode"]
        if ceil_mode and (v["padding"] == "same" or ir.symmetric(padding) is None):
            self.error(
                "ceil_mode needs a padding that is the same on both sides"
                + (" (same padding already covers the input)" if v["padding"] == "same" else ""),
                _arg_span(head, "ceil_mode"),
                "leave out ceil_mode, or give a symmetric padding",
                "range",
            )
            ceil_mode = False
        out_shape = self.shape(
            windowed, head.span, shape, shape.c, kernel, stride, padding, (1, 1), ceil_mode
        )
        return ir.Pool(
            head,
            shape,
            out_shape,
            op[:3],
            kernel,
            stride,
            padding,
            ceil_mode,
            v["padding"] == "same",
        )

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
        namer = _Namer()
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

    # ---- block calls -----------------------------------------------------------------------
    def call(self, head: S.Head, env: dict[str, Value], shape: ir.Shape) -> ir.Block | None:
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
        parts = [id(head), shape.c, shape.h, shape.w, shape.flat, global_key]  # see `layer`
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
            raise _Abort
        self.descend(head.span, 1)
        self.stack.append(Frame(bdef.name, args, head.span))
        before, errors_before, left = self.layers, len(self.errors), self.budget.left
        start, outer_deepest = self.depth, self.deepest
        self.depth += 1
        self.deepest = self.depth
        try:
            benv["in"] = shape.c  # again: a parameter named `in` (reported) does not hide it
            body = self.seq(bdef.body, benv, shape, _Namer())
        finally:
            self.stack.pop()
            self.depth -= 1
            depth, self.deepest = self.deepest - start, max(outer_deepest, self.deepest)
        node = ir.Block(head, shape, body.out_shape, bdef.name, args, body, self.layers - before)
        node.derived["depth"] = depth  # levels of nesting it adds, itself included
        node.derived["steps"] = left - self.budget.left  # what expanding its body cost
        if len(self.errors) == errors_before:
            if len(self.cache) >= BLOCK_CACHE_SIZE:
                self.cache.clear()
            _charge(self.analysis, node.layer_count)
            self.cache[key] = node
        return node

    def call_plan(self, head: S.Head, bdef: S.BlockDef) -> _CallPlan | None:
        """The binding of a block call worked out once per program; None when the call has
        a mistake of names or counts, which `bind` reports in its place."""
        names = [p.name for p in bdef.params]
        given: set[str] = set()
        args = []
        position = 0
        cost = 1  # the call, its arguments and the defaults it takes
        for arg in head.args:
            if _trailing_name(arg):
                return None
            if isinstance(arg, S.KwArg):
                if arg.name not in names or arg.name in given:
                    return None
                name, expr = arg.name, arg.value
            else:  # as in `bind`, a positional argument may set a name given before
                if position >= len(names):
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
        return _CallPlan(tuple(args), tuple(order), cost)

    def bind_planned(
        self,
        plan: _CallPlan,
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
                raise _Abort from None
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
            if _trailing_name(arg):
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
                    if position >= len(names):
                        raise EvalError(
                            f"block {bdef.name} takes {_count(len(names), 'argument')}, got more",
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

    # ---- composites ------------------------------------------------------------------------
    def compound(
        self, stmt: S.Compound, env: dict[str, Value], shape: ir.Shape, namer: _Namer
    ) -> ir.Node | None:
        self.descend(stmt.head.span, 1)
        self.depth += 1
        try:
            return self._compound(stmt, env, shape, namer)
        finally:
            self.depth -= 1

    def _compound(
        self, stmt: S.Compound, env: dict[str, Value], shape: ir.Shape, namer: _Namer
    ) -> ir.Node | None:
        head = stmt.head
        kind = head.name
        if kind not in ops.COMPOSITES:
            return None  # reported by check_program
        sizes = None
        for arg in head.args:
            if kind == "split" and isinstance(arg, S.KwArg) and arg.name == "sizes":
                sizes = self.eval(arg.value, env)
            else:
                span = arg.name_span if isinstance(arg, S.KwArg) else arg.span
                hint = (
                    "split takes `sizes=[...]`"
                    if kind == "split"
                    else f"{kind} takes no arguments"
                )
                self.error(f"unexpected argument to {kind}", span, hint, "unknown-argument")
        if kind in ("branch", "shortcut"):
            where = "add, concat or split" if kind == "branch" else "residual"
            self.error(
                f"`{kind}:` belongs directly inside {where}", head.name_span, code="misplaced"
            )
            return None
        if kind == "residual":
            shortcuts, main, first = self.residual_parts(stmt)
            for extra in shortcuts[1:]:
                self.error(
                    "a residual has at most one `shortcut:`",
                    extra.head.name_span,
                    code="misplaced",
                )
            if not main:
                self.error(
                    "residual needs at least one statement besides its shortcut",
                    head.name_span,
                    code="empty",
                )
                return None
            short = None
            if first:
                short = self.body(shortcuts[0].body, env, shape, shortcuts[0].span, namer)
            body = self.body(main, env, shape, head.span, namer)
            if shortcuts and not first:
                short = self.body(shortcuts[0].body, env, shape, shortcuts[0].span, namer)
            return ir.Residual(head, shape, body.out_shape, body, short, first)

        parts: list[ir.Shape]
        n = len([s for s in stmt.body if not isinstance(s, S.Let)])
        if kind == "split":
            if sizes is None:
                if n and shape.c % n:
                    self.error(
                        f"split into {n} branches does not divide {shape.c} channels",
                        head.name_span,
                        f"give explicit sizes, e.g. split sizes=[{shape.c // n + shape.c % n}, ...]",
                        "split-divisibility",
                    )
                    raise _Abort
                sizes = (shape.c // max(n, 1),) * n
            else:
                sizes = self.split_sizes(sizes, n, shape, head)
            parts = [ir.Shape(s, shape.h, shape.w) for s in sizes]
        else:
            parts = [shape] * n
        branches: list[ir.Named] = []
        i = 0
        for s in stmt.body:
            if isinstance(s, S.Let):
                self.error(
                    f"`let` cannot stand directly in {kind}; put it inside a `branch:`",
                    s.name_span,
                    code="misplaced",
                )
                continue
            part = parts[i]
            i += 1
            if isinstance(s, S.Compound) and s.head.name == "branch":
                for arg in s.head.args:
                    self.error("branch takes no arguments", arg.span, code="unknown-argument")
                branches.append((namer("branch"), self.body(s.body, env, part, s.span, namer)))
                continue
            seq = self.body((s,), env, part, s.span, namer)
            if len(seq.children) == 1:
                branches.append(seq.children[0])
            else:
                branches.append((namer("branch"), seq))
        if not branches:
            self.error(f"{kind} needs at least one branch", head.name_span, code="empty")
            return None
        outs = [b.out_shape for _, b in branches]
        first = outs[0]
        if kind == "add":
            return ir.Add(head, shape, first, tuple(branches))
        total = self.shape(checked, head.span, ir.Shape(sum(o.c for o in outs), first.h, first.w))
        if kind == "concat":
            return ir.Concat(head, shape, total, tuple(branches))
        return ir.Split(head, shape, total, tuple(sizes), tuple(branches))

    def residual_parts(
        self, stmt: S.Compound
    ) -> tuple[list[S.Compound], tuple[S.Stmt, ...], bool]:
        """A residual's `shortcut:` statements, its other statements, and whether the
        shortcut is written first; worked out once per program."""
        found = self.residuals.get(id(stmt))
        if found is None:
            shortcuts = [
                s for s in stmt.body if isinstance(s, S.Compound) and s.head.name == "shortcut"
            ]
            main = tuple(
                s
                for s in stmt.body
                if not (isinstance(s, S.Compound) and s.head.name == "shortcut")
            )
            # the shortcut's layers are named (and registered) where it is written
            first = (
                bool(shortcuts)
                and bool(main)
                and stmt.body.index(shortcuts[0]) < stmt.body.index(main[0])
            )
            found = self.residuals[id(stmt)] = (shortcuts, main, first)
        return found

    def split_sizes(self, sizes: Value, n: int, shape: ir.Shape, head: S.Head) -> tuple[int, ...]:
        span = next(a.value.span for a in head.args if isinstance(a, S.KwArg))
        if not isinstance(sizes, tuple):
            self.error("split sizes must be a list like [16, 16]", span)
            raise _Abort
        values = tuple(self.int(v, span, "a split size") for v in sizes)
        if len(values) != n:
            self.error(
                f"split has {_count(n, 'branch')} but {_count(len(values), 'size')}",
                span,
                code="split-sizes",
            )
            raise _Abort
        if any(v <= 0 for v in values) or sum(values) != shape.c:
            self.error(
                f"split sizes {list(values)} do not add up to the {shape.c} input channels",
                span,
                code="split-sizes",
            )
            raise _Abort
        return values


def _padding(v: dict[str, Any], shape: ir.Shape, stride: tuple[int, int] | None = None) -> ir.Pad:
    """(top, bottom, left, right): the written padding, TensorFlow's for `same`, or by default
    the padding that keeps H×W at stride 1 for odd kernels, (k-1)/2·dilation."""
    p = v["padding"]
    if p == "same":
        return same_padding(shape, v["kernel"], stride or v["stride"], v["dilation"])
    if p is AUTO:
        p = auto_padding(v["kernel"], v["dilation"])
    return p if len(p) == 4 else (p[0], p[0], p[1], p[1])


def _arg_span(head: S.Head, name: str) -> Span:
    """Where argument `name` is written on the line (keyword or bare flag), else the line."""
    for arg in head.args:
        if isinstance(arg, S.KwArg) and arg.name == name:
            return arg.span
        if isinstance(arg, S.Name) and arg.name == name:
            return arg.span
    return head.span


def _in_range(value: Value) -> bool:
    """Every number in `value` finite and within 2**53 (lists and tables included)."""
    if isinstance(value, tuple):
        return all(_in_range(v) for v in value)
    if isinstance(value, ir.Table):
        return all(_in_range(k) and _in_range(v) for k, v in value.items)
    if isinstance(value, float):
        return value == value and abs(value) <= limits.MAX_INT
    return isinstance(value, bool) or abs(value) <= limits.MAX_INT


def _trailing_name(arg: S.Arg) -> str | None:
    """`relu` or `leakyrelu(0.1)` written as an argument: the layer's name, else None."""
    name = arg.name if isinstance(arg, S.Name) else arg.func if isinstance(arg, S.Call) else None
    return name if name in OPS and OPS[name].trailing else None


def _kind(value: Value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("ch") else "s")


class _Interned:
    """Marks the stand-in of a list or table in a cache key (no value has this type)."""


_TOKENS = itertools.count()


def _key(value: Value) -> Any:
    """A hashable key that tells 1, 1.0 and true apart."""
    t = type(value)
    if t is tuple:
        return tuple(_key(v) for v in value)
    if t is ir.Table:
        return ("table", tuple((_key(k), _key(v)) for k, v in value.items))
    return (t, value)


class _CallPlan:
    """How a block call without mistakes of names or counts binds its arguments."""

    __slots__ = ("args", "order", "steps")

    def __init__(self, args: tuple, order: tuple, steps: int) -> None:
        self.args = args  # (parameter, compiled argument), as written
        self.order = order  # (parameter, compiled default or None when given), as declared
        self.steps = steps  # what evaluating the arguments and defaults costs


_UNPLANNED = object()


class _Body:
    """A body being elaborated: its scope, names, statements so far and current shape."""

    __slots__ = ("env", "namer", "children", "loops", "current", "outer")

    def __init__(self, env: dict[str, Value], namer: _Namer, shape: ir.Shape, outer: int):
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


_RESERVED_NAMES = names.RESERVED


class _Namer(NameTable):
    """Unique attribute names within one body: conv1, bn1, relu1, conv2, unit1, ...

    They name the modules of the generated code as well as the cost report's rows, so they
    come from the name table: a block called `dw` twice gives `dw1`, `dw2`, and the 16th call
    of a block `bfloat` gives `bfloat16_`, never the `nn.Module.bfloat16` method.
    """

    __slots__ = ()

    def __call__(self, base: str) -> str:
        # NameTable.fresh's fast path, inline (a table with no parent and nothing reserved
        # of its own); anything else goes through fresh itself
        k = self.counts.get(base, 0) + 1
        name = f"{base}{k}"
        if name[0] != "_" and name not in self.used and name not in _RESERVED_NAMES:
            self.counts[base] = k
            self.used.add(name)
            return name
        return self.fresh(base, numbered=True)

    def claim(self, name: str) -> bool:
        """Take `name` as it is (`as NAME`); False when it is already in use here."""
        if self.taken(name):
            return False
        self.used.add(name)
        return True


def elaborate(
    program: S.Program,
    params: Mapping[str, Any] | None = None,
    analysis: Analysis | None = None,
    budget: Budget | None = None,
) -> tuple[ir.Network | None, list[Diagnostic]]:
    """Expand `program` with `params` (overriding the declared defaults), paying from
    `budget` (by default the whole budget less the analysis's steps).

    Returns the network (None when a mistake left shapes unknown) and the mistakes found.
    """
    e = Elaborator(program, analysis or analyze(program), budget)
    token = BUDGET.set(e.budget)  # what expressions build and walk is paid from it too
    try:
        net = e.network(params or {})
    finally:
        BUDGET.reset(token)
    return net, e.errors
