"""The pipeline in one place: parse → elaborate → validate → cost (→ emit, per target).

`compile` is the Python entry point.  Parsing and the parameter-independent checks are cached
by source text, so compiling one spec with many parameter values (an architecture search)
parses it once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import ir
from . import syntax as S
from .cost import Cost
from .elaborate import Analysis, analyze, elaborate
from .errors import Diagnostic, Source, SpecError
from .parse import normalize, parse
from .validate import validate


@functools.lru_cache(maxsize=512)
def _front(text: str, filename: str) -> tuple[S.Program, Analysis]:
    program = parse(text, filename)
    return program, analyze(program)


def read_source(spec: str | os.PathLike[str], filename: str | None = None) -> Source:
    """The spec's text: `spec` is a path (a PathLike, or a str without a line break) or the
    text itself (a str with at least one line break: no spec fits on one line)."""
    if isinstance(spec, str) and (not spec or "\n" in spec or "\r" in spec or "\x00" in spec):
        return Source(normalize(spec), filename or "<spec>")
    path = Path(spec)
    name = filename or str(spec)

    def fail(message: str) -> SpecError:
        return SpecError([Diagnostic(message, code="file")], Source("", name))

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise fail("no such file") from None
    except IsADirectoryError:
        raise fail("is a directory, not a .conv file") from None
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as err:
        raise fail(f"cannot read: {err.strerror or err}") from None
    except ValueError:
        raise fail("is not a valid file name") from None
    if b"\x00" in data:
        raise fail("this is a binary file, not a .conv spec")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise fail(f"not UTF-8 text (byte {err.start})") from None
    return Source(normalize(text), name)


class Network:
    """A compiled spec: the elaborated IR, its shapes and its cost."""

    def __init__(self, net: ir.Network, source: Source):
        self.ir = net
        self.source = source

    @property
    def name(self) -> str:
        return self.ir.name

    @property
    def params(self) -> dict[str, Any]:
        """The parameter values this network was compiled with."""
        return dict(self.ir.params)

    @property
    def input_shape(self) -> ir.Shape:
        return self.ir.input

    @property
    def output_shape(self) -> ir.Shape:
        return self.ir.output

    @functools.cached_property
    def cost(self) -> Cost:
        return Cost(self.ir)

    @functools.cached_property
    def shapes(self) -> dict[str, ir.Shape]:
        """The output shape of every layer and block, by path (`unit1.conv1`)."""
        from .cost import walk

        return {name: node.out_shape for name, node in walk(self.ir.body)}

    def emit(self, target: str, **options: Any) -> str:
        """Source code for `target` ("torch", "keras"): see `specgen.emit`."""
        from .emit import get_emitter

        return get_emitter(target).emit(self, **options)

    def to_torch(self) -> Any:
        """A `torch.nn.Module` of this network, built in memory from the generated source."""
        from .emit import get_emitter

        return get_emitter("torch").build(self)

    def to_keras(self, *, split_groups: bool = False) -> Any:
        """A `keras.Model` of this network, built in memory from the generated source."""
        from .emit import get_emitter

        return get_emitter("keras").build(self, split_groups=split_groups)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={ir.format_value(v)}" for k, v in self.ir.params)
        return f"<Network {self.name}({args}) {self.input_shape} -> {self.output_shape}>"


def compile(  # noqa: A001 - the natural name for the entry point
    spec: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    filename: str | None = None,
) -> Network:
    """Compile a spec (a path or its text) with parameter values overriding the defaults.

    Raises `SpecError` with every mistake found; never any other exception for bad input.
    """
    source = read_source(spec, filename)
    program, analysis = _front(source.text, source.filename)
    errors = list(analysis.errors)
    if any(d.code == "recursive-block" for d in errors):
        raise SpecError(errors, source)  # expanding would only hit the nesting limit
    net, found = elaborate(program, params, analysis)
    errors.extend(found)
    if net is not None and not errors:
        errors.extend(validate(net))
    elif net is not None:
        known = set(errors)
        errors.extend(d for d in validate(net) if d not in known)
    if errors:
        raise SpecError(errors, source)
    return Network(net, source)
