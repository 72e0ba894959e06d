"""What every emitter shares: safe names, the Jinja2 environment, black, doc summaries.

Only names that passed the grammar's identifier rule and the reserved-word checks, and numbers,
reach generated code; `class_names` still guarantees unique, keyword-safe class names.
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import black
import jinja2

from .. import __version__, ir
from ..parse import resource_dir
from ..values import format_value

_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9_.\- ]{1,100}$")


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


BLACK_MODE = black.Mode()  # black's defaults, so the output passes `black --check` anywhere


def format_code(code: str) -> str:
    return black.format_str(code, mode=BLACK_MODE)


def camel(name: str) -> str:
    """`bottleneck_res` -> `BottleneckRes`."""
    parts = [p for p in name.split("_") if p]
    return "".join(p[0].upper() + p[1:] for p in parts) or "Block"


def instance_names(
    keys: list[tuple[str, Any]], reserved: set[str], style: Callable[[str, int | None], str]
) -> dict[Any, str]:
    """One generated name per distinct instantiation key: `style(block, None)` when a block
    has one instantiation, `style(block, 1)`, `style(block, 2)`, ... when it has several;
    never a reserved word, keyword or builtin."""
    per_block: dict[str, list[Any]] = {}
    for block, key in keys:
        bucket = per_block.setdefault(block, [])
        if key not in bucket:
            bucket.append(key)
    used = set(reserved)
    names: dict[Any, str] = {}
    for block, bucket in per_block.items():
        for i, key in enumerate(bucket, 1):
            name = style(block, None if len(bucket) == 1 else i)
            while name in used or keyword.iskeyword(name) or hasattr(builtins, name):
                name += "_"
            used.add(name)
            names[key] = name
    return names


def class_style(block: str, index: int | None) -> str:
    """`Unit`, or `Unit1`, `Unit2`, ..."""
    return camel(block) + ("" if index is None else str(index))


@functools.lru_cache(maxsize=64)
def _compiled(code: str, label: str):
    return compile(code, label, "exec")


def run_source(code: str, module_name: str, label: str) -> dict[str, Any]:
    """Execute generated source in a fresh namespace (code objects cached by text)."""
    namespace: dict[str, Any] = {"__name__": module_name}
    exec(_compiled(code, label), namespace)  # noqa: S102 - our own generated, validated source
    return namespace


def block_keys(net: Any) -> list[tuple[str, Any]]:
    """(block name, instance key) of every block instantiation, callees before callers."""
    keys: list[tuple[str, Any]] = []
    seen: set[int] = set()

    def visit(node: ir.Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for _, child in ir.children(node):
            visit(child)
        if isinstance(node, ir.Block):
            keys.append((node.name, instance_key(node)))

    visit(net.ir.body)
    return keys


def instance_key(node: ir.Block) -> tuple:
    """Instantiations with the same block, argument values and input shape are identical."""
    return (node.name, format_value(tuple(v for _, v in node.args)), node.in_shape)


def call_text(name: str, args: tuple[tuple[str, Any], ...]) -> str:
    return f"{name}({', '.join(f'{k}={format_value(v)}' for k, v in args)})"


@dataclass(frozen=True)
class DocInfo:
    title: str
    version: str
    source: str
    input: str
    output: str
    params: str
    macs: str
    flat: bool


def doc_info(net: Any) -> DocInfo:
    """The summary every generated file opens with."""
    filename = net.source.filename.replace("\\", "/").rsplit("/", 1)[-1]
    source = filename if _SAFE_FILENAME.match(filename) and not filename.startswith("<") else ""
    out = net.output_shape
    return DocInfo(
        title=f"{call_text(net.name, net.ir.params)}: {net.input_shape} -> {out}.",
        version=__version__,
        source=source,
        input=str(net.input_shape),
        output=str(out),
        params=f"{net.cost.params:,}",
        macs=f"{net.cost.macs:,}",
        flat=out.h == 1 and out.w == 1,
    )


class Vars:
    """Fresh local variable names for one generated function."""

    def __init__(self, taken: set[str]) -> None:
        self.used = set(taken)

    def fresh(self, base: str, numbered: bool = False) -> str:
        name, k = (f"{base}1", 1) if numbered else (base, 0)
        while name in self.used:
            k += 1
            name = f"{base}{k}"
        self.used.add(name)
        return name


def branch_children(name: str, node: ir.Node) -> tuple[ir.Named, ...]:
    """A branch as a statement list: its children if it is a group, else the node itself."""
    return node.children if type(node) is ir.Seq else ((name, node),)


def needs_4d(node: ir.Node) -> bool:
    return isinstance(node, ir.Conv | ir.IGC | ir.Shuffle | ir.Pool | ir.GlobalPool)


class BodyWriter:
    """Writes the statements of one generated function (a forward method, a block builder):
    layers in order, and residual / add / concat / split spelled out with local variables.

    A target supplies the line formats.  Ranks: 4 for maps, 2 for the (N, C) tensors that `fc`
    and `flatten` give; a layer that needs a map gets one back through `to_map`.
    """

    def __init__(self, lines: list[str], names: Vars):
        self.lines = lines
        self.names = names

    # ---- supplied by the target ----------------------------------------------------------
    def layer(self, name: str, node: ir.Node, arg: str, out: str, rank: int, owned: bool) -> int:
        """Append the lines applying `node` to `arg` into `out`; return the new rank."""
        raise NotImplementedError

    def to_map(self, var: str, out: str, shape: ir.Shape) -> None:
        raise NotImplementedError

    def merge(self, kind: str, name: str, out: str, parts: list[str], node: ir.Node) -> None:
        """`out` = sum ("add") or channel concatenation ("cat") of `parts`."""
        raise NotImplementedError

    def split(self, name: str, parts: list[str], var: str, sizes: tuple[int, ...]) -> None:
        raise NotImplementedError

    # ---- shared ----------------------------------------------------------------------------
    def seq(self, children, cur: str, out: str, rank: int) -> tuple[str, int]:
        """Emit `children` applied in order to `cur`, results in `out`: (variable, rank)."""
        owned = False  # does `cur` hold a tensor of this sequence's own (safe to overwrite)?
        for name, node in children:
            t = type(node)
            if isinstance(node, ir.TRANSPARENT):
                cur, rank = self.composite(name, node, cur, out, rank)
                owned = t is not ir.Seq and not (t is ir.Add and len(node.branches) == 1)
                continue
            if rank == 2 and (t is ir.Block or t is ir.SepConv or needs_4d(node)):
                self.to_map(cur, out, node.in_shape)
                cur, rank = out, 4
            rank = self.layer(name, node, cur, out, rank, owned)
            cur = out
            # an activation's output is new, or (in place) the tensor it was allowed to overwrite
            owned = isinstance(node, FRESH) or t is ir.Act
        return cur, rank

    def composite(self, name: str, node: ir.Node, cur: str, out: str, rank: int):
        if rank == 2:
            self.to_map(cur, out, node.in_shape)
            cur, rank = out, 4
        t = type(node)
        if t is ir.Seq:
            return self.seq(node.children, cur, out, rank)
        if t is ir.Residual:
            body = self.branch(node.body.children, cur, self.names.fresh("out"))
            short = cur
            if node.shortcut is not None and node.shortcut.children:
                short = self.branch(node.shortcut.children, cur, self.names.fresh("shortcut"))
            self.merge("add", name, out, [body, short], node)
            return out, 4
        if t is ir.Split:
            parts = [self.names.fresh("part", True) for _ in node.sizes]
            self.split(name, parts, cur, node.sizes)
            results = [
                self.branch(branch_children(n, b), p, p)
                for p, (n, b) in zip(parts, node.branches, strict=True)
            ]
        else:
            results = [
                self.branch(branch_children(n, b), cur, self.names.fresh("branch", True))
                for n, b in node.branches
            ]
        self.merge("add" if t is ir.Add else "cat", name, out, results, node)
        return out, 4

    def branch(self, children, cur: str, out: str) -> str:
        var, rank = self.seq(children, cur, out, 4)
        if rank == 2:
            last = children[-1][1] if children else None
            self.to_map(var, var, last.out_shape if last is not None else ir.Shape(0, 1, 1))
        return var


# layers whose output is a tensor of their own, which a following activation may overwrite
FRESH = (ir.Conv, ir.IGC, ir.BatchNorm, ir.Linear, ir.Pool, ir.GlobalPool)
