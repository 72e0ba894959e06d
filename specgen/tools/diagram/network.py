"""The diagram of a whole network (`to_dot`): the options checked against the network's
blocks, the title, input and output around the drawing, and how many boxes it takes
(`boxes`, `default_depth`), which decides whether Graphviz is given it at all."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from ... import ir
from ...errors import Diagnostic, SpecError, did_you_mean
from ...passes.cost import totals, walk
from ...values import format_value
from .builder import Builder, Overflow, all_children
from .structure import FILL
from .text import call_text, escape, quoted, shape_text, small, table

# How much is drawn.  Graphviz's layout grows faster than linearly with the boxes and frames
# (measured with 2.43 on one core: 1,400 boxes and frames in 2 s, 2,800 in 23 s), so the CLI
# refuses to hand it more than MAX_BOXES and stops `dot` after a timeout (`graph.DOT_TIMEOUT`);
# DOT text is written at any size.  Without --depth, --expand or --block, a network drawn open with
# more than DEFAULT_BOXES boxes is drawn at the deepest --depth that stays under it.
MAX_BOXES = 1500
DEFAULT_BOXES = 150


class GraphError(Exception):
    """Drawing or rendering a diagram failed (too large, no Graphviz, an unknown format,
    Graphviz itself failed); the message is meant for the user as it is."""


class TooLarge(GraphError):
    """The diagram has more boxes than Graphviz is given (`max_boxes`), or `dot` ran longer
    than its timeout."""


def _ir(net: Any) -> ir.Network:
    """The IR of a compiled network (or the IR itself)."""
    network = getattr(net, "ir", net)
    if not isinstance(network, ir.Network):
        raise TypeError(f"expected a compiled network, not {type(net).__name__}")
    return network


def block_names(net: Any) -> list[str]:
    """The names of the user blocks instantiated in `net`, sorted."""
    found: set[str] = set()
    seen: set[int] = set()

    def visit(node: ir.Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, ir.Block):
            found.add(node.name)
        for child in all_children(node):
            visit(child)

    visit(_ir(net).body)
    return sorted(found)


def _parse_block(block: str) -> tuple[str, int | None]:
    """`NAME` or `NAME:K` (the K-th call of NAME, from 1, in execution order)."""
    name, sep, index = block.partition(":")
    if not sep:
        return name, None
    return name, int(index) if index.isascii() and index.isdigit() and int(index) > 0 else 0


def _instances(network: ir.Network, name: str, upto: int | None = None) -> list[tuple[str, Any]]:
    """(path, node) of the calls of block `name`, in execution order (the first `upto`)."""
    found = []
    for path, node in walk(network.body):
        if isinstance(node, ir.Block) and node.name == name:
            found.append((path, node))
            if upto is not None and len(found) >= upto:
                break
    return found


def _whole(network: ir.Network) -> str:
    return f"{network.name}({', '.join(f'{k}={format_value(v)}' for k, v in network.params)})"


def check_options(
    net: Any, depth: int | None = None, expand: Sequence[str] = (), block: str | None = None
) -> None:
    """Raise SpecError (code "usage") for a negative depth, an `expand` or `block` name that
    is no block of this network (the closest name or the blocks used as the hint), or a
    `block` call number past the calls there are; each message names its option."""
    network = _ir(net)
    source = getattr(net, "source", None)
    mistakes = []
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        mistakes.append(
            Diagnostic(f"--depth must be an integer >= 0, got {depth!r}", code="usage")
        )
    used = block_names(network)
    defined = {b.name for b in network.program.blocks}
    asked = [("--expand", name) for name in dict.fromkeys(expand)]
    if block is not None:
        asked.append(("--block", _parse_block(block)[0]))
    for option, name in asked:
        if name in used:
            continue
        if name in defined:
            message = f"{option}: block `{name}` is not used by {_whole(network)}"
        else:
            message = f"{option}: {network.name} has no block `{name}`"
        hint = did_you_mean(name, used) if name not in defined else None
        if hint is None:
            hint = "blocks used: " + ", ".join(used) if used else "this network calls no block"
        mistakes.append(Diagnostic(message, hint=hint, code="usage"))
    if block is not None and not mistakes:
        name, index = _parse_block(block)
        if index == 0:
            mistakes.append(
                Diagnostic(
                    f"--block expects NAME or NAME:K (K = 1, 2, ...: the K-th call), "
                    f"got `{block}`",
                    code="usage",
                )
            )
        elif index is not None:
            calls = len(_instances(network, name, index))
            if calls < index:
                times = "once" if calls == 1 else f"{calls} times"
                mistakes.append(
                    Diagnostic(
                        f"--block {block}: {_whole(network)} calls `{name}` {times}",
                        hint=f"--block {name}:1 to --block {name}:{calls}",
                        code="usage",
                    )
                )
    if mistakes:
        raise SpecError(mistakes, source)


def to_dot(
    net: Any,
    *,
    depth: int | None = None,
    expand: Sequence[str] = (),
    block: str | None = None,
    fuse: bool = True,
    max_boxes: int | None = None,
) -> str:
    """The block diagram of a compiled network (a `specgen.compile` result) as DOT text.

    `depth`: blocks nested deeper than `depth` block calls are drawn as one node with their
    totals (0: every block call is one node); None draws every block open, unless `expand` is
    given, when it means 0.  `expand`: block names whose instances are drawn open at any depth
    (with the blocks that contain them).  `block`: draw only one call of this block, open,
    from its input to its output (the unit as a paper draws it; `depth` then counts from it):
    `NAME` the first call, `NAME:K` the K-th in execution order.  `fuse`: draw a conv with its
    bn and activations as one node.  `max_boxes`: raise TooLarge rather than draw more boxes
    and frames than this.  Raises SpecError for a negative depth or an unknown block name.
    """
    network = _ir(net)
    check_options(net, depth, expand, block)
    if depth is None and expand:
        depth = 0
    b = Builder(depth, frozenset(expand), fuse, max_boxes=max_boxes)
    try:
        return _draw_network(b, network, block)
    except Overflow:
        raise TooLarge(
            f"the diagram has more than {max_boxes:,} boxes, more than Graphviz lays out in "
            "reasonable time; draw less: --depth N shuts the block calls nested deeper than N, "
            "--block NAME draws one block; `-o FILE.dot` writes the DOT text at any size"
        ) from None


def _draw_network(b: Builder, network: ir.Network, block: str | None) -> str:
    whole = _whole(network)
    if block is None:
        params, macs, _, _ = totals(network.body, b.memo)
        first, last = network.input, network.output
        title = f"<B>{escape(whole)}</B>"
    else:
        name, index = _parse_block(block)
        path, node = _instances(network, name, index or 1)[-1]
        params, macs, _, _ = totals(node, b.memo)
        first, last = node.in_shape, node.out_shape
        title = f"<B>{escape(call_text(node))}</B> in {escape(whole)}"
        if index is not None:
            title = f"<B>{escape(path)}</B>: {title}"
    title = f"<{title}<BR/>{small(f'params {params:,} · MACs {macs:,}', '#000000', 10)}>"
    start = b.node(
        table([f"<B>input</B> {shape_text(first)}"], FILL["io"]), f"input {first}", shape="plain"
    )
    if block is None:
        out = b.draw(network.body, "", (start, first), 0)
    else:
        b.expand = b.expand | {name}
        if b.depth is not None:
            b.depth += 1
        out = b.block(node, path, [path], (start, first), 1)
    end = b.node(
        table([f"<B>output</B> {shape_text(last)}"], FILL["io"]), f"output {last}", shape="plain"
    )
    b.edge(out, end)
    head = [
        f"digraph {quoted(network.name)} {{",
        f"    graph [label={title} labelloc=t fontname=Helvetica fontsize=12 rankdir=TB "
        'nodesep=0.3 ranksep=0.3 newrank=true tooltip=" "]',
        "    node [fontname=Helvetica fontsize=10]",
        '    edge [fontname=Helvetica fontsize=8 fontcolor="#555555" color="#555555" '
        "arrowsize=0.6]",
    ]
    edges = ["    " + e for e in b.edges]
    return "\n".join(head + b.lines + edges + ["}"]) + "\n"


def boxes(net: Any, *, depth: int | None = None, limit: int | None = None) -> int:
    """How many boxes and frames `to_dot(net, depth=depth)` draws (counting stops past
    `limit`, returning limit + 1)."""
    network = _ir(net)
    b = Builder(depth, frozenset(), True, max_boxes=limit)
    with contextlib.suppress(Overflow):
        _draw_network(b, network, None)
    return b.boxes


def default_depth(net: Any, limit: int = DEFAULT_BOXES) -> int | None:
    """The depth the CLI draws at when none is given: None (every block open) when that is
    at most `limit` boxes, else the deepest depth that stays at most `limit` (0 at least), so
    that a large network is not one picture some 10,000 pixels tall."""
    if boxes(net, limit=limit) <= limit:
        return None
    depth = 0
    while boxes(net, depth=depth + 1, limit=limit) <= limit:
        depth += 1
    return depth
