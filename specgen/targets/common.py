"""What every emitter shares: numbers re-created from their values, the Jinja2 environment,
statements laid out as black lays them out, doc summaries and the body writer.

Only names drawn from a `NameTable` (specgen/names.py) and numbers written by `num` reach
generated code.  Formatting a whole file with black costs about a millisecond a line (minutes
for a network at the layer limit), so statements are written already formatted: one that fits
on a line stays as it is, and a longer one gets the layout black gives its *skeleton* (the same
tokens, every name, string, number and comment replaced by a placeholder of the same width).
Black's layout depends only on the kinds and widths of the tokens, so each distinct skeleton is
formatted once and cached, and the tokens are put back into black's layout.
"""

from __future__ import annotations

import functools
import keyword
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import black
import jinja2

from .. import ir
from ..language.parse import resource_dir
from ..layers.registry import LAYER_KINDS
from ..names import NameTable
from ..values import Table, format_value
from ..version import __version__

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


# ---- numbers -------------------------------------------------------------------------------


def num(value: int | float) -> str:
    """A number as Python source, re-created from its value (`int.__repr__`,
    `float.__repr__`: never the object's own `str`/`repr`/`format`), in black's normal form."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a number: {type(value).__name__}")
    if isinstance(value, int):
        return int.__repr__(int.__int__(value))
    v = float.__float__(value)
    if not math.isfinite(v):
        raise ValueError("a number in generated code must be finite")
    return float.__repr__(v).replace("e+", "e")  # black writes 1e16, not 1e+16


def grouped(value: int) -> str:
    """An integer with thousands separators (`1,234`), for docstrings."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not an integer: {type(value).__name__}")
    return f"{int.__int__(value):,}"


def literal(value: Any) -> str:
    """A spec value in .conv syntax (`[1, 2]`, `{1: 144}`, `true`), every number by `num`."""
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return num(value)
    if type(value) is tuple:
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if type(value) is Table:
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items) + "}"
    raise TypeError(f"not a spec value: {type(value).__name__}")


def shape_text(shape: ir.Shape) -> str:
    """`CxHxW`, or `C` where the model gives an (N, C) tensor (after fc or flatten)."""
    if shape.flat:
        return num(shape.c)
    return f"{num(shape.c)}x{num(shape.h)}x{num(shape.w)}"


def size(pair: tuple[int, int]) -> str:
    """A kernel, stride, padding or dilation argument: `3`, or `(1, 7)`."""
    return num(pair[0]) if pair[0] == pair[1] else f"({num(pair[0])}, {num(pair[1])})"


def call_text(name: str, args: Iterable[tuple[str, Any]]) -> str:
    """`unit(g=3, c=[1, 2])`: a block or network call, for docstrings."""
    return f"{name}({', '.join(f'{k}={literal(v)}' for k, v in args)})"


# ---- layout ----------------------------------------------------------------------------------

LINE_LENGTH = 88  # black's default
BLACK_MODE = black.Mode()  # black's defaults, so the output passes `black --check` anywhere
_TOKEN = re.compile(
    r'(?P<comment>#[^\n]*)|(?P<string>f?"[^"\\\n]*")'
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?)"
)
_SKELETONS: dict[tuple[int, str], tuple[str, ...] | None] = {}
_MAX_SKELETONS = 4096


def fits(text: str, depth: int) -> bool:
    """Whether `text` fits on one line at `depth` (4 spaces a level), as black measures."""
    return 4 * depth + len(text) <= LINE_LENGTH


def layout(statement: str, depth: int, comment: str = "", wrap: bool = True) -> list[str]:
    """The lines of one statement (with `  # comment`) at `depth`, as black formats them,
    continuation lines indented relative to the first; one line when `wrap` is False."""
    line = f"{statement}  # {comment}" if comment else statement
    if not wrap or fits(line, depth):
        return [line]
    atoms: list[str] = []
    parts: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(line):
        token = m.group()
        if m.lastgroup == "name" and keyword.iskeyword(token):
            continue
        parts.append(line[pos : m.start()])
        parts.append(_placeholder(m.lastgroup, len(token)))
        atoms.append(token)
        pos = m.end()
    parts.append(line[pos:])
    key = (depth, "".join(parts))
    if key not in _SKELETONS:
        if len(_SKELETONS) >= _MAX_SKELETONS:
            _SKELETONS.clear()
        _SKELETONS[key] = _pieces(key[1], depth, [len(a) for a in atoms])
    pieces = _SKELETONS[key]
    if pieces is None:  # black changed a placeholder: format the statement itself
        return _black(line, depth).split("\n")
    out = [pieces[0]]
    for atom, piece in zip(atoms, pieces[1:], strict=True):
        out.append(atom)
        out.append(piece)
    return "".join(out).split("\n")


def _placeholder(kind: str | None, width: int) -> str:
    if kind == "comment":
        return "# " + "z" * (width - 2) if width >= 2 else "#"
    if kind == "string":
        return '"' + "z" * (width - 2) + '"'
    return ("z" if kind == "name" else "9") * width


def _pieces(skeleton: str, depth: int, widths: list[int]) -> tuple[str, ...] | None:
    """Black's layout of `skeleton` cut around its placeholders, or None if black changed one."""
    text = _black(skeleton, depth)
    pieces: list[str] = []
    found: list[int] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.lastgroup == "name" and keyword.iskeyword(m.group()):
            continue
        pieces.append(text[pos : m.start()])
        found.append(len(m.group()))
        pos = m.end()
    pieces.append(text[pos:])
    return tuple(pieces) if found == widths else None


