"""The Keras 3 target: one self-contained module of functional-API builders (channels_last).

One builder function per distinct block instantiation (`unit(x, name)`, its layers named
`{name}-conv1`), and a network function returning a `keras.Model`.  Everything PyTorch does
implicitly is explicit: ZeroPadding2D + valid padding wherever PyTorch pads, BatchNorm epsilon
and momentum, per-channel PReLU, -inf padding before max pooling, PyTorch's (C, H, W) order
before `flatten`.  Each block ends in an Identity layer named after it, so its output can be
read by name.  `split_groups=True` writes group convolutions as slice → Conv2D per group →
Concatenate, for export paths that reject `groups`.

Only Keras' own layers are used (no custom class, no Lambda): a saved `.keras` file loads with
plain `keras.saving.load_model` in any process.  Channel shuffle is Reshape → Permute →
Reshape, a channel slice Reshape → Cropping2D → Reshape, the -inf padding of a max pool edge
copies (Cropping2D + Concatenate), PyTorch's hard sigmoid Normalization + ReLU, and adaptive
average pooling crops and poolings.

This module lays the functions and their data flow out; each layer's lines come from
`keras3_layers`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import black

from .. import ir
from ..errors import Frame
from ..names import NameTable
from .common import (
    block_keys,
    call_text,
    doc_info,
    instance_key,
    instance_names,
    layout,
    nhwc,
    num,
    render,
    run_source,
)
from .family import python_value
from .keras3_layers import LayerWriter
from .keras3_layers import keras_name as keras_name  # deploy, transfer, verify import it here

# module-level names of keras.py.j2 (and of its former helper layers, kept reserved so that
# generated names stay as they were), and the fixed locals of its functions
TEMPLATE_NAMES = frozenset(
    {"keras", "layers", "ops", "ChannelShuffle", "ChannelSlice", "ConstantPad2D"}
    | {"HardSigmoid", "AdaptiveAveragePooling2D", "x", "inputs", "name", "i"}
    | {"GlobalResponseNorm"}
)
DEPTH = 1  # statements stand in functions


@dataclass
class _Function:
    name: str
    signature: str
    returns: str
    doc: str
    wrap: bool = True
    lines: list[str] = field(default_factory=list)
    out_rank: int = 4

    @property
    def header(self) -> str:
        """The `def` line(s), as black lays them out."""
        line = f"def {self.name}({self.signature}){self.returns}:"
        return "\n".join(layout(line, 0, wrap=self.wrap))


def _function_style(block: str, index: int | None) -> str:
    """`unit`, or `unit_1`, `unit_2`, ..."""
    return block if index is None else f"{block}_{index}"


class _Generator:
    """The functions of one module.  Its name table holds the templates' names, then the
    network function, then one function per block instantiation; each function's locals
    come from a table inside it."""

    def __init__(self, net: Any, split_groups: bool, wrap: bool = True):
        self.net = net
        self.split_groups = split_groups
        self.wrap = wrap
        self.functions: list[_Function] = []
        self.done: dict[tuple, _Function] = {}
        self.stack: list[Frame] = []  # the block calls being written, for located errors
        self.helpers = {"grn": False}  # the classes of keras_helpers.py.j2 it uses
        self.table = NameTable(TEMPLATE_NAMES)
        self.network_name = self.table.take(net.name)
        self.names = instance_names(block_keys(net), self.table, _function_style)

    def network(self) -> _Function:
        net = self.net
        s = net.input_shape
        doc = (
            f"{call_text(net.name, net.ir.params)}: {nhwc(s)} -> {nhwc(net.output_shape)} (NHWC)."
        )
        fn = _Function(self.network_name, "", " -> keras.Model", doc, self.wrap)
        writer = _Writer(self, fn, prefix=None)
        writer.add(
            f'inputs = keras.Input(shape=({num(s.h)}, {num(s.w)}, {num(s.c)}), name="input")'
        )
        out, _ = writer.seq(net.ir.body.children, "inputs", "x", 4)
        writer.add(f'return keras.Model(inputs, {out}, name="{net.name}")')
        self.functions.append(fn)
        return fn

    def block(self, node: ir.Block) -> _Function:
        key = instance_key(node)
        fn = self.done.get(key)
        if fn is None:
            doc = (
                f"{call_text(node.name, node.args)}: {nhwc(node.in_shape)} -> "
                f"{nhwc(node.out_shape)}; layers named `{{name}}-...`."
            )
            fn = _Function(self.names[key], "x, name: str", "", doc, self.wrap)
            writer = _Writer(self, fn, prefix="name")
            self.stack.append(Frame(node.name, node.args, node.src.span))
            try:
                out, rank = writer.seq(node.body.children, "x", "x", 4)
            finally:
                self.stack.pop()
            writer.add(f"return layers.Identity(name=name)({out})")
            fn.out_rank = rank
            self.functions.append(fn)
            self.done[key] = fn
        return fn


class _Writer(LayerWriter):
    """The data flow of one builder function (its layers written by LayerWriter's table);
    `prefix` is the variable holding the block's name."""

    def __init__(self, gen: _Generator, fn: _Function, prefix: str | None):
        super().__init__(gen, fn.lines, prefix, DEPTH)
        self.fn = fn

    # ---- BodyWriter --------------------------------------------------------------------
    def layer(self, name: str, node: ir.Node, arg: str, out: str, rank: int, owned: bool) -> int:
        t = type(node)
        if t is ir.Block:
            fn = self.gen.block(node)
            local = keras_name(name)
            block_name = f'f"{{{self.prefix}}}-{local}"' if self.prefix else f'"{local}"'
            self.add(f"{out} = {fn.name}({arg}, {block_name})", nhwc(node.out_shape))
            return fn.out_rank
        if t is ir.SepConv:
            cur = arg
            for child_name, child in node.body.children:
                self.leaf(f"{name}.{child_name}", child, cur, out, 4)
                cur = out
            self.emit(out, f"layers.Identity(name={self.label(name)})", cur)
            return 4
        return self.leaf(name, node, arg, out, rank)

    def to_map(self, var: str, out: str, shape: ir.Shape) -> None:
        self.emit(out, f"layers.Reshape((1, 1, {num(shape.c)}))", var)

    def merge(self, kind: str, name: str, out: str, parts: list[str], node: ir.Node) -> None:
        layer = "layers.Add" if kind == "add" else "layers.Concatenate"
        if len(parts) == 1:
            self.add(f"{out} = {parts[0]}")
            return
        self.emit(
            out, f"{layer}(name={self.label(name)})", f"[{', '.join(parts)}]", nhwc(node.out_shape)
        )

    def composite(self, name: str, node: ir.Node, cur: str, out: str, rank: int):
        if type(node) is ir.Split:
            self.split_shape = node.in_shape  # `split` below slices this map
        return super().composite(name, node, cur, out, rank)

    def split(self, name: str, parts: list[str], var: str, sizes: tuple[int, ...]) -> None:
        """Each part: the map as (H·W, C, 1), cropped to its channels, reshaped back."""
        shape = self.split_shape
        rows = self.names.fresh("rows")
        self.emit(rows, self.flat(shape.h, shape.w, shape.c, self.label(f"{name}.rows")), var)
        start = 0
        for i, (part, width) in enumerate(zip(parts, sizes, strict=True), 1):
            crop = f"layers.Cropping2D({self.channel_crop(start, shape.c - start - width)}, name={self.label(f'{name}.part{i}.crop')})"
            self.emit(part, crop, rows)
            label = self.label(f"{name}.part{i}")
            dims = f"({num(shape.h)}, {num(shape.w)}, {num(width)})"
            self.emit(part, f"layers.Reshape({dims}, name={label})", part)
            start += width


@dataclass(frozen=True)
class _KerasDoc:
    title: str
    version: str
    source: str
    input_nhwc: str
    output_nhwc: str
    params: str
    macs: str
    flat: bool


class KerasEmitter:
    """The Keras target.  The family code (`targets.keras_family`: one function per block
    definition, the network's parameters as keyword arguments) serves wherever it can write
    the spec; the per-point code (one function per block instantiation, every number written
    out) serves the deploy form, `split_groups=True` (whose per-group slices it writes with
    the sizes of one member), and the specs the family code cannot write yet."""

    name = "keras"

    def emit(
        self, net: Any, *, format: bool = True, split_groups: bool = False, family: bool = True
    ) -> str:  # noqa: A002
        """The module's source, black-formatted (`format=False` writes every statement on one
        line); `split_groups` writes group convs as per-group Conv2D; `family=False` asks
        for the per-point code."""
        found = self.family(net) if family and not split_groups else None
        if found is not None:
            return black.format_str(found[0], mode=black.Mode()) if format else found[0]
        return self._emit(net, split_groups, format)[0]

    @staticmethod
    def family(net: Any) -> tuple[str, str] | None:
        """(the family module's source, its network function) where it serves `net`."""
        if net.ir.deploy:
            return None
        from .keras_family import Untranslatable, keras_family_source

        try:
            return keras_family_source(net)
        except Untranslatable:
            return None

    def _emit(self, net: Any, split_groups: bool, wrap: bool) -> tuple[str, str]:
        """(source, name of the network function)."""
        gen = _Generator(net, split_groups, wrap)
        gen.network()
        d = doc_info(net)
        doc = _KerasDoc(
            d.title,
            d.version,
            d.source,
            nhwc(net.input_shape),
            nhwc(net.output_shape),
            d.params,
            d.macs,
            d.flat,
        )
        code = render("keras.py.j2", doc=doc, functions=gen.functions, helpers=gen.helpers)
        return code, gen.network_name

    def build(self, net: Any, *, split_groups: bool = False, family: bool = True) -> Any:
        """A `keras.Model` of the network, built from the generated source in memory: the
        family code's network function called with this member's parameters, where it
        serves."""
        found = self.family(net) if family and not split_groups else None
        if found is not None:
            code, entry = found
            kwargs = {k: python_value(v) for k, v in net.ir.params}
        else:
            code, entry = self._emit(net, split_groups, wrap=False)
            kwargs = {}
        namespace = run_source(code, f"specgen_generated_keras.{net.name}", "<specgen keras>")
        # keras.Model maps its graph recursively, a couple of Python frames per layer: a
        # deep network would hit the default limit of 1000 (`relu x 1000`).  Python 3.11+
        # keeps Python-to-Python calls off the C stack, so a higher limit is safe.
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 1000 + 4 * code.count("\n") + 8 * len(net.cost.layers)))
        try:
            return namespace[entry](**kwargs)
        finally:
            sys.setrecursionlimit(old)


KERAS = KerasEmitter()
