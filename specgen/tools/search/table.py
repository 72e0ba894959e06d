"""`specgen search`'s text report: every candidate as an aligned table, then the Pareto
front over distinct architectures."""

from __future__ import annotations

from collections.abc import Sequence

from ...values import format_value
from .candidates import Candidate, _python
from .objectives import Objective


def render_table(
    candidates: Sequence[Candidate], objectives: Sequence[Objective], names: Sequence[str]
) -> str:
    """Every candidate (its point, feasibility, costs, objectives, how many candidates had
    its architecture, or its mistake), then the Pareto front, as aligned text.  A repeated
    architecture's row says which candidate had it first (`= #12`)."""
    extra = [i for i, o in enumerate(objectives) if o.text not in ("params", "macs", "latency")]
    # with a latency table, every candidate's predicted latency (ms) beside its MACs
    timed = any(c.cost is not None and "latency" in c.cost for c in candidates)
    header = ["#", *names, "feasible", "params", "macs", *(["latency ms"] if timed else [])]
    header += [*(objectives[i].text for i in extra), "seen", "note"]

    def row(c: Candidate) -> list[str]:
        values = [format_value(_python(c.point.get(n))) for n in names]
        cost = c.cost
        if cost is None:
            return [str(c.number), *values, "no", "", "", *([""] * (len(extra) + timed)), "",
                    f"invalid: {c.error.first.code}" if c.error else ""]  # fmt: skip
        shown = [_number_text(c.values[i]) for i in extra]
        note = "pareto" if c.pareto else ""
        seen = str(c.seen)
        if c.repeat_of is not None:
            note, seen = f"= #{c.repeat_of}", ""
        latency = [f"{cost['latency']:.3f}"] if timed else []
        return [str(c.number), *values, "yes" if c.feasible else "no",
                f"{cost['params']:,}", f"{cost['macs']:,}", *latency, *shown, seen,
                note]  # fmt: skip

    def table(rows: list[list[str]]) -> list[str]:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        return ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                for r in [header, *rows]]  # fmt: skip

    lines = table([row(c) for c in candidates])
    front = [c for c in candidates if c.pareto]
    distinct = sum(c.architecture is not None and c.repeat_of is None for c in candidates)
    feasible = sum(c.feasible for c in candidates)
    invalid = sum(c.cost is None for c in candidates)
    repeats = sum(c.repeat_of is not None for c in candidates)
    lines.append("")
    lines.append(
        f"{len(candidates)} candidates ({distinct} architectures, {repeats} repeats): "
        f"{feasible} feasible, {invalid} invalid; "
        f"Pareto front over {', '.join(o.direction[:3] + ' ' + o.text for o in objectives)} "
        f"({len(front)}):"
    )
    directions = [o.direction for o in objectives]
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    front.sort(key=lambda c: tuple(s * v for s, v in zip(signs, c.values, strict=True)))
    lines.extend(table([row(c) for c in front]) if front else ["  (none)"])
    return "\n".join(lines) + "\n"


def _number_text(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:.4g}"
