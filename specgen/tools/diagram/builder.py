"""The layout of a diagram: the builder that walks the IR and emits DOT boxes, clusters and
edges (a conv fused with its bn and activations, a block call as a cluster or one box, the
branches of a residual, `add`, `concat` and `split`)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from ... import ir
from ...layers import KINDS
from ...passes.cost import dense_ratio, leaf_cost, totals
from .structure import FILL, fill, structure
from .text import call_text, cost_line, escape, quoted, shape_text, table

FUSED_HEADS = (ir.Conv, ir.IGC, ir.Linear)  # layers that absorb the bn / activations after them
FUSED_TAILS = (ir.BatchNorm, ir.Act)
FORKS = (ir.Residual, ir.Add, ir.Concat, ir.Split)

Port = tuple[str, ir.Shape]  # the node an edge leaves from and the tensor it carries


class Overflow(Exception):
    """The builder passed its `max_boxes`: drawing stops at once."""


@dataclass
class Builder:
    """The DOT statements of one diagram as they are drawn: nodes and clusters in `lines`
    (indented by nesting), edges in `edges`; `depth` and `expand` say which block calls are
    drawn open, `fuse` whether a conv and its bn and activations are one box."""

    depth: int | None
    expand: frozenset[str]
    fuse: bool
    lines: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    count: int = 0
    indent: int = 1
    memo: dict[int, Any] = field(default_factory=dict)
    wanted: dict[int, bool] = field(default_factory=dict)
    points: set[str] = field(default_factory=set)  # entry points: their edges go unlabelled
    next_label: str | None = None  # the label of the next edge out of a split
    boxes: int = 0  # nodes and frames drawn (entry points left out)
    max_boxes: int | None = None  # TooLarge past this many

    def counted(self) -> None:
        self.boxes += 1
        if self.max_boxes is not None and self.boxes > self.max_boxes:
            raise Overflow

    def new_id(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def emit(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)

    def node(self, label: str, tooltip: str, **attrs: str) -> str:
        self.counted()
        ident = self.new_id()
        extra = "".join(f" {k}={v}" for k, v in attrs.items())
        self.emit(f"{ident} [label={label} tooltip={quoted(tooltip)}{extra}]")
        return ident

    def edge(self, src: Port, dst: str, text: str | None = None, **attrs: str) -> None:
        if text is None and self.next_label is not None:
            text, self.next_label = self.next_label, None
        if text is None:
            text = "" if src[0] in self.points else shape_text(src[1])
        label = text
        extra = "".join(f" {k}={v}" for k, v in attrs.items())
        self.edges.append(f"{src[0]} -> {dst} [label={quoted(label)}{extra}]")

    @contextlib.contextmanager
    def cluster(self, label: str, tooltip: str, fill: str, dashed: bool = False):
        self.counted()
        ident = self.new_id()
        self.emit(f"subgraph cluster_{ident} {{")
        self.indent += 1
        style = '"rounded,filled,dashed"' if dashed else '"rounded,filled"'
        self.emit(
            f"label={label} tooltip={quoted(tooltip)} style={style} fillcolor={quoted(fill)}"
        )
        try:
            yield
        finally:
            self.indent -= 1
            self.emit("}")

    # -- what to expand --

    def wants(self, node: ir.Node) -> bool:
        """Whether `node` is or contains a block named in `expand` (memoized by identity)."""
        key = id(node)
        found = self.wanted.get(key)
        if found is None:
            if isinstance(node, ir.Block) and node.name in self.expand:
                found = True
            else:
                found = any(self.wants(child) for child in all_children(node))
            self.wanted[key] = found
        return found

    def expanded(self, block: ir.Block, level: int) -> bool:
        if self.depth is None or level <= self.depth:
            return True
        return bool(self.expand) and self.wants(block)

    # -- drawing --

    def draw(self, node: ir.Node, path: str, inp: Port, level: int) -> Port:
        """Draw `node` (named `path`) fed by `inp`; return where its output leaves from."""
        t = type(node)
        if t is ir.Seq:
            return self.seq(node, path, inp, level)
        if t is ir.Residual:
            return self.residual(node, path, inp, level)
        if t in (ir.Add, ir.Concat, ir.Split):
            return self.branches(node, path, inp, level)
        if t is ir.SepConv:
            ratio = dense_ratio(node)
            params, macs, _, _ = totals(node, self.memo)
            text = f"{path} · depthwise-separable · {ratio:.3f} of dense weights"
            with self.cluster(
                quoted(text), f"{path}: params {params:,}, MACs {macs:,}", "#ffffff", dashed=True
            ):
                return self.seq(node.body, path, inp, level)
        if t is ir.Block:
            return self.block(node, path, [path], inp, level + 1)
        if t is ir.Identity:
            return inp[0], node.out_shape
        return self.layers([(path, node)], inp)

    def seq(self, node: ir.Seq, prefix: str, inp: Port, level: int) -> Port:
        children = node.children
        i, cur = 0, inp
        while i < len(children):
            name, child = children[i]
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(child, ir.Block):
                j = i + 1
                while j < len(children) and children[j][1] is child:
                    j += 1
                names = [f"{prefix}.{n}" if prefix else n for n, _ in children[i:j]]
                cur = self.block(child, path, names, cur, level + 1)
                i = j
                continue
            if self.fuse and isinstance(child, FUSED_HEADS):
                group = [(path, child)]
                j = i + 1
                while j < len(children) and isinstance(children[j][1], FUSED_TAILS):
                    n = children[j][0]
                    group.append((f"{prefix}.{n}" if prefix else n, children[j][1]))
                    j += 1
                cur = self.layers(group, cur)
                i = j
                continue
            if isinstance(child, ir.TRANSPARENT):
                cur = self.draw(child, prefix, cur, level)
            else:
                cur = self.draw(child, path, cur, level)
            i += 1
        return cur

    def layers(self, group: list[tuple[str, ir.Node]], inp: Port) -> Port:
        """One node for a layer and the bn / activations fused with it."""
        head_path, head = group[0]
        ops = " · ".join(escape(KINDS[type(n)].label(n)) for _, n in group)
        params = macs = 0
        for _, n in group:
            p, m = leaf_cost(n)
            params, macs = params + p, macs + m
        rows = [f"<B>{escape(head_path)}</B>  {ops}", *structure(head)]
        if params or macs:
            rows.append(cost_line(params, macs))
        out = group[-1][1].out_shape
        tip = ", ".join(p for p, _ in group) + f": params {params:,}, MACs {macs:,}, out {out}"
        ident = self.node(table(rows, fill(head)), tip, shape="plain")
        self.edge(inp, ident)
        return ident, out

    def block(self, node: ir.Block, path: str, names: list[str], inp: Port, level: int) -> Port:
        params, macs, _, _ = totals(node, self.memo)
        times = len(names)
        shown_name = path if times == 1 else f"{names[0]} … {names[-1]}"
        repeat = f" ×{times}" if times > 1 else ""
        tip = f"{', '.join(names)} = {call_text(node)}: params {params:,}, MACs {macs:,}"
        tip += " each" if times > 1 else ""
        if not self.expanded(node, level):
            rows = [
                f"<B>{escape(shown_name)}</B>",
                f"{escape(call_text(node))}{repeat}",
                cost_line(params, macs, each=times > 1),
            ]
            ident = self.node(table(rows, FILL["block"]), tip, shape="plain")
            self.edge(inp, ident)
            return ident, node.out_shape
        label = (
            f"<<B>{escape(shown_name)}</B>  {escape(call_text(node))}{repeat}"
            f"{' (one drawn)' if times > 1 else ''}<BR/>"
            f"{cost_line(params, macs, each=times > 1)}>"
        )
        with self.cluster(label, tip, "#fbfbf4"):
            # a fork at the block's input (a residual, a concat) starts at one point inside
            # the cluster, as papers draw it, rather than at the layer before the block
            children = node.body.children
            if not children or not isinstance(children[0][1], FORKS):
                return self.seq(node.body, path, inp, level)
            entry = self.new_id()
            self.emit(f"{entry} [shape=point width=0.05 tooltip={quoted(f'{path} input')}]")
            self.edge(inp, entry, arrowhead="none")
            self.points.add(entry)
            return self.seq(node.body, path, (entry, inp[1]), level)

    def residual(self, node: ir.Residual, prefix: str, inp: Port, level: int) -> Port:
        if node.shortcut is not None and node.shortcut_first:
            short = self.seq(node.shortcut, prefix, inp, level)
            body = self.seq(node.body, prefix, inp, level)
        else:
            body = self.seq(node.body, prefix, inp, level)
            short = self.seq(node.shortcut, prefix, inp, level) if node.shortcut else inp
        add = self.node(
            quoted("+"),
            f"residual sum: {node.out_shape}",
            shape="circle",
            width="0.3",
            fixedsize="true",
            fontsize="14",
        )
        self.edge(body, add)
        if short[0] == inp[0]:  # no shortcut, or one that draws nothing (`if` false): identity
            self.edge(short, add, f"identity {shape_text(short[1])}", style="dashed")
        else:
            self.edge(short, add, f"shortcut {shape_text(short[1])}")
        return add, node.out_shape

    def branches(self, node: ir.Node, prefix: str, inp: Port, level: int) -> Port:
        t = type(node)
        start = inp
        if t is ir.Split:
            sizes = " | ".join(str(s) for s in node.sizes)
            start = (
                self.node(
                    table([f"<B>split</B> {sizes}"], FILL["other"]),
                    f"channel split into {sizes}",
                    shape="plain",
                ),
                node.in_shape,
            )
            self.edge(inp, start[0])
        outs = []
        first = 0
        for k, (name, child) in enumerate(node.branches):
            part = start
            if t is ir.Split:
                size = node.sizes[k]
                part = (start[0], ir.Shape(size, node.in_shape.h, node.in_shape.w))
                # the channel range on the edge: which part goes where
                self.next_label = f"channels {first}–{first + size - 1}: {shape_text(part[1])}"
                first += size
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(child, ir.TRANSPARENT):
                out = self.draw(child, prefix, part, level)
            else:
                out = self.draw(child, path, part, level)
            # an identity branch drew no edge: its range goes on the edge into the merge
            outs.append((out, self.next_label))
            self.next_label = None
        if t is ir.Add:
            merge = self.node(
                quoted("+"),
                (
                    f"rep (one conv when deployed): {node.out_shape}"
                    if node.rep
                    else f"sum: {node.out_shape}"
                ),
                shape="circle",
                width="0.3",
                fixedsize="true",
                fontsize="14",
            )
        else:
            merge = self.node(
                table([f"<B>concat</B> → {node.out_shape.c}"], FILL["other"]),
                f"concatenated along channels: {node.out_shape}",
                shape="plain",
            )
        for out, label in outs:
            self.edge(out, merge, label)
        return merge, node.out_shape


def all_children(node: ir.Node) -> tuple[ir.Node, ...]:
    if isinstance(node, ir.Residual):
        return (node.body,) + ((node.shortcut,) if node.shortcut is not None else ())
    return tuple(child for _, child in ir.children(node))
