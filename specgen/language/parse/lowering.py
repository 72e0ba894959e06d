"""The parser's callbacks: Lark's reductions lowered to `syntax` nodes as the parser
reduces (no second recursive walk, so deep input cannot exhaust the stack), with the
limits on numbers and nesting checked as each node is built."""

from __future__ import annotations

import contextvars
import dataclasses
import re
from collections.abc import Callable

from lark import Token, Transformer
from lark.exceptions import LarkError

from ... import limits
from ...errors import Span
from .. import syntax as S


class _Limit(Exception):
    """Raised from a parser callback when input exceeds a limit; becomes a SpecError."""

    def __init__(self, message: str, span: Span, code: str = "limit"):
        super().__init__(message)
        self.span, self.code = span, code


# the imported file being parsed (its spans carry its path), or None for the spec itself
_FILE: contextvars.ContextVar[str | None] = contextvars.ContextVar("specgen_file", default=None)


def _tok_span(tok: Token) -> Span:
    return Span(tok.line, tok.column, tok.end_line, tok.end_column, _FILE.get())


def _span(*parts) -> Span:
    """The span from the first to the last part that has a position."""
    spans = []
    for p in parts:
        if isinstance(p, Token):
            spans.append(_tok_span(p))
        elif isinstance(p, Span):
            spans.append(p)
        elif p is not None and hasattr(p, "span"):
            spans.append(p.span)
    return spans[0].to(spans[-1])


def _depth(*children) -> int:
    depth = 1 + max((getattr(c, "depth", 0) for c in children), default=0)
    if depth > limits.MAX_EXPR_DEPTH:
        raise _Limit(
            f"expression nested more than {limits.MAX_EXPR_DEPTH} levels deep", _span(*children)
        )
    return depth


def _step_keyword(func: str, given: tuple, args: tuple, keywords: list) -> tuple:
    """`range(a, b, step=s)` and `uniform(a, b, step=s)` (search domains read better with
    the keyword) are their three-argument forms; no other call takes a keyword."""
    first = keywords[0]
    if len(keywords) > 1 and keywords[1].name == first.name:
        raise _Limit(f"`{first.name}=` is given twice", keywords[1].span, "syntax")
    if first.name == "step" and func in ("range", "uniform") and len(args) >= 3:
        raise _Limit(
            "the step is given twice (as an argument and as `step=`)", first.span, "syntax"
        )
    if func not in ("range", "uniform") or first.name != "step" or len(keywords) > 1:
        bad = first if func not in ("range", "uniform") or first.name != "step" else keywords[1]
        raise _Limit(
            f"{func}() takes no keyword argument `{bad.name}`"
            + (" (only range() and uniform() take `step=`)" if bad.name == "step" else ""),
            bad.span,
            "syntax",
        )
    if given[-1] is not first:
        raise _Limit("`step=` must come last", first.span, "syntax")
    if len(args) != 2:
        raise _Limit(f"{func}(start, stop, step=...) needs start and stop", first.span, "syntax")
    return args + (first.value,)


def _present(items) -> tuple:
    return tuple(i for i in items if i is not None)


