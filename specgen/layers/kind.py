"""What the compiler knows about one kind of layer, in one record: the words that write it, how
elaboration builds its IR node, its cost, its channel-arithmetic rules and its short label.

Each module of this package describes one kind (`conv.py`, `pool.py`, ...) and `registry.py`
collects them.  The passes look a node's kind up by its IR type (tables made from
`registry.LAYER_KINDS`), so a new
layer is added in one module here (plus its IR node in `ir.py` and its code in each target).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .. import ir
from ..errors import Span
from ..language import syntax as S
from .args import AUTO, OpSpec
from .shapes import auto_padding, same_padding


class Builder(Protocol):
    """The elaborator as a layer's `build` sees it: where mistakes go, and shape rules that
    report a window that does not fit and abandon the line."""

    def error(
        self, message: str, span: Span, hint: str | None = None, code: str = "error"
    ) -> None: ...

    def shape(self, fn: Callable[..., ir.Shape], span: Span, *args: Any) -> ir.Shape: ...


# (message, where, hint, code): one broken rule of channel arithmetic, placed by the validator
# in the chain of block calls that led to the layer
Problem = tuple[str, Span, str | None, str]


def _free(node: ir.Node) -> tuple[int, int]:
    return 0, 0


def no_rules(node: ir.Node) -> tuple[Problem, ...]:
    return ()


def _dense(node: ir.Node) -> float | None:
    return None


def _word(node: ir.Node) -> str:
    return node.op


def _no_attrs(node: ir.Node) -> tuple[tuple[str, Any], ...]:
    return ()


def _no_words(node: ir.Node) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True, slots=True)
class LayerKind:
    """One kind of layer (one IR node type) and the words that write it.

    `build(builder, op, head, values, shape)` makes the node from the line's bound values;
    `cost(node)` is (params, MACs) under the conventions of docs/cost.md; `check(node)` the
    broken rules of channel arithmetic; `dense_ratio(node)` the weights relative to the dense
    layer it replaces (None where that means nothing); `label(node)` the op as the cost
    report and the block diagram show it (`conv 3×3 /2 group=4`).  `weighted`: it holds a
    weight tensor, whose size is checked against what a tensor can index.  `attrs(node)`: its
    window and groups as the cost report's fields, in this order where they apply (`kernel`,
    `stride`, `dilation`, `groups`); `brief(node)`: the words the cost table's op column shows
    after them, for what those fields leave out (`M2 L8` for an igc).  `spatial` and `fresh`
    are facts the targets lay the code out by (below).
    """

    node: type[ir.Node]
    ops: tuple[OpSpec, ...]
    build: Callable[[Builder, str, S.Head, dict[str, Any], ir.Shape], ir.Node] | None
    cost: Callable[[ir.Node], tuple[int, int]] = _free
    check: Callable[[ir.Node], tuple[Problem, ...]] = no_rules
    dense_ratio: Callable[[ir.Node], float | None] = _dense
    label: Callable[[ir.Node], str] = _word
    weighted: bool = False
    attrs: Callable[[ir.Node], tuple[tuple[str, Any], ...]] = _no_attrs
    brief: Callable[[ir.Node], tuple[str, ...]] = _no_words
    # what the targets lay out by: `spatial`, it reads a C×H×W map (after `fc` the generated
    # code holds an (N, C) tensor, which is reshaped for it); `fresh`, its output is a tensor
    # of its own, never its input or a view of it, so an activation after it may work in place
    spatial: bool = False
    fresh: bool = False


def padding(v: dict[str, Any], shape: ir.Shape, stride: tuple[int, int] | None = None) -> ir.Pad:
    """(top, bottom, left, right): the written padding, TensorFlow's for `same`, or by default
    the padding that keeps H×W at stride 1 for odd kernels, (k-1)/2·dilation."""
    p = v["padding"]
    if p == "same":
        return same_padding(shape, v["kernel"], stride or v["stride"], v["dilation"])
    if p is AUTO:
        p = auto_padding(v["kernel"], v["dilation"])
    return p if len(p) == 4 else (p[0], p[0], p[1], p[1])


def arg_span(head: S.Head | None, *names: str) -> Span:
    """The span of the first keyword argument in `names` on `head`, else the layer's name:
    a broken rule points at the argument at fault (`group=g`), not just the line."""
    if head is None:
        return Span(0, 0, 0, 0)
    for arg in head.args:
        if isinstance(arg, S.KwArg) and arg.name in names:
            return arg.span
    return head.name_span


def written_span(head: S.Head, name: str) -> Span:
    """Where argument `name` is written on the line (keyword or bare flag), else the line."""
    for arg in head.args:
        if isinstance(arg, S.KwArg) and arg.name == name:
            return arg.span
        if isinstance(arg, S.Name) and arg.name == name:
            return arg.span
    return head.span


def pair_text(p: tuple[int, int]) -> str:
    """`3×3`, or `1×7` for a non-square window."""
    return f"{p[0]}×{p[1]}"
