"""Pass 1 — parse: .conv text → `syntax.Program`.

The Lark LALR parser is built once per process, and its callbacks build the syntax tree
during parsing (no second recursive walk, so deep input cannot exhaust the stack).  `parse`
is cached by text, so a search loop that compiles one spec with many parameter values pays
for parsing once.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import Indenter

from .. import limits
from ..errors import Diagnostic, Source, Span, SpecError
from . import syntax as S


def resource_dir(name: str) -> Path:
    """Where `grammar/` or `templates/` is: inside the installed package, or in the checkout."""
    package = Path(__file__).resolve().parent.parent  # specgen/
    installed = package / name
    return installed if installed.is_dir() else package.parent / name


class _Limit(Exception):
    """Raised from a parser callback when input exceeds a limit; becomes a SpecError."""

    def __init__(self, message: str, span: Span, code: str = "limit"):
        super().__init__(message)
        self.span, self.code = span, code


class _BadIndent(Exception):
    def __init__(self, line: int, column: int):
        super().__init__("bad indentation")
        self.line, self.column = line, column


class _ConvIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB", "LBRACE"]
    CLOSE_PAREN_types = ["RPAR", "RSQB", "RBRACE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token: Token):  # noqa: N802 - Lark's name
        if self.paren_level > 0:
            return
        yield token
        indent_str = token.rsplit("\n", 1)[1]
        indent = len(indent_str)
        if indent > self.indent_level[-1]:
            self.indent_level.append(indent)
            yield Token.new_borrow_pos(self.INDENT_type, indent_str, token)
            return
        while indent < self.indent_level[-1]:
            self.indent_level.pop()
            yield Token.new_borrow_pos(self.DEDENT_type, indent_str, token)
        if indent != self.indent_level[-1]:
            raise _BadIndent(token.end_line, indent + 1)

    def _process(self, stream):
        token = None
        for token in stream:
            if token.type == self.NL_type:
                yield from self.handle_NL(token)
            else:
                yield token
            if token.type in self.OPEN_PAREN_types:
                self.paren_level += 1
            elif token.type in self.CLOSE_PAREN_types:
                self.paren_level = max(0, self.paren_level - 1)
        while len(self.indent_level) > 1:
            self.indent_level.pop()
            yield (
                Token.new_borrow_pos(self.DEDENT_type, "", token)
                if token
                else Token(self.DEDENT_type, "", 0, 0, 0, 0, 0, 0)
            )


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
    """LALR callbacks that build `syntax` nodes as the parser reduces."""

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
        return str(c[0]), _tok_span(c[0])

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
        )

    def import_stmt(self, c):
        return S.Import(str(c[0])[1:-1], _tok_span(c[0]))

    def library(self, c):
        for d in c:
            if not isinstance(d, S.BlockDef | S.Import):
                what = {S.Let: "`let`", S.Assert: "`assert`"}.get(type(d), "`constraint`")
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


_PARSING = threading.Lock()


@functools.cache
def _parser() -> Lark:
    grammar = (resource_dir("grammar") / "specgen.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        postlex=_ConvIndenter(),
        transformer=_Builder(),
        maybe_placeholders=True,
        start=["start", "expr", "library"],
        cache=False,
    )


_TOKEN_NAMES = {
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "end of the indented block",
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "DIMS": "a size like 3x3",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "COMMA": "`,`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "X": "`x`",
    "STRING": 'a "message"',
    "COMPARE": "a comparison",
    "$END": "end of file",
}


def _describe(expected: set[str]) -> str:
    names = sorted({_TOKEN_NAMES.get(t, _keyword(t)) for t in expected})
    if len(names) > 6:
        names = names[:6] + ["..."]
    return ", ".join(names)


def _keyword(terminal: str) -> str:
    keywords = {"NETWORK": "network", "INPUT": "input", "LET": "let", "BLOCK": "block"}
    keywords |= {"LAYERS": "layers", "PLUS": "+", "MINUS": "-", "STAR": "*", "SLASH": "/"}
    keywords |= {"PERCENT": "%", "DOUBLESLASH": "//", "DOUBLESTAR": "**", "COMPARE": "=="}
    return f"`{keywords.get(terminal, terminal.lower())}`"


def _syntax_error(err: UnexpectedInput, source: Source) -> Diagnostic:
    line, column = max(1, err.line if err.line > 0 else 1), max(1, err.column)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            line = _last_line(source)
            column = max(1, len(source.line_text(line)) + 1)
        elif tok.type in ("_INDENT", "_DEDENT") and tok.end_line:
            line, column = tok.end_line, max(1, tok.end_column)
            last = _last_line(source)
            if line > last:  # the end of a file without a final line break: its last line
                line, column = last, max(1, len(source.line_text(last)) + 1)
        what = {
            "_NL": "end of line",
            "$END": "end of file",
            "_INDENT": "indentation",
            "_DEDENT": "end of the indented block",
        }.get(tok.type, f"`{tok}`")
        span = Span(
            line,
            column,
            line,
            column
            + max(
                1, len(str(tok)) if tok.type not in ("_NL", "$END", "_INDENT", "_DEDENT") else 1
            ),
        )
        hint = None
        if tok.type == "_INDENT":
            hint = "only the line after one ending in `:` may be indented further"
        expected = f"; expected {_describe(err.expected)}" if err.expected else ""
        return Diagnostic(f"unexpected {what}{expected}", span, hint, code="syntax")
    if isinstance(err, UnexpectedCharacters):
        char = source.line_text(line)[column - 1 : column] or "?"
        return Diagnostic(
            f"unexpected character `{char}`", Span(line, column, line, column + 1), code="syntax"
        )
    if isinstance(err, UnexpectedEOF):
        line = _last_line(source)
        return Diagnostic("unexpected end of file", Span(line, 1, line, 2), code="syntax")
    return Diagnostic(str(err).split("\n")[0], Span(line, column, line, column + 1), code="syntax")


def normalize(text: str) -> str:
    """Spec text as the parser reads it: no byte-order mark, `\n` line ends."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _unclosed(text: str) -> Span | None:
    """The first `(`, `[` or `{` (outside comments) that is never closed, if any."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[tuple[str, int, int]] = []
    for number, line in enumerate(text.split("\n"), 1):
        for col, ch in enumerate(line, 1):
            if ch == "#":
                break
            if ch in "([{":
                stack.append((ch, number, col))
            elif ch in pairs:
                if not stack or stack[-1][0] != pairs[ch]:
                    return None  # a stray closer: the parser's own message is better
                stack.pop()
    if not stack:
        return None
    _, line, col = stack[0]
    return Span(line, col, line, col + 1)


def _last_line(source: Source) -> int:
    """The last line that has text (for errors at the end of the input)."""
    lines = source.text.rstrip("\n").split("\n")
    return max(1, len(lines))


def _precheck(source: Source, empty_ok: bool = False) -> None:
    text = source.text
    if len(text) > limits.MAX_SOURCE_CHARS:
        raise SpecError(
            [
                Diagnostic(
                    f"spec is larger than {limits.MAX_SOURCE_CHARS} characters", code="limit"
                )
            ],
            source,
        )
    if "\x00" in text:
        raise SpecError(
            [Diagnostic("this is a binary file, not a .conv spec", code="binary")], source
        )
    if not text.strip() and not empty_ok:
        raise SpecError(
            [Diagnostic("spec is empty: it needs `network`, `input` and `layers:`", code="empty")],
            source,
        )
    lines = text.split("\n")
    if len(lines) > limits.MAX_SOURCE_LINES:
        message = f"spec has more than {limits.MAX_SOURCE_LINES} lines"
        raise SpecError([Diagnostic(message, code="limit")], source)
    problems = []
    for number, line in enumerate(lines, 1):
        stripped = line.lstrip(" ")
        if not stripped.strip(" \t\f") or stripped.lstrip(" \t\f").startswith("#"):
            continue  # blank and comment-only lines do not count for indentation
        if stripped.startswith("\t") or (stripped[:1] in ("\f",)):
            col = len(line) - len(stripped) + 1
            problems.append(
                Diagnostic(
                    "indent with spaces, not tabs",
                    Span(number, col, number, col + 1),
                    code="syntax",
                )
            )
    if problems:
        raise SpecError(problems[:10], source)


def parse_value(text: str, name: str) -> object:
    """A value written on the command line (`--set g=8`, `--set widths=[16, 32]`)."""
    from .expr import EvalError, evaluate

    source = Source(text, f"--set {name}")
    if not text.strip():
        raise SpecError([Diagnostic(f"no value given for `{name}`", code="syntax")], source)
    try:
        with _PARSING:
            tree = _parser().parse(text, start="expr")
        return evaluate(tree, {})
    except _Limit as err:
        raise SpecError([Diagnostic(str(err), err.span, code="limit")], source) from None
    except UnexpectedInput as err:
        raise SpecError([_syntax_error(err, source)], source) from None
    except EvalError as err:
        raise SpecError(
            [Diagnostic(err.message, err.span, err.hint, code=err.code)], source
        ) from None


def parse_expression(text: str, name: str) -> S.Expr:
    """An expression written outside a spec (`--objective 'max:M * L'`, a constraint given
    to the search API), reported under `name`."""
    source = Source(text, name)
    if not text.strip():
        raise SpecError([Diagnostic(f"no expression given for {name}", code="syntax")], source)
    try:
        with _PARSING:
            return _parser().parse(text, start="expr")
    except _Limit as err:
        raise SpecError([Diagnostic(str(err), err.span, code="limit")], source) from None
    except UnexpectedInput as err:
        raise SpecError([_syntax_error(err, source)], source) from None


# ---- caches by source text -----------------------------------------------------------------

# What a cache entry holds, per character of the text(s) it was computed from: a parse tree
# takes 50-110 bytes a character (tracemalloc; the denser the tokens, the more), an analysis
# as much again, and the block instantiations an analysis keeps after a compile ~40 more.
# Bounded by entries, the caches could hold 512 specs of 100,000 characters (~5 GiB in a
# long-running process); bounded by characters, each holds at most CACHE_CHARS of text
# (~55-125 MB).
CACHE_CHARS = 500_000
CACHE_ENTRIES = 512


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    entries: int
    chars: int


R = TypeVar("R")


class TextCache:
    """A thread-safe LRU cache of results computed from source texts, bounded by the total
    size of those texts as well as by the number of entries.  Failures (SpecError) are not
    cached, as with functools.lru_cache."""

    def __init__(self, chars: int = CACHE_CHARS, entries: int = CACHE_ENTRIES) -> None:
        self.max_chars, self.max_entries = chars, entries
        self._data: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._chars = self.hits = self.misses = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        """The value cached under `key`, or None.  Without the lock: the OrderedDict's own
        operations are atomic, and an entry evicted meanwhile only costs its move."""
        found = self._data.get(key)
        if found is None:
            self.misses += 1
            return None
        try:  # noqa: SIM105 - contextlib.suppress is slower on this hot path
            self._data.move_to_end(key)
        except KeyError:
            pass
        self.hits += 1
        return found[0]

    def put(self, key: Any, value: Any, chars: int) -> None:
        """Keep `value`, computed from `chars` characters of text, evicting the least
        recently used entries as needed (a value larger than the whole cache is not kept)."""
        if chars > self.max_chars:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._chars -= old[1]
            self._data[key] = (value, chars)
            self._chars += chars
            while self._chars > self.max_chars or len(self._data) > self.max_entries:
                _, (_, gone) = self._data.popitem(last=False)
                self._chars -= gone

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self.hits, self.misses, len(self._data), self._chars)

    def cache_clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._chars = 0


def cached_by_text(chars: Callable[..., int]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate a function of texts with a TextCache; `chars(*args)` is the size of the texts
    its arguments hold.  The function keeps `cache_info()` and `cache_clear()`."""

    def wrap(fn: Callable[..., R]) -> Callable[..., R]:
        cache = TextCache()

        data = cache._data  # the hit path inline: a search loop takes it twice a compile

        @functools.wraps(fn)
        def cached(*args: Any, **kwargs: Any) -> R:
            key = (args, tuple(sorted(kwargs.items()))) if kwargs else args
            found = data.get(key)
            if found is not None:
                try:  # noqa: SIM105 - contextlib.suppress is slower on this hot path
                    data.move_to_end(key)
                except KeyError:
                    pass
                cache.hits += 1
                return found[0]
            cache.misses += 1
            value = fn(*args, **kwargs)
            cache.put(key, value, chars(*args, **kwargs))
            return value

        cached.cache = cache  # type: ignore[attr-defined]
        cached.cache_info = cache.cache_info  # type: ignore[attr-defined]
        cached.cache_clear = cache.cache_clear  # type: ignore[attr-defined]
        return cached

    return wrap


