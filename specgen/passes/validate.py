"""Pass 3 — validate: channel arithmetic and shape agreement over the elaborated IR.

A pure function of the IR.  Each check reports a diagnostic pointing at the argument at
fault (`group=g`, not just the line) with the chain of block calls that led there.  Shared
block instantiations are checked once.
"""

from __future__ import annotations

import dataclasses

from .. import ir, limits
from ..errors import Diagnostic, Frame, Span
from ..language import syntax as S
from ..layers.kind import no_rules
from ..layers.registry import LAYER_KINDS

# IR node type -> its layer kind, for the layers with rules: channel arithmetic (`kind.check`),
# or a weight tensor whose size is bounded (`kind.weighted`)
CHECKED = {kind.node: kind for kind in LAYER_KINDS if kind.weighted or kind.check is not no_rules}
_COMPOSITE = {ir.Residual, ir.Add, ir.Concat, ir.Split}


def _size(shape: ir.Shape, channels: bool) -> tuple:
    return (shape.c,) if channels else (shape.h, shape.w, shape.flat)


def _changed_at(node: ir.Residual, channels: bool) -> tuple[Span, tuple[Frame, ...]] | None:
    """The line of the last statement that changed the channels (else the height and width)
    of a residual's body, or of its shortcut when the body keeps them, with the loop
    iterations it was made in: the cause of a mismatch in them (a strided layer followed
    by one that changes the channels is named for the height and width, not the later
    line)."""
    body = node.body
    seq = body if _size(body.out_shape, channels) != _size(node.in_shape, channels) else None
    seq = seq or node.shortcut
    children = seq.children if seq is not None else ()
    for i in range(len(children) - 1, -1, -1):
        child = children[i][1]
        changed = _size(child.out_shape, channels) != _size(child.in_shape, channels)
        if changed and isinstance(child.src, S.Head):
            return child.src.name_span, seq.loops[i] if seq.loops else ()
    return None


def _child_loops(node: ir.Node) -> tuple[tuple[Frame, ...], ...]:
    """The `for` iterations each of `node`'s children (in `ir.CHILDREN` order) was made in,
    so that an error inside a loop names its iteration; () when there were none."""
    t = type(node)
    if t is ir.Seq:
        return node.loops
    if t is ir.Residual and node.body.loops:
        if node.shortcut is None:
            return node.body.loops
        return ((),) + node.body.loops if node.shortcut_first else node.body.loops + ((),)
    return ()


_SHAPE_CODES = frozenset({"residual-shape", "add-shape", "concat-spatial"})


