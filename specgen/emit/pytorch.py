"""The PyTorch target: one self-contained module of readable `nn.Module` classes.

One class per distinct block instantiation (its layers as attributes named like the cost
report's rows, its `forward` spelling out residual / concat / split dataflow), a network class
constructible without arguments, and two small helpers when used: `channel_shuffle` (reshape
and transpose only) and `InterleavedGroupConv`.  `build` executes the same source in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import ir
from . import register
from .common import (
    FRESH,
    BodyWriter,
    Vars,
    block_keys,
    call_text,
    class_style,
    doc_info,
    format_code,
    instance_key,
    instance_names,
    render,
    run_source,
)

RESERVED_CLASSES = {"ChannelShuffle", "InterleavedGroupConv", "OrderedDict", "Tensor", "Module"}
_ACTS = {
    "relu": "nn.ReLU({inplace})",
    "relu6": "nn.ReLU6({inplace})",
    "leakyrelu": "nn.LeakyReLU({slope}{inplace_kw})",
    "prelu": "nn.PReLU({channels})",
    "hswish": "nn.Hardswish({inplace})",
    "hsigmoid": "nn.Hardsigmoid({inplace})",
    "sigmoid": "nn.Sigmoid()",
    "silu": "nn.SiLU({inplace})",
    "tanh": "nn.Tanh()",
    "gelu": "nn.GELU()",
}


def _size(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]}, {pair[1]})"


def conv_args(node: ir.Conv | ir.IGC) -> list[str]:
    """Keyword arguments shared by Conv2d and InterleavedGroupConv; defaults left out."""
    args = [f"kernel_size={_size(node.kernel)}"]
    if node.stride != (1, 1):
        args.append(f"stride={_size(node.stride)}")
    if node.padding != (0, 0):
        args.append(f"padding={_size(node.padding)}")
    if node.dilation != (1, 1):
        args.append(f"dilation={_size(node.dilation)}")
    return args


def module_ctor(node: ir.Node, rank: int, inplace: bool) -> str:
    """The constructor expression of one layer."""
    t = type(node)
    c = node.in_shape.c
    if t is ir.Conv:
        args = [str(c), str(node.out), *conv_args(node)]
        if node.groups != 1:
            args.append(f"groups={node.groups}")
        if not node.bias:
            args.append("bias=False")
        return f"nn.Conv2d({', '.join(args)})"
    if t is ir.IGC:
        args = [f"M={node.M}", f"L={node.L}", *conv_args(node)]
        if node.bias:
            args.append("bias=True")
        return f"InterleavedGroupConv({', '.join(args)})"
    if t is ir.Shuffle:
        return f"ChannelShuffle({node.groups})"
    if t is ir.BatchNorm:
        args = [str(c)]
        if node.eps != 1e-5:
            args.append(f"eps={node.eps!r}")
        if node.momentum != 0.1:
            args.append(f"momentum={node.momentum!r}")
        return f"nn.BatchNorm{'1' if rank == 2 else '2'}d({', '.join(args)})"
    if t is ir.Act:
        return _ACTS[node.kind].format(
            inplace="inplace=True" if inplace else "",
            inplace_kw=", inplace=True" if inplace else "",
            slope=f"negative_slope={node.slope!r}",
            channels=c,
        )
    if t is ir.Pool:
        cls = "nn.MaxPool2d" if node.kind == "max" else "nn.AvgPool2d"
        args = [f"kernel_size={_size(node.kernel)}", f"stride={_size(node.stride)}"]
        if node.padding != (0, 0):
            args.append(f"padding={_size(node.padding)}")
        return f"{cls}({', '.join(args)})"
    if t is ir.GlobalPool:
        return "nn.AdaptiveAvgPool2d(1)" if node.kind == "avg" else "nn.AdaptiveMaxPool2d(1)"
    if t is ir.Flatten:
        return "nn.Flatten()"
    if t is ir.Linear:
        bias = "" if node.bias else ", bias=False"
        return f"nn.Linear({node.in_shape.numel}, {node.out}{bias})"
    if t is ir.Dropout:
        return f"nn.Dropout(p={node.p!r})"
    if t is ir.Identity:
        return "nn.Identity()"
    raise AssertionError(f"no PyTorch module for {t.__name__}")


@dataclass
class _Class:
    name: str
    doc: str
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    out_rank: int = 4


class _Generator:
    def __init__(self, net: Any):
        self.net = net
        self.classes: list[_Class] = []
        self.done: dict[tuple, _Class] = {}
        self.helpers = {"shuffle": False, "igc": False, "ordered_dict": False}
        reserved = RESERVED_CLASSES | {_network_class(net)}
        self.names = instance_names(block_keys(net), reserved, class_style)

    def network(self) -> _Class:
        net = self.net
        doc = f"{call_text(net.name, net.ir.params)}: {net.input_shape} -> {net.output_shape}."
        return self._class(_network_class(net), doc, net.ir.body)

    def block(self, node: ir.Block) -> _Class:
        key = instance_key(node)
        cls = self.done.get(key)
        if cls is None:
            doc = f"{call_text(node.name, node.args)}: {node.in_shape} -> {node.out_shape}."
            cls = self._class(self.names[key], doc, node.body)
            self.done[key] = cls
        return cls

    def _class(self, name: str, doc: str, body: ir.Seq) -> _Class:
        cls = _Class(name, doc)
        out, rank = _ForwardWriter(self, cls).seq(body.children, "x", "x", 4)
        cls.forward.append(f"return {out}")
        cls.out_rank = rank
        self.classes.append(cls)
        return cls

    def sequential(self, node: ir.SepConv) -> str:
        self.helpers["ordered_dict"] = True
        items = []
        owned = False
        for name, child in node.body.children:
            items.append(f'("{name}", {module_ctor(child, 4, owned and type(child) is ir.Act)})')
            owned = isinstance(child, FRESH) or type(child) is ir.Act
        return f"nn.Sequential(OrderedDict([{', '.join(items)}]))"

    def use(self, node: ir.Node) -> None:
        if type(node) is ir.Shuffle:
            self.helpers["shuffle"] = True
        elif type(node) is ir.IGC:
            self.helpers["shuffle"] = self.helpers["igc"] = True


class _ForwardWriter(BodyWriter):
    """`__init__` lines (the modules) and `forward` lines (the data flow) of one class."""

    def __init__(self, gen: _Generator, cls: _Class):
        super().__init__(cls.forward, Vars({"x", "self", "torch", "nn"}))
        self.gen, self.cls = gen, cls

    def layer(self, name: str, node: ir.Node, arg: str, out: str, rank: int, owned: bool) -> int:
        t = type(node)
        if t is ir.Linear and rank == 4:
            arg = f"torch.flatten({arg}, 1)"
        if t is ir.Block:
            sub = self.gen.block(node)
            ctor, new_rank = f"{sub.name}()", sub.out_rank
        elif t is ir.SepConv:
            ctor, new_rank = self.gen.sequential(node), 4
        else:
            ctor = module_ctor(node, rank, owned and t is ir.Act)
            self.gen.use(node)
            new_rank = 2 if t is ir.Linear or t is ir.Flatten else rank
        self.cls.init.append(f"self.{name} = {ctor}")
        self.lines.append(f"{out} = self.{name}({arg})  # {_shape(node.out_shape, new_rank)}")
        return new_rank

    def to_map(self, var: str, out: str, shape: ir.Shape) -> None:
        self.lines.append(f"{out} = {var}[:, :, None, None]")

    def merge(self, kind: str, name: str, out: str, parts: list[str], node: ir.Node) -> None:
        if kind == "add":
            self.lines.append(f"{out} = {' + '.join(parts)}  # {node.out_shape}")
        else:
            self.lines.append(
                f"{out} = torch.cat([{', '.join(parts)}], dim=1)  # {node.out_shape}"
            )

    def split(self, name: str, parts: list[str], var: str, sizes: tuple[int, ...]) -> None:
        target = ", ".join(parts) + ("," if len(parts) == 1 else "")
        if len(set(sizes)) == 1:
            self.lines.append(f"{target} = {var}.chunk({len(parts)}, dim=1)")
        else:
            self.lines.append(f"{target} = torch.split({var}, {list(sizes)}, dim=1)")


def _shape(shape: ir.Shape, rank: int) -> str:
    return f"{shape.c}" if rank == 2 else str(shape)


def _network_class(net: Any) -> str:
    from .common import camel

    name = camel(net.name)
    return name if name not in RESERVED_CLASSES else name + "Net"


class TorchEmitter:
    name = "torch"

    def emit(self, net: Any, *, format: bool = True) -> str:  # noqa: A002 - mirrors black
        """The module's source; `format=False` skips black (for in-memory builds)."""
        gen = _Generator(net)
        network = gen.network()
        code = render(
            "torch.py.j2",
            doc=doc_info(net),
            helpers=gen.helpers,
            classes=gen.classes,
        )
        assert network is gen.classes[-1]
        return format_code(code) if format else code

    def build(self, net: Any) -> Any:
        """An `nn.Module` instance of the network, compiled from the generated source."""
        code = self.emit(net, format=False)
        namespace = run_source(code, f"specgen_generated.{net.name}", "<specgen torch>")
        return namespace[_network_class(net)]()


TORCH = register(TorchEmitter())