@cached_by_text(lambda text, filename="<spec>": len(text))
def parse(text: str, filename: str = "<spec>") -> S.Program:
    """Parse .conv text into a `syntax.Program`, or raise `SpecError` with the place."""
    return _parse(text, filename, "start")


@cached_by_text(lambda text, path: len(text))
def parse_library(text: str, path: str) -> S.Library:
    """Parse an imported file; its spans carry `path` so that mistakes found later, in the
    blocks it defines, are shown in it."""
    token = _FILE.set(path)
    try:
        return _parse(text, path, "library")
    finally:
        _FILE.reset(token)


def _parse(text: str, filename: str, start: str):
    text = normalize(text)
    source = Source(text, filename)
    _precheck(source, empty_ok=start == "library")
    normalized = text if text.endswith("\n") else text + "\n"
    try:
        with _PARSING:  # one parser per process, and its indenter keeps state on itself
            return _parser().parse(normalized, start=start)
    except _Limit as err:
        raise SpecError([Diagnostic(str(err), err.span, code=err.code)], source) from None
    except _BadIndent as err:
        span = Span(err.line, err.column, err.line, err.column + 1)
        diag = Diagnostic(
            "this line's indentation matches no enclosing block", span, code="syntax"
        )
        raise SpecError([diag], source) from None
    except UnexpectedInput as err:
        opener = _unclosed(normalized)
        if (
            opener is not None
            and (opener.line, opener.column) <= (err.line, err.column)
            or opener is not None
            and err.line <= 0
        ):
            diag = Diagnostic("this bracket is never closed", opener, code="syntax")
        else:
            diag = _syntax_error(err, source)
        raise SpecError([diag], source) from None
    except RecursionError:
        raise SpecError([Diagnostic("spec is nested too deeply", code="limit")], source) from None