def _merge_repeats(errors: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per place, message and call chain: the copies of a repeated line
    (`x 3`) and the iterations of a loop make the same mistake at the same place; the first
    is kept, with how often it recurs (iterations differing in the message stay apart)."""
    first: dict[tuple, int] = {}
    counts: list[int] = []
    iterated: list[bool] = []
    kept: list[Diagnostic] = []
    for d in errors:
        plain = tuple((f.block, f.span, None if f.iteration else f.args) for f in d.chain)
        # a shape mismatch repeated in later copies gives other shapes there, as a
        # consequence of the first: the same mistake, reported once
        key = (d.span, plain, d.code, None if d.code in _SHAPE_CODES else d.message)
        if key in first:
            k = first[key]
            counts[k] += 1
            iterated[k] = iterated[k] or kept[k].chain != d.chain
            continue
        first[key] = len(kept)
        kept.append(d)
        counts.append(1)
        iterated.append(False)
    out = []
    for d, n, loop in zip(kept, counts, iterated, strict=True):
        if n > 1:
            what = (
                ("iteration" if n == 2 else "iterations")
                if loop
                else ("copy" if n == 2 else "copies")
            )
            d = dataclasses.replace(d, message=f"{d.message} (and in {n - 1} more {what})")
        out.append(d)
    return out


def validate(net: ir.Network) -> list[Diagnostic]:
    """The mistakes of channel arithmetic and shape agreement in `net`."""
    validator = _Validator()
    validator.walk(net.body, ())  # the body is a Seq
    return _merge_repeats(validator.errors) if validator.errors else []


class _Validator:
    """One walk over the IR.  Methods rather than closures: a recursive closure is a reference
    cycle, which would keep each compile's IR alive until the garbage collector runs."""

    __slots__ = ("errors", "seen")

    def __init__(self) -> None:
        self.errors: list[Diagnostic] = []
        self.seen: set[int] = set()

    def report(
        self, message: str, span: Span, chain: tuple[Frame, ...], hint: str | None, code: str
    ) -> None:
        self.errors.append(Diagnostic(message, span, hint, chain, code))

    def check_layer(self, node: ir.Node, chain: tuple[Frame, ...]) -> None:
        """The rules of one layer (`CHECKED`): its weights fit a tensor, then its kind's own."""
        kind = CHECKED[type(node)]
        if kind.weighted:
            params = kind.cost(node)[0]
            if params > limits.MAX_ELEMENTS:
                self.report(
                    f"this layer has {params} parameters, more than a tensor can hold "
                    f"({limits.MAX_ELEMENTS}, int64)",
                    node.src.name_span,
                    chain,
                    None,
                    "limit",
                )
                return
        for message, span, hint, code in kind.check(node):
            self.report(message, span, chain, hint, code)

    def check(self, node: ir.Node, chain: tuple[Frame, ...]) -> None:
        """The rules of one composite (`_COMPOSITE`): its branches' shapes agree."""
        report = self.report
        t = type(node)
        head = node.src
        if t is ir.Residual:
            short = node.shortcut.out_shape if node.shortcut is not None else node.in_shape
            if node.body.out_shape != short:
                what = "shortcut" if node.shortcut is not None else "identity shortcut"
                hint = None
                if node.shortcut is None or not node.shortcut.children:
                    hint = "add a `shortcut:` that matches the shape (e.g. a strided 1x1 conv)"
                # point at the layer that changed the shape, not at `residual:`: the one that
                # changed the height and width if they differ, else the channels
                spatial = _size(node.body.out_shape, False) != _size(short, False)
                span, loops = _changed_at(node, not spatial) or (head.name_span, ())
                if spatial and node.body.out_shape.c != short.c:
                    other = _changed_at(node, True)
                    if other is not None and other[0] != span:
                        also = f"line {other[0].line} changes the channels too"
                        hint = f"{hint}; {also}" if hint else also
                report(
                    f"residual body gives {node.body.out_shape} but the {what} gives {short}",
                    span,
                    chain + loops,
                    hint,
                    "residual-shape",
                )
        elif t is ir.Add:
            first = node.branches[0][1].out_shape
            for name, b in node.branches[1:]:
                if b.out_shape != first:
                    report(
                        f"{node.op} branches differ: {node.branches[0][0]} gives {first}, {name} gives {b.out_shape}",
                        head.name_span,
                        chain,
                        None,
                        "add-shape",
                    )
        elif t is ir.Concat or t is ir.Split:
            first = node.branches[0][1].out_shape
            for name, b in node.branches[1:]:
                o = b.out_shape
                if (o.h, o.w) != (first.h, first.w):
                    report(
                        f"{node.op} branches have different sizes: {node.branches[0][0]} gives "
                        f"{first.h}x{first.w}, {name} gives {o.h}x{o.w}",
                        head.name_span,
                        chain,
                        "give every branch the same stride",
                        "concat-spatial",
                    )

    def walk(self, node: ir.Node, chain: tuple[Frame, ...]) -> None:
        if id(node) in self.seen:  # a shared block instantiation: checked once
            return
        self.seen.add(id(node))
        t = type(node)
        errors = self.errors
        if t is ir.Block:
            if node.derived.get("valid"):
                return
            before = len(errors)
            self.walk(node.body, chain + (Frame(node.name, node.args, node.src.span),))
            if len(errors) == before:
                node.derived["valid"] = True
            return
        # a composite is checked after its contents, and only when they are sound: a shape
        # mismatch caused by a mistake inside it would only repeat that mistake
        # (the other containers, Seq and SepConv, have no rules of their own)
        before = len(errors)
        loops = node.loops if t is ir.Seq else _child_loops(node)
        for i, (_, child) in enumerate(ir.CHILDREN[t](node)):
            tc = type(child)
            if tc in ir.CHILDREN:
                self.walk(child, chain + loops[i] if loops else chain)
            elif tc in CHECKED:
                self.check_layer(child, chain + loops[i] if loops else chain)
        if t in _COMPOSITE and len(errors) == before:
            self.check(node, chain)
