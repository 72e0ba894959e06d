"""The family form of the PyTorch target: the spec's whole family as parameterised code.

One class per block definition, its constructor taking the input channels, the block's
parameters and the network globals it reads; a network class whose keyword arguments are the
spec's parameters (defaults included), which checks their domains and the spec's asserts
(ValueError with the spec's message) and computes its `let`s in Python.  Each member of the
family is `Net(**params)`; its state_dict keys, shapes and order, parameter count, MACs and
outputs are those of the per-point code of the same member (tests/test_family.py).

What the family code cannot write yet (a composite inside a loop, `gdc`, `padding=same`,
`sepconv`, an `fc` on a map whose size it does not follow, names that depend on a branch
taken) raises `Untranslatable`; `emit_family` then returns None and the per-point code
serves (docs/targets.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...elaborate.analysis import analyze
from ...language import domains
from ...language import syntax as S
from ...names import NameTable
from ..common import camel, grouped, num, render, shape_text
from .bodies import IN, BodyWriter, Flow
from .layers import literal
from .pyexpr import NeedsSize, PyExpr, Untranslatable
from .syntax import appends_only, container_uses, is_sequential
from .tidy import collapse, conditional_calls, merge_pairs, prune_channels, prune_sizes

__all__ = ["Untranslatable", "emit_family", "family_source", "python_value"]

# module-level names of torch_family.py.j2 (and its helpers), and the methods' fixed names
TEMPLATE_NAMES = frozenset(
    {"torch", "nn", "math", "OrderedDict", "divide", "make_divisible", "unique", "count", "place"}
    | {
        "next_index",
        "conv_size",
        "pair",
        "size",
        "in_size",
        "FlatLinear",
        "channel_shuffle",
        "ChannelShuffle",
        "ChannelSlice",
        "DropPath",
        "InterleavedGroupConv",
        "LayerNorm2d",
        "Linear2d",
        "LayerScale",
        "GlobalResponseNorm",
    }
    | {"SqueezeExcitation", "self", "x", "channels", IN, "fold_batchnorm", "fold_sequence"}
    | {"fold_pairs", "SequentialBlock"}
)


@dataclass
class FamilyClass:
    name: str
    base: str
    signature: str
    doc: str
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    param_names: dict[str, str] = field(default_factory=dict)
    globals_: tuple[str, ...] = ()
    out_rank: int = 4
    constants: list[str] = field(default_factory=list)
    folds: list[str] = field(default_factory=list)  # `fold_batchnorms`' lines
    fuse: bool = False  # the network class: `fuse()`
    out_param: str | None = None  # the parameter (or `in`) its output channels are, if any
    defaults: dict[str, str] = field(default_factory=dict)  # parameters' literal defaults
    keeps_size: bool = False  # its output's H×W is its input's
    global_names: dict[str, str] = field(default_factory=dict)  # the globals' keywords


class FamilyGenerator:
    """The classes of one family module, from the program behind `net`; `sizes`: the
    constructors follow the H×W of the maps too (where a layer's module depends on it)."""

    def __init__(self, net: Any, sizes: bool = False):
        self.net = net
        self.sizes = sizes
        self.program: S.Program = net.ir.program
        self.analysis = analyze(self.program)
        self.helpers: set[str] = set()
        self.reserved = TEMPLATE_NAMES
        self.table = NameTable(TEMPLATE_NAMES)
        self.blocks: dict[str, FamilyClass] = {}
        self.classes: list[FamilyClass] = []
        self.network_name = self.table.take(camel(self.program.name, "Net"))
        # the parameters and lets that are floats at the defaults (`width=1.0`): a width
        # computed from one is converted with `whole()`
        scope = (
            getattr(net.at_defaults(), "ir", net.ir).scope if hasattr(net, "at_defaults") else ()
        )
        self.float_globals = {k for k, v in scope if isinstance(v, float)}
        # and those that are lists (`let k = 5x5`): a kernel read from one is a pair
        self.pair_globals = {k for k, v in scope if isinstance(v, tuple)}

    def text(self, span: Any) -> str:
        """The spec's text at `span` (one line)."""
        line = self.net.source.text.splitlines()[span.line - 1]
        end = span.end_column - 1 if span.end_line == span.line else len(line)
        return line[span.column - 1 : end]

    def order(self) -> list[S.BlockDef]:
        """The blocks the network calls, callees before callers."""
        defs = {b.name: b for b in self.program.blocks}
        done: list[str] = []

        def visit(name: str) -> None:
            if name in done or name not in defs:
                return
            for callee in _calls(defs[name].body, set(defs)):
                visit(callee)
            done.append(name)

        for name in _calls(self.program.body, set(defs)):
            visit(name)
        return [defs[n] for n in done]

    def block(self, bdef: S.BlockDef) -> FamilyClass:
        table = NameTable(TEMPLATE_NAMES)
        params: dict[str, str] = {}
        signature = ["self", f"{IN}: int"] + (["in_size: tuple[int, int]"] if self.sizes else [])
        late, defaults, globals_ = self.block_parameters(bdef, table, params, signature)
        if globals_:
            signature.append("*")
        for g in globals_:
            params[g] = table.take(g)
            signature.append(params[g])
        sequential = is_sequential(bdef.body)
        writer = BodyWriter(self, not sequential, params)
        writer.names = table
        table.used.update(("channels", "out_channels"))
        writer.container_uses = container_uses(bdef.body)
        writer.appends_only = sequential and appends_only(bdef.body)
        if self.sizes:
            writer.size = "size"
            writer.init.add("size = in_size")
        for p in late:
            writer.init.add(f"if {params[p.name]} is None:")
            writer.init.add(f"    {params[p.name]} = {writer.py(p.default)}")
        flow = writer.body(bdef.body, Flow())
        self.helpers |= writer.py.used
        init = _lines(writer.init, keep_size=True, channels=writer.channels)
        if writer.channels == "channels" and init and init[-1].startswith("channels = "):
            writer.channels = init.pop()[len("channels = ") :]  # the output's channels
        own = {params[p.name]: p.name for p in bdef.params if p not in late}
        cls = FamilyClass(
            self.table.take(camel(bdef.name, "Block")),
            "SequentialBlock" if sequential else "nn.Module",
            ", ".join(signature),
            self._doc(bdef.span.line, f"{bdef.name}({', '.join(p.name for p in bdef.params)})"),
            init
            + [f"self.out_channels = {writer.channels}"]
            + (["self.out_size = size"] if self.sizes else []),
            [] if sequential else _forward(writer.fwd, flow.var),
            {p.name: params[p.name] for p in bdef.params},
            globals_,
            flow.rank,
            writer.constants,
            [] if sequential else self._folds(writer, sequential),
            out_param=IN if writer.channels == IN else own.get(writer.channels),
            defaults=defaults,
            keeps_size=not any(_sets_size(line) for line in init),
            global_names={g: params[g] for g in globals_},
        )
        if sequential:  # SequentialBlock folds its BatchNorms
            self.helpers |= {"fold", "fold_sequence", "sequential_block"}
        self.blocks[bdef.name] = cls
        return cls

    # ---- the network -------------------------------------------------------------------------
    def network(self) -> FamilyClass:
        p = self.program
        table = NameTable(TEMPLATE_NAMES)
        params = {q.name: table.take(q.name) for q in p.params}
        # the keyword arguments are the spec's names (the family's API); one the code needs
        # for itself (`channels`) is copied to a local of another name first
        if any(q.name in ("self", "__class__") for q in p.params):
            raise Untranslatable("a parameter named `self`")
        signature = ["self"] + [
            q.name + (f"={self._literal(q.default)}" if q.default else "") for q in p.params
        ]
        sequential = is_sequential(p.body)
        writer = BodyWriter(self, not sequential, params)
        writer.names = table
        for q in p.params:
            if params[q.name] != q.name:
                writer.init.add(f"{params[q.name]} = {q.name}")
        table.used.update(("channels", "out_channels"))
        writer.container_uses = container_uses(p.body)
        writer.appends_only = sequential and appends_only(p.body)
        for line in self._domain_checks(params):
            writer.init.add(line)
        for stmt in p.lets:
            writer.statement(stmt, Flow(), False)
        writer.init.add(f"{IN} = {writer.py(p.input[0])}")
        if self.sizes:
            writer.size = "size"
            writer.init.add(f"size = ({writer.py(p.input[1])}, {writer.py(p.input[2])})")
        flow = writer.body(p.body, Flow())
        self.helpers |= writer.py.used
        cls = FamilyClass(
            self.network_name,
            "nn.Sequential" if sequential else "nn.Module",
            ", ".join(signature),
            self._doc(p.name_span.line, None),
            _lines(writer.init),
            [] if sequential else _forward(writer.fwd, flow.var),
            constants=writer.constants,
            folds=self._folds(writer, sequential),
            fuse=True,
        )
        return cls

    def _folds(self, writer: BodyWriter, sequential: bool) -> list[str]:
        """`fold_batchnorms`: a sequence folds each BatchNorm after a conv or linear child;
        a class with a forward of its own folds the pairs it applies one after another."""
        if sequential:
            self.helpers |= {"fold", "fold_sequence"}
            return ["fold_sequence(self)"]
        return ["    " * level + text for level, text in merge_pairs(writer.folds.lines)]

    def _domain_checks(self, params: dict[str, str]) -> list[str]:
        dims, _errors = domains.domains(self.program)
        lines = []
        for d in dims:
            test = _domain_test(params[d.name], d.domain)
            if test is None:
                continue
            message = (
                f"parameter `{d.name}` = {{{params[d.name]}!r}} is outside its domain {d.domain}"
            )
            lines += [f"if {test}:", f'    raise ValueError(f"{message}")']
        return lines

    def block_parameters(
        self, bdef: S.BlockDef, table: NameTable, params: dict[str, str], signature: list[str]
    ) -> tuple[list[S.Param], dict[str, str], tuple[str, ...]]:
        """A block definition's parameters, named in `table` (into `params`) and written
        into `signature`; returns those whose defaults are computed in the body (from the
        globals), the literal defaults, and the globals the block reads (its keyword-only
        arguments).  A block that hides a global one of its callees reads is refused."""
        late: list[S.Param] = []
        defaults: dict[str, str] = {}
        for p in bdef.params:
            params[p.name] = table.take(p.name)
            if p.default is None:
                signature.append(params[p.name])
            elif self._is_literal(p.default):
                defaults[p.name] = self._literal(p.default)
                signature.append(f"{params[p.name]}={defaults[p.name]}")
            else:
                signature.append(f"{params[p.name]}=None")
                late.append(p)
        own = {p.name for p in bdef.params} | _bound(bdef.body)
        globals_ = tuple(g for g in self.analysis.reads.get(bdef.name, ()) if g not in own)
        for callee in _calls(bdef.body, set(self.blocks)):
            shadowed = set(self.blocks[callee].globals_) & own
            if shadowed:
                raise Untranslatable(
                    f"`{bdef.name}` hides the global `{min(shadowed)}` that `{callee}` reads"
                )
        return late, defaults, globals_

    def _is_literal(self, e: S.Expr) -> bool:
        try:
            self._literal(e)
        except Untranslatable:
            return False
        return True

    def _literal(self, e: S.Expr) -> str:
        """A parameter's default: an expression of literals only."""

        def refuse(name: str) -> str:
            raise Untranslatable(f"a default that reads `{name}`")

        return PyExpr(refuse)(e)

    def _doc(self, line: int, title: str | None) -> str:
        """The spec's comment lines just above `line` as a docstring (`title` first)."""
        lines = self.net.source.text.splitlines()
        comments: list[str] = []
        i = line - 2
        while i >= 0 and lines[i].lstrip().startswith("#"):
            comments.insert(0, lines[i].lstrip()[1:].rstrip())
            i -= 1
        comments = [c[1:] if c.startswith(" ") else c for c in comments]
        if title is not None:
            comments = [f"{title}: {comments[0]}" if comments else f"{title}.", *comments[1:]]
        if not comments:
            comments = [f"The `{self.program.name}` network."]
        return _docstring(comments)

    # ---- the module --------------------------------------------------------------------------
    def module(self) -> str:
        for bdef in self.order():
            self.classes.append(self.block(bdef))
        network = self.network()
        self.classes.append(network)
        net = getattr(self.net, "at_defaults", lambda: self.net)()  # the defaults' member
        if "igc" in self.helpers:
            self.helpers.add("shuffle")
        if "fold_sequence" in self.helpers:
            self.helpers.add("fold")
        helpers = {h: h in self.helpers for h in _HELPERS}
        helpers["math"] = "math" in self.helpers
        doc = {
            "title": f"The `{self.program.name}` family as PyTorch modules: {network.name}(...)",
            "version": _version(),
            "source": _source(net),
            "network": network.name,
            "input": shape_text(net.input_shape),
            "output": shape_text(net.output_shape),
            "flat": net.output_shape.flat,
            "params": grouped(net.cost.params),
            "macs": grouped(net.cost.macs),
        }
        return render("torch_family.py.j2", doc=doc, helpers=helpers, classes=self.classes)


_HELPERS = ("divide", "make_divisible", "unique", "count", "place", "flat_linear", "shuffle")
_HELPERS += ("slice", "droppath", "layernorm", "linear", "layerscale", "grn")
_HELPERS += ("igc", "se", "ordered_dict", "conv_size", "pair", "same_padding", "fold")
_HELPERS += ("fold_sequence", "fold_pairs", "sequential_block", "auto_padding", "whole")


FamilyCache = dict[int, tuple[S.Program, tuple[str, str] | str]]
_CACHE: FamilyCache = {}
_CACHE_SIZE = 64


def once_per_program(cache: FamilyCache, net: Any, make: Any) -> tuple[str, str]:
    """`make(net)` (source, name) made once per program object (the compiler keeps one per
    spec text and input), or the Untranslatable it raised, raised again."""
    program = net.ir.program
    found = cache.get(id(program))
    if found is None or found[0] is not program:
        try:
            result: tuple[str, str] | str = make(net)
        except Untranslatable as e:
            result = str(e)
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        found = cache[id(program)] = (program, result)
    if isinstance(found[1], str):
        raise Untranslatable(found[1])
    return found[1]


def _make(net: Any) -> tuple[str, str]:
    try:
        gen = FamilyGenerator(net)
        return gen.module(), gen.network_name
    except NeedsSize:  # written again, following the input's size through the blocks
        gen = FamilyGenerator(net, sizes=True)
        return gen.module(), gen.network_name


def family_source(net: Any) -> tuple[str, str]:
    """(the family module's source, unformatted; the network class's name); raises
    Untranslatable.  Every member of a family has the same code: it is made once per
    program."""
    return once_per_program(_CACHE, net, _make)


def python_value(value: Any) -> Any:
    """A parameter's value as the family code takes it: the language's lists (tuples) as
    lists, its tables as dicts."""
    if isinstance(value, tuple):
        return [python_value(v) for v in value]
    if type(value).__name__ == "Table":  # the language's tables: dicts
        return {python_value(k): python_value(v) for k, v in value.items}
    return value


def emit_family(net: Any) -> str | None:
    """The family module, black-formatted, or None where the spec needs the per-point code."""
    import black

    try:
        code, _ = family_source(net)
    except Untranslatable:
        return None
    return black.format_str(code, mode=black.Mode())


def _domain_test(name: str, domain: Any) -> str | None:
    """The Python test that `name` lies outside `domain`."""
    kind = type(domain).__name__
    if kind == "Choice":
        return f"{name} not in ({', '.join(_value(v) for v in domain.values)},)"
    if kind == "IntRange":
        return f"{name} not in range({domain.start}, {domain.stop}, {domain.step})"
    if kind == "Uniform":
        return f"not {num(domain.low)} <= {name} <= {num(domain.high)}"
    return None  # a list of domains: its items are checked where they are used


def _value(v: Any) -> str:
    """A domain's value as Python (a list as a list)."""
    if isinstance(v, tuple):
        return f"[{', '.join(_value(x) for x in v)}]"
    return literal(v)


def _calls(stmts: tuple[S.Stmt, ...], blocks: set[str]) -> list[str]:
    out: list[str] = []
    for s in stmts:
        t = type(s)
        if t is S.Simple and s.head.name in blocks:
            out.append(s.head.name)
        elif t is S.Compound:
            out += _calls(s.body, blocks)
        elif t is S.If:
            for _, b in s.branches:
                out += _calls(b, blocks)
        elif t is S.For:
            out += _calls(s.body, blocks)
    return out


def _forward(code: Any, result: str) -> list[str]:
    """The forward's lines, its last assignment returned directly."""
    lines = conditional_calls(code.lines)
    if lines and lines[-1][0] == 0 and lines[-1][1].startswith(f"{result} = "):
        lines[-1] = (0, "return " + lines[-1][1][len(result) + 3 :])
    else:
        lines.append((0, f"return {result}"))
    return ["    " * level + text for level, text in lines]


def _lines(code: Any, keep_size: bool = False, channels: str = "") -> list[str]:
    """The constructor's lines, tidied; `channels`: what `self.out_channels` is then set to."""
    lines = prune_sizes(collapse(code.lines), keep_size)
    lines = prune_channels(lines, re.search(r"\bchannels\b", channels) is not None)
    return ["    " * level + text for level, text in lines]


def _docstring(lines: list[str] | str) -> str:
    """Lines as the inside of a class's docstring (indented, the closing quotes on a line of
    their own when there are several)."""
    if isinstance(lines, str):
        lines = [lines]
    lines = [line.replace("\\", "\\\\").replace('"""', "'''") for line in lines]
    if len(lines) == 1:  # a quote last would run into the closing ones (as black spaces it)
        return lines[0] + " " if lines[0].endswith('"') else lines[0]
    return "\n".join([lines[0], *("    " + x if x else "" for x in lines[1:]), "    "])


def _version() -> str:
    from ...version import __version__

    return __version__


def _source(net: Any) -> str:
    from ..common import doc_info

    return doc_info(net).source


def _bound(stmts: tuple[S.Stmt, ...]) -> set[str]:
    """The names a body binds: its `let`s and loop variables."""
    out: set[str] = set()
    for s in stmts:
        t = type(s)
        if t is S.Let:
            out.add(s.name)
        elif t is S.For:
            out |= set(s.targets) | _bound(s.body)
        elif t is S.If:
            for _, b in s.branches:
                out |= _bound(b)
        elif t is S.Compound:
            out |= _bound(s.body)
    return out


def _sets_size(line: str) -> bool:
    """Whether a constructor's line gives `size` a value other than the input's."""
    text = line.strip()
    if not text.startswith("size = "):
        return False
    value = text[len("size = ") :]
    return value != "in_size" and not value.startswith("branch_size")