class _Builder(Transformer):
    """LALR callbacks that build `syntax` nodes as the parser reduces; `holes` parses the
    text of a quoted path's `{expr}` (the parser is built from these callbacks, so it is
    given, not imported)."""

    def __init__(self, holes: Callable[[str], S.Expr] | None = None) -> None:
        super().__init__()
        self.holes = holes

    # expressions
    def int(self, c):
        if len(c[0]) > limits.MAX_DIGITS or int(c[0]) > limits.MAX_INT:
            raise _Limit(f"number {str(c[0])[:24]} is too large (limit 2**53)", _tok_span(c[0]))
        return S.Num(int(c[0]), _tok_span(c[0]))

    def float(self, c):
        value = float(c[0])
        if not value <= limits.MAX_INT:
            raise _Limit(f"number {str(c[0])[:24]} is too large (limit 2**53)", _tok_span(c[0]))
        return S.Num(value, _tok_span(c[0]))

    def name(self, c):
        return S.Name(str(c[0]), _tok_span(c[0]))

    def dims(self, c):
        return _dims(c[0])

    def _binop(op):  # noqa: N805 - a factory used in the class body
        def build(self, c):
            return S.BinOp(op, c[0], c[1], _span(c[0], c[1]), _depth(c[0], c[1]))

        return build

    add, sub, mul, div = _binop("+"), _binop("-"), _binop("*"), _binop("/")
    floordiv, mod, pow = _binop("//"), _binop("%"), _binop("**")

    def neg(self, c):
        return S.Neg(c[1], _span(c[0], c[1]), _depth(c[1]))

    def pos(self, c):
        return c[0]

    def call(self, c):
        given = _present(c[1:-1])
        args = tuple(a for a in given if not isinstance(a, S.KwArg))
        keywords = [a for a in given if isinstance(a, S.KwArg)]
        if keywords:
            args = _step_keyword(str(c[0]), given, args, keywords)
        return S.Call(str(c[0]), args, _span(c[0], c[-1]), _depth(*args))

    def index(self, c):
        return S.Index(c[0], c[1], _span(c[0], c[1]), _depth(c[0], c[1]))

    def slice(self, c):
        target, start, stop, step = c
        parts = [e for e in (start, stop, step) if e is not None]
        return S.Slice(target, start, stop, step, _span(target, *parts), _depth(target, *parts))

    def list(self, c):
        items = _present(c[1:-1])
        return S.ListExpr(items, _span(c[0], c[-1]), _depth(*items))

    def pair(self, c):
        return (c[0], c[1])

    def compare(self, c):
        operands, ops = tuple(c[0::2]), tuple(str(t) for t in c[1::2])
        return S.Compare(ops, operands, _span(c[0], c[-1]), _depth(*operands))

    def or_(self, c):
        return S.BoolOp("or", c[0], c[1], _span(c[0], c[1]), _depth(c[0], c[1]))

    def and_(self, c):
        return S.BoolOp("and", c[0], c[1], _span(c[0], c[1]), _depth(c[0], c[1]))

    def not_(self, c):
        return S.Not(c[0], c[0].span, _depth(c[0]))

    def cond(self, c):
        then, test, orelse = c
        return S.Cond(test, then, orelse, _span(then, orelse), _depth(test, then, orelse))

    def targets(self, c):
        names = tuple(str(t) for t in c)
        if len(set(names)) != len(names):
            raise _Limit("a loop names the same variable twice", _span(*c), "syntax")
        return names, _span(*c)

    def comp_if(self, c):
        return c[0]

    def comp_for(self, c):
        (targets, span), iterable, conds = c[0], c[1], tuple(c[2:])
        return S.CompFor(targets, iterable, conds, _span(span, iterable, *conds))

    def listcomp(self, c):
        element, clauses = c[1], tuple(c[2:-1])
        parts = [element] + [e for f in clauses for e in (f.iterable, *f.conds)]
        return S.ListComp(element, clauses, _span(c[0], c[-1]), _depth(*parts))

    def map(self, c):
        pairs = _present(c[1:-1])
        flat = [x for p in pairs for x in p]
        return S.MapExpr(pairs, _span(c[0], c[-1]), _depth(*flat))

    # arguments and statements
    def kwarg(self, c):
        return S.KwArg(str(c[0]), c[1], _span(c[0], c[1]), _tok_span(c[0]))

    def call_args(self, c):
        return _present(c)

    def head(self, c):
        name, call_args, items = c[0], c[1], tuple(c[2:])
        return S.Head(
            str(name), _tok_span(name), call_args, items, _span(name, *(call_args or ()), *items)
        )

    def repeat(self, c):
        return c[0]

    def alias(self, c):
        tok = c[0]
        if tok.type == "STRING":
            return _path(tok, self.holes), _tok_span(tok)
        return str(tok), _tok_span(tok)

    def simple_stmt(self, c):
        head, repeat, alias = c
        name, span = alias if alias is not None else (None, None)
        return S.Simple(head, repeat, _span(head, repeat), name, span)

    def compound_stmt(self, c):
        head, body = c
        depth = 1 + max((getattr(s, "depth", 0) for s in body), default=0)
        if depth > limits.MAX_NESTING:
            raise _Limit(f"composites nested more than {limits.MAX_NESTING} deep", head.span)
        return S.Compound(head, body, head.span, depth)

    def body(self, c):
        return tuple(c)

    def _nested(self, bodies, span: Span) -> int:
        depth = 1 + max((getattr(s, "depth", 0) for b in bodies for s in b), default=0)
        if depth > limits.MAX_NESTING:
            raise _Limit(f"composites nested more than {limits.MAX_NESTING} deep", span)
        return depth

    def elif_clause(self, c):
        return c[0], c[1]

    def else_clause(self, c):
        return None, c[0]

    def if_stmt(self, c):
        test, body, rest = c[0], c[1], [b for b in c[2:] if b is not None]
        branches = ((test, body), *rest)
        return S.If(branches, test.span, self._nested([b for _, b in branches], test.span))

    def for_stmt(self, c):
        (targets, span), iterable, body = c
        span = _span(span, iterable)
        return S.For(targets, iterable, body, span, self._nested([body], span))

    def assert_stmt(self, c):
        test, message = c
        return S.Assert(test, None if message is None else str(message)[1:-1], test.span)

    def constraint_stmt(self, c):
        test, message = c
        return S.Constraint(test, None if message is None else str(message)[1:-1], test.span)

    def objective_stmt(self, c):
        direction, expr = c
        return S.Objective(str(direction), expr, _span(direction, expr))

    def let_stmt(self, c):
        return S.Let(str(c[0]), c[1], _span(c[0], c[1]), _tok_span(c[0]))

    def param(self, c):
        name, domain, default = c
        return S.Param(str(name), default, _span(name, domain, default), domain)

    def params(self, c):
        return _present(c)

    def block_def(self, c):
        name, params, body = c
        for q in params or ():
            if q.domain is not None:
                raise _Limit(
                    f"block parameter `{q.name}` cannot declare a search domain: only the "
                    "network's parameters are searched",
                    q.domain.span,
                    "syntax",
                )
        return S.BlockDef(
            str(name), params or (), body, _span(name, *(params or ())), _tok_span(name)
        )

    def network_decl(self, c):
        return c[0], c[1] or ()

    def shape_dims(self, c):
        dims = _dims(c[0])
        if len(dims.values) != 3:
            raise _Limit("the input shape needs three sizes: CxHxW", dims.span, "syntax")
        return tuple(S.Num(v, dims.span) for v in dims.values), dims.span

    def shape_terms(self, c):
        return tuple(c), _span(*c)

    def input_decl(self, c):
        return c[0]

    def layers_decl(self, c):
        return c[0]

    def start(self, c):
        (name, params), (shape, shape_span) = c[0], c[1]
        defs, body = c[2:-1], c[-1]
        return S.Program(
            name=str(name),
            name_span=_tok_span(name),
            params=params,
            input=shape,
            input_span=shape_span,
            lets=tuple(d for d in defs if isinstance(d, S.Let | S.Assert)),
            blocks=tuple(d for d in defs if isinstance(d, S.BlockDef)),
            body=body,
            layers_span=_span(*body),
            imports=tuple(d for d in defs if isinstance(d, S.Import)),
            constraints=tuple(d for d in defs if isinstance(d, S.Constraint)),
            objectives=tuple(d for d in defs if isinstance(d, S.Objective)),
        )

    def import_stmt(self, c):
        return S.Import(str(c[0])[1:-1], _tok_span(c[0]))

    def library(self, c):
        for d in c:
            if not isinstance(d, S.BlockDef | S.Import):
                what = {S.Let: "`let`", S.Assert: "`assert`", S.Objective: "`objective`"}.get(
                    type(d), "`constraint`"
                )
                raise _Limit(
                    f"an imported file holds blocks and imports only, not {what}",
                    d.name_span if isinstance(d, S.Let) else d.span,
                    "syntax",
                )
        return S.Library(
            tuple(d for d in c if isinstance(d, S.Import)),
            tuple(d for d in c if isinstance(d, S.BlockDef)),
        )