def _black(line: str, depth: int) -> str:
    """Black's formatting of one statement (or a `def`/`class` header) at `depth`,
    indentation relative to it."""
    head = "".join("    " * i + "if x:\n" for i in range(depth))
    body = f"{'    ' * (depth + 1)}pass\n" if line.endswith(":") else ""
    out = black.format_str(f"{head}{'    ' * depth}{line}\n{body}", mode=BLACK_MODE)
    lines = out.rstrip("\n").split("\n")[depth : -1 if body else None]
    return "\n".join(line[4 * depth :] for line in lines)


# ---- names ---------------------------------------------------------------------------------


def camel(name: str, fallback: str) -> str:
    """`bottleneck_res` -> `BottleneckRes`; prefixed with `fallback` when that would not start
    with a letter (`_1` -> `Net1`, `_` -> `Net`)."""
    text = "".join(p[0].upper() + p[1:] for p in name.split("_") if p)
    return text if text[:1].isalpha() else fallback + text


def instance_names(
    keys: list[tuple[str, Any]], table: NameTable, style: Callable[[str, int | None], str]
) -> dict[Any, str]:
    """One generated name per distinct instantiation key, from `table`: `style(block, None)`
    when a block has one instantiation, `style(block, 1)`, `style(block, 2)`, ... when it has
    several."""
    per_block: dict[str, dict[Any, None]] = {}
    for block, key in keys:
        per_block.setdefault(block, {})[key] = None
    names: dict[Any, str] = {}
    for block, bucket in per_block.items():
        for i, key in enumerate(bucket, 1):
            names[key] = table.take(style(block, None if len(bucket) == 1 else i))
    return names


def class_style(block: str, index: int | None) -> str:
    """`Unit`, or `Unit1`, `Unit2`, ..."""
    return camel(block, "Block") + ("" if index is None else f"{index}")


# ---- running generated code ------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _compiled(code: str, label: str):
    # dont_inherit: this module's `from __future__ import annotations` must not turn the
    # generated code's annotations into strings, which a file of it would not have
    return compile(code, label, "exec", dont_inherit=True)


def run_source(
    code: str, module_name: str, label: str, namespace: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Execute generated source in `namespace` (a module's `__dict__`, so that its functions'
    globals are the module's) or a fresh one; code objects are cached by text."""
    if namespace is None:
        namespace = {}
    namespace["__name__"] = module_name
    exec(_compiled(code, label), namespace)  # noqa: S102 - our own generated, validated source
    return namespace


# ---- the IR ------------------------------------------------------------------------------------


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
        title=f"{call_text(net.name, net.ir.params)}: {shape_text(net.input_shape)} -> "
        f"{shape_text(out)}.",
        version=__version__,
        source=source,
        input=shape_text(net.input_shape),
        output=shape_text(out),
        params=grouped(net.cost.params),
        macs=grouped(net.cost.macs),
        flat=out.flat,
    )


# ---- bodies ----------------------------------------------------------------------------------


def branch_children(name: str, node: ir.Node) -> tuple[ir.Named, ...]:
    """A branch as a statement list: its children if it is a group, else the node itself."""
    return node.children if type(node) is ir.Seq else ((name, node),)


def needs_4d(node: ir.Node) -> bool:
    """Whether `node` reads a C×H×W map (its layer kind is `spatial`)."""
    return type(node) in SPATIAL


class BodyWriter:
    """Writes the statements of one generated function (a forward method, a block builder):
    layers in order, and residual / add / concat / split spelled out with local variables.

    A target supplies the line formats.  Ranks: 4 for maps, 2 for the (N, C) tensors that `fc`
    and `flatten` give; a layer that needs a map gets one back through `to_map`.  Local names
    come from `names`, a table inside the module's, so that no local shadows a global.
    """

    def __init__(self, lines: list[str], names: NameTable, depth: int, wrap: bool = True):
        self.lines = lines
        self.names = names
        self.depth = depth
        self.wrap = wrap

    def add(self, statement: str, comment: str = "") -> None:
        """Append one statement, laid out as black would."""
        self.lines.extend(layout(statement, self.depth, comment, self.wrap))

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
            # computed in the order written, so Keras creates the layers in that order too
            short = cur
            has_shortcut = node.shortcut is not None and bool(node.shortcut.children)
            if has_shortcut and node.shortcut_first:
                short = self.branch(node.shortcut.children, cur, self.names.fresh("shortcut"))
            body = self.branch(node.body.children, cur, self.names.fresh("out"))
            if has_shortcut and not node.shortcut_first:
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


# layers that read a map, and layers whose output is a tensor of their own, which a following
# activation may overwrite (the layer kinds' `spatial` and `fresh`)
SPATIAL = frozenset(kind.node for kind in LAYER_KINDS if kind.spatial)
FRESH = tuple(kind.node for kind in LAYER_KINDS if kind.fresh)


def nhwc(shape: ir.Shape) -> str:
    """`HxWxC`, or `C` for an (N, C) tensor (after fc or flatten)."""
    if shape.flat:
        return num(shape.c)
    return f"{num(shape.h)}x{num(shape.w)}x{num(shape.c)}"
