"""Structural re-parameterisation (Ding et al. 2021, RepVGG; Vasu et al. 2023, MobileOne): a
`rep:` sums branches that are each a conv (with a BatchNorm after it), a BatchNorm alone or
the identity.  In eval mode every branch is an affine map of the same window, so their sum
is one conv with a bias: each BatchNorm folds into its conv (W·s, (b - mean)·s + beta), a
smaller kernel is zero-padded to the largest at its centre, the identity is a kernel with a
1 at the centre of each channel's own slot in its group, and the kernels and biases add up.

`problems` gives the rules a `rep:` must keep (the elaborator reports them where the branch
is written); `merged` is the deploy form's conv; `branches` what the weight folding reads
(`specgen.targets.deploy`).  Part of the core: no framework import.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir


@dataclass(frozen=True, slots=True)
class Branch:
    """One summand: a conv and/or a BatchNorm (names relative to the enclosing module, as
    the generated code registers them); neither for the identity."""

    conv: ir.Conv | None
    conv_name: str | None
    bn: ir.BatchNorm | None
    bn_name: str | None


def branches(node: ir.Add) -> list[Branch]:
    """The branches of a `rep:` that `problems` accepts (those it refuses are left out)."""
    out = []
    for name, child in node.branches:
        found = _branch(name, child)
        if found is not None:
            out.append(found)
    return out


def _branch(name: str, child: ir.Node) -> Branch | None:
    kids = list(child.children) if type(child) is ir.Seq else [(name, child)]
    kids = [(n, k) for n, k in kids if type(k) is not ir.Identity]
    if not kids:
        return Branch(None, None, None, None)
    (n0, k0), rest = kids[0], kids[1:]
    if type(k0) is ir.BatchNorm and not rest:
        return Branch(None, None, k0, n0)
    if type(k0) is not ir.Conv or k0.kind == "gdc":
        return None
    if not rest:
        return Branch(k0, n0, None, None)
    if len(rest) == 1 and type(rest[0][1]) is ir.BatchNorm:
        return Branch(k0, n0, rest[0][1], rest[0][0])
    return None


def _centred(conv: ir.Conv) -> bool:
    kh, kw = conv.kernel
    return (
        kh % 2 == 1 and kw % 2 == 1 and conv.padding == ((kh - 1) // 2,) * 2 + ((kw - 1) // 2,) * 2
    )


def problems(node: ir.Add) -> list[tuple[str, object, str | None]]:
    """(message, span, hint) for each rule of a `rep:` its branches break."""
    found: list[tuple[str, object, str | None]] = []
    convs: list[ir.Conv] = []
    for name, child in node.branches:
        branch = _branch(name, child)
        span = _span(child, node)
        if branch is None:
            found.append(
                (
                    "a `rep:` branch is a conv (optionally followed by a bn), a bn or `identity`",
                    span,
                    "put other layers before or after the `rep:`",
                )
            )
            continue
        conv = branch.conv
        if conv is None:
            continue
        if conv.dilation != (1, 1):
            found.append(("a `rep:` conv cannot be dilated", _span(conv, node), None))
        elif not _centred(conv):
            found.append(
                (
                    f"a `rep:` conv needs an odd kernel and the padding that centres it "
                    f"((k-1)/2 on each side), got kernel {conv.kernel[0]}x{conv.kernel[1]} "
                    f"padding {list(conv.padding)}",
                    _span(conv, node),
                    "leave the padding at its default",
                )
            )
        convs.append(conv)
    if not convs and not found:
        found.append(("a `rep:` needs at least one conv branch", node.src.name_span, None))
    elif convs:
        first = convs[0]
        for conv in convs[1:]:
            if conv.stride != first.stride:
                found.append(
                    (
                        "the convs of a `rep:` need one stride",
                        _span(conv, node),
                        f"the first has stride {first.stride[0]}x{first.stride[1]}",
                    )
                )
            elif conv.groups != first.groups:
                found.append(
                    (
                        f"the convs of a `rep:` need one group count: {conv.groups} here, "
                        f"{first.groups} in the first",
                        _span(conv, node),
                        None,
                    )
                )
    return found


def _span(node: ir.Node, parent: ir.Add) -> object:
    src = node.src if type(node) is not ir.Seq else None
    if src is None and type(node) is ir.Seq and node.children:
        src = node.children[0][1].src
    return getattr(src, "span", parent.src.name_span)


def merged(node: ir.Add) -> ir.Conv:
    """The deploy form's conv: the largest kernel, the branches' stride and groups, centred
    padding, a bias."""
    convs = [b.conv for b in branches(node) if b.conv is not None]
    kh = max(c.kernel[0] for c in convs)
    kw = max(c.kernel[1] for c in convs)
    first = convs[0]
    padding = ((kh - 1) // 2, (kh - 1) // 2, (kw - 1) // 2, (kw - 1) // 2)
    return ir.Conv(
        node.src,
        node.in_shape,
        node.out_shape,
        "conv",
        node.out_shape.c,
        (kh, kw),
        first.stride,
        padding,
        (1, 1),
        first.groups,
        True,
    )
