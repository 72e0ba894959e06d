"""The network's parameters bound before anything is expanded: the declared defaults evaluated
in order, and each value given from Python or the CLI converted once to its default's type.

The conversion needs the default's value, and a default may read the parameters before it
(`network n(w=16, half=w / 2)`), so the two go together, parameter by parameter.  What this
binds is what the search domains are checked against (`domains.check_values`) and what
`elaborate` expands with: no value is converted again after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import MAX_DIAGNOSTICS, Diagnostic, Span, did_you_mean
from ..language import syntax as S
from ..language.expr import BUDGET, Budget, EvalError, Value
from ..values import ValueProblem, given_value
from .analysis import Analysis
from .state import compiled


def bind_parameters(
    program: S.Program, given: Mapping[str, Any], analysis: Analysis, budget: Budget
) -> tuple[dict[str, Value] | None, list[Diagnostic]]:
    """The value of every parameter of `program`, in declaration order: the `given` ones
    converted to their declared defaults' types (`values.given_value`), the others their
    defaults, paid from `budget`.

    Returns them (None after a mistake that leaves a value unknown) and the mistakes found: a
    name the network does not declare, a value its parameter cannot take, a default that
    fails.
    """
    errors: list[Diagnostic] = []
    declared = {q.name: q for q in program.params}
    for name in given:
        if name not in declared:
            hint = (did_you_mean(name, declared) if len(errors) < MAX_DIAGNOSTICS else None) or (
                f"parameters: {', '.join(declared)}"
                if declared
                else "this network has no parameters"
            )
            errors.append(
                Diagnostic(
                    f"unknown parameter `{name}`", Span(0, 0, 0, 0), hint, code="unknown-parameter"
                )
            )
    env: dict[str, Value] = {}
    token = BUDGET.set(budget)  # what the defaults build is paid from it too
    try:
        for q in program.params:
            if q.default is None:
                return None, errors  # reported by analyze
            fn, steps = compiled(analysis.exprs, q.default)
            budget.spend(steps, q.default.span)
            default = fn(env)
            if q.name not in given:
                env[q.name] = default
                continue
            try:
                env[q.name] = given_value(given[q.name], default)
            except ValueProblem as problem:
                message = f"parameter `{q.name}` {problem}"
                errors.append(Diagnostic(message, q.span, code="parameter-type"))
                return None, errors
    except EvalError as e:
        errors.append(Diagnostic(e.message, e.span, e.hint, code=e.code))
        return None, errors
    finally:
        BUDGET.reset(token)
    return env, errors