def _dims(tok: Token) -> S.Dims:
    parts = str(tok).split("x")
    if any(len(p) > limits.MAX_DIGITS for p in parts):
        raise _Limit(f"number in `{tok}` is too large", _tok_span(tok))
    return S.Dims(tuple(int(p) for p in parts), _tok_span(tok))


# ---- `as "PATH"` ---------------------------------------------------------------------------

_LITERAL = re.compile(r"[A-Za-z0-9_-]+")


def _path(tok: Token, holes: Callable[[str], S.Expr] | None) -> S.Path:
    """`"layer{stage + 1}.*"` as parts of literal text and `{expr}` holes.  A hole is parsed
    as an expression with its own spans (columns inside the string); `*` stands alone."""
    text = str(tok)[1:-1]
    line, first = tok.line, tok.column + 1  # the column of text[0]

    def where(i: int, j: int) -> Span:
        return Span(line, first + i, line, first + max(j, i + 1), _FILE.get())

    parts: list[tuple[str | S.Expr, ...] | None] = []
    pieces: list[str | S.Expr] = []
    start = i = 0
    while True:
        if i == len(text) or text[i] == ".":
            if not pieces:
                raise _Limit("a path's parts cannot be empty", where(start, i), "syntax")
            if "*" in pieces:
                if pieces != ["*"]:
                    raise _Limit(
                        "`*` stands alone in a part of a path (`layer1.*`)",
                        where(start, i),
                        "syntax",
                    )
                parts.append(None)
            else:
                parts.append(tuple(pieces))
            if i == len(text):
                break
            pieces, start, i = [], i + 1, i + 1
        elif text[i] == "{":
            depth, j = 1, i + 1
            while j < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise _Limit("this `{` is never closed", where(i, i + 1), "syntax")
            hole = text[i + 1 : j - 1]
            pieces.append(_hole(hole, line, first + i + 1, where(i, j), holes))
            i = j
        elif text[i] == "*":
            pieces.append("*")
            i += 1
        else:
            found = _LITERAL.match(text, i)
            if found is None:
                raise _Limit(
                    f"`{text[i]}` cannot be part of a path: parts are letters, digits, `_` "
                    "and `-`, `{expr}` and `*`",
                    where(i, i + 1),
                    "syntax",
                )
            pieces.append(found.group())
            i = found.end()
    return S.Path(tuple(parts), _tok_span(tok), text)


def _hole(
    text: str, line: int, column: int, span: Span, holes: Callable[[str], S.Expr] | None
) -> S.Expr:
    """The expression of a `{hole}`, its spans where it stands in the file."""
    if not text.strip():
        raise _Limit("`{}` needs an expression", span, "syntax")
    if holes is None:
        raise _Limit("a path cannot stand here", span, "syntax")
    try:
        expr = holes(" " * (column - 1) + text)
    except LarkError:
        raise _Limit("this is not an expression", span, "syntax") from None
    return _shifted(expr, line - 1)


def _shifted(node, lines: int):
    """`node` with every span moved down `lines` lines."""
    if lines == 0:
        return node
    if type(node) is Span:
        return dataclasses.replace(node, line=node.line + lines, end_line=node.end_line + lines)
    if type(node) is tuple:
        return tuple(_shifted(n, lines) for n in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {
            f.name: _shifted(getattr(node, f.name), lines) for f in dataclasses.fields(node)
        }
        return dataclasses.replace(node, **changes)
    return node
