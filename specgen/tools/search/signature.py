"""What makes two searches the same search: the signature stored with an Optuna study, so
that a resumed study is not fed the trials of another search, and the words for what differs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...values import format_value
from .candidates import _python
from .objectives import Objective, _Constraint

if TYPE_CHECKING:
    from .spaces import Space


_SIGNATURE = "specgen"  # the study's user attribute holding its search's signature


def _callable_name(f: Any) -> str:
    """A callable as a signature holds it: its module and qualified name (stable across
    processes and machines, unlike its repr)."""
    name = getattr(f, "__qualname__", None) or type(f).__qualname__
    return f"{getattr(f, '__module__', None) or type(f).__module__}.{name}"


def _difference(stored: Mapping[str, Any], mine: Mapping[str, Any]) -> str | None:
    """What differs between a stored search's signature and this one, as words; None when
    they are the same search."""

    def listed(values: Any) -> str:
        return ", ".join(f"`{v}`" for v in values) or "none"

    if stored.get("objectives") != mine["objectives"]:
        return (
            f"for other objectives ({listed(stored.get('objectives', []))}; this search: "
            f"{listed(mine['objectives'])})"
        )
    there, here = dict(stored.get("space", {})), mine["space"]
    if there != here:
        for name in [*here, *there]:
            if name not in there:
                detail = f"`{name}` is searched here, not there"
            elif name not in here:
                detail = f"`{name}` is searched there, not here"
            elif there[name] != here[name]:
                detail = f"`{name}` is {there[name]} there, {here[name]} here"
            else:
                continue
            return f"with another search space ({detail})"
    if dict(stored.get("fixed", {})) != mine["fixed"]:
        fixed = [f"{k}={v}" for k, v in stored.get("fixed", {}).items()]
        return (
            f"with other fixed parameters ({listed(fixed)}; this search: "
            f"{listed(f'{k}={v}' for k, v in mine['fixed'].items())})"
        )
    if stored.get("constraints") != mine["constraints"]:
        return (
            f"with other constraints ({listed(stored.get('constraints', []))}; this search: "
            f"{listed(mine['constraints'])})"
        )
    if stored.get("spec") != mine["spec"]:
        return "from another spec (its text, or a file it imports, changed since)"
    return None


def signature_of(
    space: Space, objective: Any, objs: Sequence[Objective], extra: Sequence[Any]
) -> dict:
    """What makes two searches the same, stored with the study: its objectives, the
    space (domains, fixed values, constraints) and the spec's text with its imports."""
    if objs:
        objectives = [f"{o.direction[:3]}:{o.text}" for o in objs]
    else:
        objectives = [_callable_name(objective)]
    fixed = {k: format_value(_python(v)) for k, v in sorted(space.fixed.items())}
    if space.input is not None:  # another input is another search
        fixed["input"] = "x".join(map(str, space.input))
    return {
        "objectives": objectives,
        "space": {d.name: str(d.domain) for d in space.dimensions},
        "fixed": fixed,
        "constraints": [c.text if isinstance(c, _Constraint) else _callable_name(c)
                        for c in extra],  # fmt: skip
        "spec": _digest(space),
    }


def _digest(space: Space) -> str:
    """SHA-256 of the spec's text and of the texts it imports (not their paths, which
    differ between machines)."""
    digest = hashlib.sha256(space.source.text.encode())
    if space.program.imports:
        from ...language.imports import load_imports

        for _, text in load_imports(space.program, space.source.filename, space.source):
            digest.update(b"\0" + text.encode())
    return digest.hexdigest()
