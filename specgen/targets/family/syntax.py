"""What the family code's writer reads off a body's statements before writing it: whether it
is a plain sequence, which lines make modules, read `in`, name containers, and the names of
the flags that keep an `if`'s choice."""

from __future__ import annotations

from typing import Any

from ...language import syntax as S
from .code import ACTIVATIONS


def is_sequential(stmts: tuple[S.Stmt, ...]) -> bool:
    """Whether a body is a plain sequence at its own level (no composite), so that its
    modules run in the order the constructor registers them."""
    for s in stmts:
        t = type(s)
        if t is S.Compound or (t is S.Simple and _scales(s.head)):
            return False
        if t is S.If and not all(is_sequential(b) for _, b in s.branches):
            return False
        if t is S.For and not is_sequential(s.body):
            return False
    return True


def conditional(stmt: S.Stmt) -> bool:
    """Whether a branch of a composite holds an `if` (at its own level or in `branch:`):
    a `rep:` leaves out a branch that adds nothing, which the family code cannot tell."""
    if type(stmt) is S.If:
        return True
    return (
        type(stmt) is S.Compound
        and stmt.head.name == "branch"
        and any(type(s) is S.If for s in stmt.body)
    )


def _scales(head: S.Head) -> bool:
    """Whether a line has a `layerscale`: a bare parameter of its class, which a forward
    multiplies by (an nn.Sequential cannot apply one)."""
    if head.name == "layerscale":
        return True
    return any(
        (type(i) is S.Name and i.name == "layerscale")
        or (type(i) is S.Call and i.func == "layerscale")
        for i in head.items
    )


def next_is_bn(stmts: tuple[S.Stmt, ...], i: int) -> bool:
    if i + 1 >= len(stmts):
        return False
    nxt = stmts[i + 1]
    return type(nxt) is S.Simple and nxt.head.name == "bn" and nxt.repeat is None


def makes_modules(stmts: tuple[S.Stmt, ...]) -> bool:
    for s in stmts:
        t = type(s)
        if t is S.Simple or t is S.Compound:
            return True
        if t is S.If and any(makes_modules(b) for _, b in s.branches):
            return True
        if t is S.For and makes_modules(s.body):
            return True
    return False


def flag_name(stmt: S.If) -> str:
    """`use_residual`, `use_downsample`, `use_se`: after what the first branch makes first
    (the last written part of its path)."""
    for s in stmt.branches[0][1]:
        if type(s) is S.Compound:
            return f"use_{s.head.name}"
        if type(s) is S.Simple:
            alias = s.alias
            if type(alias) is str:
                return f"use_{alias}"
            if type(alias) is S.Path:
                written = [p for p in alias.parts if p and all(type(x) is str for x in p)]
                if written and not "".join(written[-1]).isdigit():
                    return f"use_{''.join(written[-1])}"
            return f"use_{s.head.name}"
    return "case"


def is_activation(arg: Any) -> bool:
    """Whether a trailing argument is an activation layer (`relu`, `hswish`, `leakyrelu(0.2)`)."""
    name = arg.name if type(arg) is S.Name else arg.func if type(arg) is S.Call else None
    return name in ACTIVATIONS


def reads_in(stmts: tuple[S.Stmt, ...]) -> bool:
    """Whether the statements read the spec's `in` (outside the blocks they call)."""
    from ...elaborate.analysis import _names

    found: set[str] = set()
    for stmt in stmts:
        _names(stmt, found)
    return "in" in found


def container_uses(stmts: tuple[S.Stmt, ...], out: dict[str, int] | None = None) -> dict[str, int]:
    """How many lines of a body name each static container path (`f.a` in `as "f.a.*"`)."""
    out = {} if out is None else out
    for s in stmts:
        t = type(s)
        if t is S.Simple and type(s.alias) is S.Path:
            parts = s.alias.parts[:-1]
            texts = []
            for part in parts:
                if part is None or not all(type(p) is str for p in part):
                    break
                texts.append("".join(part))
                key = ".".join(texts)
                out[key] = out.get(key, 0) + 1
        elif t is S.Compound or t is S.For:
            container_uses(s.body, out)
        elif t is S.If:
            for _, b in s.branches:
                container_uses(b, out)
    return out


def appends_only(stmts: tuple[S.Stmt, ...]) -> bool:
    """Whether every layer line and block call of a sequential body is named `as "*..."`: its
    own children are then 0, 1, 2, ... in order, and `*` is `len(self)`."""
    for s in stmts:
        t = type(s)
        if t is S.Simple and not (type(s.alias) is S.Path and s.alias.parts[0] is None):
            return False
        if t is S.For and not appends_only(s.body):
            return False
        if t is S.If and not all(appends_only(b) for _, b in s.branches):
            return False
        if t is S.Compound:
            return False
    return True
