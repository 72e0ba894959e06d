"""Pass 2 — elaborate: `syntax.Program` + parameter values → `ir.Network`.

Evaluates every expression, expands block calls and repeats, and gives every node its shapes
(`specgen.layers`' builds and shape rules), because `in` and the kernel of `gdc` depend on them.  Mistakes are collected
as diagnostics carrying the chain of block calls; elaboration stops early only when a shape
can no longer be computed.  Identical block instantiations — same block, same argument
values, same input shape — are elaborated once and shared.

One module per concern: `analysis` (what is known before any parameter value, and the bounds
of the caches compiles share), `parameters` (the network's parameters bound and converted
once), `statements`, `calls` (block calls), `lines` (layer lines), `composites`, `keys` (the
values' keys in the shared caches), `naming`, and `state` (diagnostics, the step budget, the
limits), which the others build on.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import ir
from ..errors import Diagnostic
from ..language import syntax as S
from ..language.expr import BUDGET, Budget, Value
from .analysis import Analysis, analyze
from .calls import Calls
from .composites import Composites
from .lines import Lines
from .parameters import bind_parameters
from .statements import Statements

__all__ = ["Analysis", "Elaborator", "analyze", "bind_parameters", "elaborate"]


class Elaborator(Statements, Calls, Lines, Composites):
    """One elaboration of a program: its concerns composed, its state in `state.State`."""


def elaborate(
    program: S.Program,
    params: Mapping[str, Value],
    analysis: Analysis | None = None,
    budget: Budget | None = None,
) -> tuple[ir.Network | None, list[Diagnostic]]:
    """Expand `program` with `params`, the value of every network parameter as
    `bind_parameters` gives them, paying from `budget` (by default the whole budget less the
    analysis's steps).

    Returns the network (None when a mistake left shapes unknown) and the mistakes found.
    """
    e = Elaborator(program, analysis or analyze(program), budget)
    token = BUDGET.set(e.budget)  # what expressions build and walk is paid from it too
    try:
        net = e.network(params)
    finally:
        BUDGET.reset(token)
    return net, e.errors
