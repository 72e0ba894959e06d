"""The family form of the Keras target: the spec's whole family as keras.applications-style
functions.

One function per block definition, `def bottleneck(x, planes, stride, *, groups,
width_per_group, name)`, whose layers are named `{name}-conv1`, ...; one network function
whose keyword arguments are the spec's parameters (defaults included) and `input_shape`,
which checks their domains and the spec's asserts (ValueError with the spec's message),
computes its `let`s in Python and returns a `keras.Model`.  Layer names are those of the
per-point code (the PyTorch module paths, `-` for `.`), so `verify` and the weight transfer
work as before; only Keras' own layers are used, so a saved `.keras` file loads anywhere.

What it cannot write (a `split` named at run time, an average pool in ceil mode, names that
depend on a branch taken, ...) raises Untranslatable, and the per-point code serves
(docs/targets.md), as it does for `split_groups=True`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...language import syntax as S
from ...names import NameTable
from ..common import grouped, nhwc, render
from ..family import FamilyCache, FamilyGenerator, once_per_program
from ..family.code import Flow
from ..family.pyexpr import NeedsSize, Untranslatable
from ..family.syntax import reads_in
from .naming import RuntimeCount, RuntimePaths
from .writer import KerasBody

__all__ = ["Untranslatable", "keras_family_source"]

# module-level names of keras_family.py.j2, and the functions' fixed locals
TEMPLATE_NAMES = frozenset(
    {"keras", "layers", "math", "divide", "whole", "make_divisible", "unique", "count"}
    | {"place", "pad", "channel_shuffle", "interleaved_group_conv", "hard_sigmoid"}
    | {"squeeze_excitation", "apply_activation", "max_pool", "edge_pad", "pair"}
    | {"adaptive_avg_pool", "split_channels", "x", "name", "inputs", "input_shape", "indices"}
    | {"auto_padding", "prelu", "channel_slice", "GlobalResponseNorm"}
)

_HELPERS = ("divide", "whole", "make_divisible", "unique", "count", "math", "place", "pad")
_HELPERS += ("shuffle", "igc", "hard_sigmoid", "se", "max_pool", "pair", "adaptive", "split")
_HELPERS += ("auto_padding", "activation", "prelu", "slice", "grn")


@dataclass
class KerasFunction:
    name: str
    signature: str
    doc: str
    lines: list[str] = field(default_factory=list)
    param_names: dict[str, str] = field(default_factory=dict)  # parameters and globals
    globals_: tuple[str, ...] = ()
    out_rank: int = 4
    returns: str = ""

    @property
    def header(self) -> str:
        return f"def {self.name}({self.signature}){self.returns}:"


class KerasFamilyGenerator(FamilyGenerator):
    """The functions of one Keras family module, from the program behind `net` (the
    spec-reading parts are the PyTorch family generator's)."""

    def __init__(self, net: Any):
        super().__init__(net)
        self.reserved = TEMPLATE_NAMES
        self.table = NameTable(TEMPLATE_NAMES)
        self.network_name = self.table.take(self.program.name)
        self.blocks: dict[str, KerasFunction] = {}  # type: ignore[assignment]
        self.functions: list[KerasFunction] = []

    def block(self, bdef: S.BlockDef) -> KerasFunction:  # type: ignore[override]
        return self._written(lambda runtime, counted: self._block(bdef, runtime, counted))

    def _written(self, write):
        """A function written with static names where every member has them, else again
        with every path of its body resolved at run time (a loop, an `if` or a `{hole}`
        decides them), and the names whose numbers an `if` decides counted at run time."""
        helpers = set(self.helpers)
        runtime, counted = False, set()
        while True:
            try:
                return write(runtime, frozenset(counted))
            except RuntimePaths:
                if runtime:
                    raise
                runtime = True
            except RuntimeCount as e:
                if e.base in counted:
                    raise Untranslatable(str(e)) from None
                counted.add(e.base)
            self.helpers.clear()
            self.helpers |= helpers

    def _block(self, bdef: S.BlockDef, runtime: bool, counted: frozenset) -> KerasFunction:
        table = NameTable(TEMPLATE_NAMES, parent=self.table)
        params: dict[str, str] = {}
        signature = ["x"]
        late, _, globals_ = self.block_parameters(bdef, table, params, signature)
        signature.append("*")
        for g in globals_:
            params[g] = table.take(g)
            signature.append(params[g])
        signature.append("name")
        writer = KerasBody(self, params, "name", table)
        self._start(writer, runtime, counted)
        writer.hold_in(bdef.body, "x", always=bool(late))  # a default may read `in`
        for p in late:
            writer.code.add(f"if {params[p.name]} is None:")
            writer.code.add(f"    {params[p.name]} = {writer.py(p.default)}")
        flow = writer.body(bdef.body, Flow("x", "x"))
        lines = _lines(writer) + [f"return layers.Identity(name=name)({flow.var})"]
        title = f"{bdef.name}({', '.join(p.name for p in bdef.params)})"
        fn = KerasFunction(
            self.table.take(bdef.name),
            ", ".join(signature),
            self._doc(bdef.span.line, title),
            lines,
            {**{p.name: params[p.name] for p in bdef.params}, **{g: params[g] for g in globals_}},
            globals_,
            flow.rank,
        )
        self.blocks[bdef.name] = fn
        return fn

    def network(self) -> KerasFunction:  # type: ignore[override]
        return self._written(self._network)

    def _network(self, runtime: bool, counted: frozenset) -> KerasFunction:
        p = self.program
        table = NameTable(TEMPLATE_NAMES, parent=self.table)
        params = {q.name: table.take(q.name) for q in p.params}
        if any(params[q.name] != q.name for q in p.params):
            raise Untranslatable("a parameter named like one of the code's own names")
        signature = [
            q.name + (f"={self._literal(q.default)}" if q.default else "") for q in p.params
        ] + ["input_shape=None"]
        writer = KerasBody(self, params, None, table)
        self._start(writer, runtime, counted)
        for line in self._domain_checks(params):
            writer.code.add(line)
        writer.in_text = writer.py(p.input[0])  # the spec's, in its `let`s
        for stmt in p.lets:
            writer.statement(stmt, Flow(), False)
        c, h, w = (writer.py(e) for e in p.input)
        writer.code.add("if input_shape is None:")
        writer.code.add(f"    input_shape = ({h}, {w}, {c})")
        writer.code.add('inputs = keras.Input(shape=input_shape, name="input")')
        if reads_in(p.body):
            writer.in_text = writer.names.fresh("in_channels")
            writer.code.add(f"{writer.in_text} = input_shape[-1]")
        flow = writer.body(p.body, Flow("inputs", "x"))
        lines = _lines(writer) + [f'return keras.Model(inputs, {flow.var}, name="{p.name}")']
        return KerasFunction(
            self.network_name,
            ", ".join(signature),
            self._doc(p.name_span.line, None),
            lines,
            returns=" -> keras.Model",
        )

    @staticmethod
    def _start(writer: KerasBody, runtime: bool, counted: frozenset) -> None:
        """Paths resolved at run time keep each container's next index in `indices`; the
        names in `counted` are counted from the start."""
        writer.runtime_paths = runtime
        if runtime:
            writer.code.add("indices = {}")
        for base in sorted(counted):
            writer.count_from_start(base)

    def module(self) -> str:  # type: ignore[override]
        for bdef in self.order():
            self.functions.append(self.block(bdef))
        self.functions.append(self.network())
        if "igc" in self.helpers:
            self.helpers |= {"shuffle", "pad"}
        net = getattr(self.net, "at_defaults", lambda: self.net)()  # the defaults' member
        doc = {
            "title": f"The `{self.program.name}` family as Keras functions: "
            f"{self.network_name}(...)",
            "version": _version(),
            "source": _source(net),
            "input": nhwc(net.input_shape),
            "output": nhwc(net.output_shape),
            "flat": net.output_shape.flat,
            "params": grouped(net.cost.params),
            "macs": grouped(net.cost.macs),
        }
        helpers = {h: h in self.helpers for h in _HELPERS}
        return render("keras_family.py.j2", doc=doc, helpers=helpers, functions=self.functions)


def _lines(writer: KerasBody) -> list[str]:
    return ["    " * level + text for level, text in writer.code.lines]


_CACHE: FamilyCache = {}


def keras_family_source(net: Any) -> tuple[str, str]:
    """(the Keras family module's source, unformatted; the network function's name); raises
    Untranslatable.  Made once per program, as the PyTorch family code is."""
    return once_per_program(_CACHE, net, _make)


def _make(net: Any) -> tuple[str, str]:
    try:
        gen = KerasFamilyGenerator(net)
        return gen.module(), gen.network_name
    except NeedsSize as e:
        raise Untranslatable(str(e)) from None


def _version() -> str:
    from ...version import __version__

    return __version__


def _source(net: Any) -> str:
    from ..common import doc_info

    return doc_info(net).source
