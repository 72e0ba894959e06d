"""What is known of a program before any parameter value: the `analyze` pass over the syntax
(mistakes of names, reserved words, duplicates and recursion; the binding plan of every layer
line; the global names each block reads) and the `Analysis` that holds it, together with what
compiles of the program work out once and share (compiled expressions, call plans, the caches
of block instantiations and layer lines, bounded here for the whole process).

The bounds are read at the time of use (`analysis.MAX_CACHED_LAYERS`,
`analysis.BLOCK_CACHE_SIZE`), so that setting them on this module takes effect.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from .. import ir, layers
from ..errors import MAX_DIAGNOSTICS, Diagnostic, Span, did_you_mean
from ..language import syntax as S
from ..language import words
from ..language.expr import CONSTANTS, Compiled, size
from ..layers import OPS
from .naming import RESERVED, reserved_alias


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
        "__weakref__",  # analyses holding cached nodes are tracked weakly (see charge)
    )

    def __init__(self) -> None:
        self.errors: list[Diagnostic] = []
        self.plans: dict[int, layers.Plan] = {}
        # block name -> the global names (network parameters, top-level lets) its expansion
        # reads, directly or through the blocks it calls
        self.reads: dict[str, tuple[str, ...]] = {}
        # block instantiations shared across compiles; see Calls.call
        self.blocks: dict[tuple, ir.Block] = {}
        # layer line (id of its head) -> the names its arguments read; see Lines.layer
        self.line_reads: dict[int, tuple[str, ...]] = {}
        # the nodes of layer lines, shared across compiles, with the layers they count and
        # the steps evaluating them cost
        self.lines: dict[tuple, tuple[list[ir.Named], int, int]] = {}
        # the blocks that can be called: defined once, under a name that is not reserved
        self.callable: frozenset[str] = frozenset()
        # made on first use, by the elaborator: id(expression) -> (its compiled form, the steps
        # an evaluation costs, it); id(head of a block call) -> its CallPlan, or None when
        # the call has a mistake the general path reports; id(residual) -> its shortcuts,
        # main statements, shortcut first
        self.exprs: dict[int, tuple[Compiled, int, S.Expr]] = {}
        self.calls: dict[int, CallPlan | None] = {}
        self.residuals: dict[int, tuple[list[S.Compound], tuple[S.Stmt, ...], bool]] = {}
        # layer line (id of its head) -> the steps one evaluation of its arguments costs
        self.line_steps: dict[int, int] = {}
        # the steps the analysis took (constant arguments are evaluated once, here), charged
        # to every compile of the program; where its budget ran out, if it did
        self.steps = 0
        self.over: Span | None = None
        # the key of every list and table value seen -> its stand-in (see Keys.intern)
        self.interned: dict[Any, tuple] = {}


class CallPlan:
    """How a block call without mistakes of names or counts binds its arguments, worked out
    on its first expansion (`Calls.call_plan`) and kept by the analysis."""

    __slots__ = ("args", "order", "steps")

    def __init__(self, args: tuple, order: tuple, steps: int) -> None:
        self.args = args  # (parameter, compiled argument), as written
        self.order = order  # (parameter, compiled default or None when given), as declared
        self.steps = steps  # what evaluating the arguments and defaults costs


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


def charge(analysis: Analysis, layers: int) -> None:
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
    elif t is S.Slice:
        for e in (node.target, *node.parts):
            _names(e, out)
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
        if t is S.Simple and type(node.alias) is S.Path:
            for e in node.alias.exprs:
                _names(e, out)
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
        if type(alias) is S.Path:
            if stmt.repeat is not None and not alias.appends:
                err(
                    "a repeated line takes one name per copy: end the path with `*`",
                    stmt.alias_span,
                    f'`as "{alias.text}.*"` numbers the copies 0, 1, ...',
                    code="syntax",
                )
            return
        if stmt.repeat is not None:
            err(
                "`as` names one layer or block call; a repeated line would need several",
                stmt.alias_span,
                "write the line once per name, or drop `as`",
                code="syntax",
            )
        elif reserved_alias(alias):
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
                if name not in words.COMPOSITES:
                    what = "layer" if name in OPS else "block call" if name in blocks else "name"
                    hint = did_you_mean(name, words.COMPOSITES) or "composites: " + ", ".join(
                        words.COMPOSITES
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
                    if trailing_name(arg):
                        err(
                            f"a block call takes no trailing layers: put `{trailing_name(arg)}` on a line of its own",
                            arg.span,
                            code="syntax",
                        )
            elif name in words.COMPOSITES:
                err(
                    f"`{name}` needs an indented body: end the line with `:`",
                    head.name_span,
                    code="syntax",
                )
            elif name in OPS:
                p = layers.plan(OPS[name], head.args, head.name_span)
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


def trailing_name(arg: S.Arg) -> str | None:
    """`relu` or `leakyrelu(0.1)` written as an argument: the layer's name, else None."""
    name = arg.name if isinstance(arg, S.Name) else arg.func if isinstance(arg, S.Call) else None
    return name if name in OPS and OPS[name].trailing else None
