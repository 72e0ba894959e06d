"""The abstract syntax tree of a .conv file: what was written, with where it was written.

Nodes are frozen dataclasses built by `specgen.language.parse`; nothing here is evaluated.  Expression
nodes carry their nesting `depth` so hostile input is refused before any recursive walk.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Span

# ---- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    value: int | float
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Dims:
    """A literal like `3x3` or `3x224x224`."""

    values: tuple[int, ...]
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # one of + - * / // % **
    left: Expr
    right: Expr
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Index:
    target: Expr
    index: Expr
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class MapExpr:
    pairs: tuple[tuple[Expr, Expr], ...]
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Compare:
    """`a < b <= c`: comparisons chain as in Python (each operand evaluated once)."""

    ops: tuple[str, ...]  # == != < <= > >=
    operands: tuple[Expr, ...]  # one more than ops
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # and | or (short-circuit, as in Python)
    left: Expr
    right: Expr
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Cond:
    """`then if test else orelse`."""

    test: Expr
    then: Expr
    orelse: Expr
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class CompFor:
    """One `for a, b in iterable if c` clause of a list comprehension."""

    targets: tuple[str, ...]
    iterable: Expr
    conds: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ListComp:
    element: Expr
    clauses: tuple[CompFor, ...]
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Slice:
    """`a[start:stop:step]`, each part optional, as Python slices a list."""

    target: Expr
    start: Expr | None
    stop: Expr | None
    step: Expr | None
    span: Span
    depth: int = 1

    @property
    def parts(self) -> list[Expr]:
        """The bounds written, in order."""
        return [e for e in (self.start, self.stop, self.step) if e is not None]


Expr = (
    Num | Name | Dims | BinOp | Neg | Call | Index | Slice | ListExpr | MapExpr | Compare | BoolOp
    | Not | Cond | ListComp
)  # fmt: skip

# ---- statements ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KwArg:
    name: str
    value: Expr
    span: Span  # the whole `name=value`
    name_span: Span


Arg = KwArg | Expr


@dataclass(frozen=True, slots=True)
class Head:
    """`NAME(args) items...`: a layer, a block call, or a composite's header."""

    name: str
    name_span: Span
    call_args: tuple[Arg, ...] | None  # None when written without parentheses
    items: tuple[Arg, ...]
    span: Span

    @property
    def args(self) -> tuple[Arg, ...]:
        return (self.call_args or ()) + self.items


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    value: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Path:
    """`as "layer{stage + 1}.*"`: a module path, relative to the body it is written in.  Each
    part is None for `*` (the next index of its container) or pieces glued together: literal
    text and expressions whose values (non-negative ints) are written in."""

    parts: tuple[tuple[str | Expr, ...] | None, ...]
    span: Span
    text: str  # as written, without the quotes

    @property
    def exprs(self) -> tuple[Expr, ...]:
        return tuple(p for part in self.parts if part for p in part if not isinstance(p, str))

    @property
    def appends(self) -> bool:
        """Whether the last part is `*`: every layer of the line takes the next index."""
        return self.parts[-1] is None


@dataclass(frozen=True, slots=True)
class Simple:
    head: Head
    repeat: Expr | None
    span: Span
    # `as NAME` or `as "PATH"`: the name of the line's layer or block call
    alias: str | Path | None = None
    alias_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Compound:
    head: Head
    body: tuple[Stmt, ...]
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class If:
    """`if` / `elif` / `else`: `branches` pairs each test (None for `else`) with its body."""

    branches: tuple[tuple[Expr | None, tuple[Stmt, ...]], ...]
    span: Span  # the `if` line
    depth: int = 1


@dataclass(frozen=True, slots=True)
class For:
    targets: tuple[str, ...]
    iterable: Expr
    body: tuple[Stmt, ...]
    span: Span  # the `for` line
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Assert:
    test: Expr
    message: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Constraint:
    """`constraint macs <= 150e6, "message"`: a budget over cost terms and parameters."""

    test: Expr
    message: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Objective:
    """`objective maximize params`: what a search optimizes by default."""

    direction: str  # "minimize" | "maximize"
    expr: Expr
    span: Span


Stmt = Let | Simple | Compound | If | For | Assert


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Expr | None
    span: Span
    domain: Expr | None = None  # `g: choice(1, 2, 4) = 2`: the values a search may give it


@dataclass(frozen=True, slots=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span  # the header line
    name_span: Span


@dataclass(frozen=True, slots=True)
class Import:
    path: str  # as written, relative to the importing file
    span: Span


@dataclass(frozen=True, slots=True)
class Library:
    """An imported file: blocks (and the imports they need), nothing else."""

    imports: tuple[Import, ...]
    blocks: tuple[BlockDef, ...]


@dataclass(frozen=True, slots=True)
class Program:
    name: str
    name_span: Span
    params: tuple[Param, ...]
    input: tuple[Expr, Expr, Expr]
    input_span: Span
    lets: tuple[Let | Assert, ...]  # top-level `let`s and `assert`s, in order
    blocks: tuple[BlockDef, ...]
    body: tuple[Stmt, ...]
    layers_span: Span
    imports: tuple[Import, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    objectives: tuple[Objective, ...] = ()


def holds_branch(stmt: Stmt) -> bool:
    """Whether a `for` or `if` writes `branch:` lines (directly or in a nested `for`/`if`):
    inside add/rep/concat it writes several branches, not one."""
    if type(stmt) is For:
        bodies: list[tuple[Stmt, ...]] = [stmt.body]
    elif type(stmt) is If:
        bodies = [body for _, body in stmt.branches]
    else:
        return False
    return any(
        (type(s) is Compound and s.head.name == "branch") or holds_branch(s)
        for body in bodies
        for s in body
    )
