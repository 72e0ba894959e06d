"""The PyTorch target: one self-contained module of readable `nn.Module` classes.

One class per distinct block instantiation (its layers as attributes named like the cost
report's rows, its `forward` spelling out residual / concat / split dataflow), a network class
constructible without arguments, and small helpers when used: `channel_shuffle` (reshape
and transpose only), `InterleavedGroupConv` and `SqueezeExcitation`.  `build` executes the same source in memory.

This module lays the classes out; each layer's constructor comes from `pytorch_layers`, and
`loading` registers an in-memory build as a module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import black

from .. import ir
from ..names import NameTable
from ..passes.fold import own_pairs
from .common import (
    FRESH,
    BodyWriter,
    block_keys,
    call_text,
    camel,
    class_style,
    doc_info,
    instance_key,
    instance_names,
    layout,
    num,
    render,
    shape_text,
    size,
)
from .family import Untranslatable, family_source, python_value
from .loading import load_module
from .pytorch_layers import FUSED_ACTS, module_ctor, pad_sides, padded
from .tree import ModuleTree

# module-level names of torch.py.j2, and the fixed locals of its methods
TEMPLATE_NAMES = frozenset(
    {"torch", "nn", "OrderedDict", "channel_shuffle", "ChannelShuffle", "InterleavedGroupConv",
     "ChannelSlice", "DropPath", "LayerNorm2d", "Linear2d", "LayerScale",
     "GlobalResponseNorm"}  # fmt: skip
    | {"SqueezeExcitation", "fold_batchnorm", "Module", "Tensor", "self", "x", "module"}
    | {"DeployConv2d", "ONEDNN", "ONEDNN_ACTIVATIONS", "_onednn_ready"}
    | {"ctypes", "MEMCMP", "_find_memcmp"}
    | {"is_channels_last", "in_layout"}
)
DEPTH = 2  # statements stand in methods of classes


def fuse_activations(
    children: Sequence[ir.Named], deploy: bool
) -> tuple[Sequence[ir.Named], dict[str, str]]:
    """(`children` less the activations fused away, {conv name: what its DeployConv2d
    fuses}).  In the deploy form every conv is a DeployConv2d, and a ReLU or ReLU6 right
    after one runs in its kernel (and has no module of its own); otherwise nothing changes."""
    if not deploy:
        return children, {}
    kept: list[ir.Named] = []
    fused: dict[str, str] = {}
    i = 0
    while i < len(children):
        name, node = children[i]
        kept.append(children[i])
        i += 1
        if type(node) is ir.Conv:
            after = children[i][1] if i < len(children) else None
            fused[name] = "none"
            if type(after) is ir.Act and after.kind in FUSED_ACTS:
                fused[name] = after.kind
                i += 1
    return kept, fused


@dataclass
class _Class:
    name: str
    doc: str
    wrap: bool = True
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    out_rank: int = 4
    folds: list[str] = field(default_factory=list)  # `fold_batchnorms` lines
    fuse: list[str] = field(default_factory=list)  # the network's `fuse` lines

    @property
    def header(self) -> str:
        """The `class` line(s), as black lays them out."""
        return "\n".join(layout(f"class {self.name}(nn.Module):", 0, wrap=self.wrap))


class _Generator:
    """The classes of one module.  Its name table holds the templates' names, then the
    network class, then one class per block instantiation; each forward's locals come from
    a table inside it."""

    def __init__(self, net: Any, wrap: bool = True):
        self.net = net
        self.wrap = wrap
        self.classes: list[_Class] = []
        self.done: dict[tuple, _Class] = {}
        self.helpers = {
            "shuffle": False,
            "slice": False,
            "droppath": False,
            "layernorm": False,
            "linear": False,
            "layerscale": False,
            "grn": False,
            "igc": False,
            "ordered_dict": False,
            "se": False,
            "fold": False,
            "onednn": False,
            "layout": False,  # is_channels_last / in_layout: a deploy network giving a map
        }
        self.deploy = net.ir.deploy
        self.table = NameTable(TEMPLATE_NAMES)
        self.network_name = self.table.take(camel(net.name, "Net"))
        self.names = instance_names(block_keys(net), self.table, class_style)

    def network(self) -> _Class:
        net = self.net
        doc = f"{call_text(net.name, net.ir.params)}: {_doc_shapes(net.ir.body)}."
        cls = self._class(self.network_name, doc, net.ir.body)
        folding = [c.name for c in self.classes if c.folds]
        if not folding:
            cls.fuse = ["return self.eval()"]
        elif folding == [cls.name]:
            cls.fuse = ["self.eval()", "self.fold_batchnorms()", "return self"]
        else:
            cls.fuse = [
                "self.eval()",
                "for module in list(self.modules()):  # each block folds its own",
                '    if hasattr(module, "fold_batchnorms"):',
                "        module.fold_batchnorms()",
                "return self",
            ]
        return cls

    def block(self, node: ir.Block) -> _Class:
        key = instance_key(node)
        cls = self.done.get(key)
        if cls is None:
            doc = f"{call_text(node.name, node.args)}: {_doc_shapes(node)}."
            cls = self._class(self.names[key], doc, node.body)
            self.done[key] = cls
        return cls

    def _class(self, name: str, doc: str, body: ir.Seq) -> _Class:
        cls = _Class(name, doc, self.wrap)
        writer = _ForwardWriter(self, cls)
        # the deploy network gives a map back in the layout it came in (DeployConv2d's are
        # channels_last)
        last = ""
        if self.deploy and name == self.network_name:
            last = writer.names.take("channels_last")
        out, rank = writer.seq(body.children, "x", "x", 4)
        if last and rank == 4 and self.helpers["onednn"]:
            self.helpers["layout"] = True
            cls.forward[:0] = layout(f"{last} = is_channels_last(x)", DEPTH, wrap=self.wrap)
            writer.add(f"return in_layout({out}, {last})")
        else:
            writer.add(f"return {out}")
        cls.out_rank = rank
        for layer, bn in own_pairs(body):
            self.helpers["fold"] = True
            modules = writer.modules
            refs = f"{modules.ref(layer)}, {modules.ref(bn)}"
            target, layer_target = modules.target(bn), modules.target(layer)
            if target is None:  # the layer itself is changed in place
                parent, key = modules.parent(bn)
                line = f'setattr({parent}, "{key}", fold_batchnorm({refs})[1])'
            elif layer_target is None:
                line = f"{target} = fold_batchnorm({refs})[1]"
            else:
                line = f"{layer_target}, {target} = fold_batchnorm({refs})"
            cls.folds.extend(layout(line, DEPTH, wrap=self.wrap))
        self.classes.append(cls)
        return cls

    def sequential(self, node: ir.SepConv) -> str:
        self.helpers["ordered_dict"] = True
        items = []
        owned = False
        children, fused = fuse_activations(node.body.children, self.deploy)
        for name, child in children:
            if type(child) is ir.Conv and ir.symmetric(child.padding) is None:
                top, bottom, left, right = child.padding
                sides = f"{num(left)}, {num(right)}, {num(top)}, {num(bottom)}"
                items.append(f'("pad", nn.ZeroPad2d(({sides})))')
            self.use(child)
            ctor = module_ctor(child, 4, owned and type(child) is ir.Act, fused.get(name))
            items.append(f'("{name}", {ctor})')
            owned = isinstance(child, FRESH) or type(child) is ir.Act
        return f"nn.Sequential(OrderedDict([{', '.join(items)}]))"

    def use(self, node: ir.Node, rank: int = 4) -> None:
        if type(node) is ir.Shuffle:
            self.helpers["shuffle"] = True
        elif type(node) is ir.ChannelSlice:
            self.helpers["slice"] = True
        elif type(node) is ir.DropPath:
            self.helpers["droppath"] = True
        elif type(node) in _HELPER_OF and (rank == 4 or type(node) in _MAP_ONLY):
            self.helpers[_HELPER_OF[type(node)]] = True
        elif type(node) is ir.IGC:
            self.helpers["shuffle"] = self.helpers["igc"] = True
        elif type(node) is ir.SE:
            self.helpers["se"] = True
        elif type(node) is ir.Conv and self.deploy:
            self.helpers["onednn"] = True


# layers whose module is a class of torch_helpers.py.j2 on a map (a LayerNorm or Linear layer
# on an (N, C) tensor is PyTorch's own)
_HELPER_OF = {
    ir.LayerNorm: "layernorm",
    ir.PointLinear: "linear",
    ir.LayerScale: "layerscale",
    ir.GRN: "grn",
}

_MAP_ONLY = (ir.LayerScale, ir.GRN)


class _ForwardWriter(BodyWriter):
    """`__init__` lines (the modules) and `forward` lines (the data flow) of one class."""

    def __init__(self, gen: _Generator, cls: _Class):
        super().__init__(cls.forward, NameTable(parent=gen.table), DEPTH, gen.wrap)
        self.gen, self.cls = gen, cls
        self.attributes = NameTable()
        self.modules = ModuleTree()
        self.fused: dict[str, str] = {}  # conv name: what its DeployConv2d fuses (deploy form)

    def seq(self, children, cur: str, out: str, rank: int) -> tuple[str, int]:
        kept, fused = fuse_activations(children, self.gen.deploy)
        self.fused.update(fused)
        return super().seq(kept, cur, out, rank)

    def layer(self, name: str, node: ir.Node, arg: str, out: str, rank: int, owned: bool) -> int:
        t = type(node)
        bare = t is ir.LayerScale and name.isidentifier()
        if t is ir.Linear and rank == 4:
            arg = f"torch.flatten({arg}, 1)"
        if t is ir.Block:
            sub = self.gen.block(node)
            ctor, new_rank = f"{sub.name}()", sub.out_rank
        elif t is ir.SepConv:
            ctor, new_rank = self.gen.sequential(node), 4
        elif bare:  # a bare parameter of the class, as torchvision's ConvNeXt holds `layer_scale`
            c, init = num(node.in_shape.c), num(node.init)
            ctor, new_rank = f"nn.Parameter(torch.full(({c}, 1, 1), {init}))", rank
        else:
            ctor = module_ctor(node, rank, owned and t is ir.Act, self.fused.get(name))
            self.gen.use(node, rank)
            new_rank = 2 if t is ir.Linear or t is ir.Flatten else rank
        if "." not in name and self.attributes.take(name) != name:  # free by design
            raise AssertionError(f"attribute name `{name}` is not free")
        for line in self.modules.register(name, ctor):
            self.cls.init.extend(layout(line, DEPTH, wrap=self.wrap))
        if bare:
            self.add(f"{out} = {arg} * {self.modules.ref(name)}", _shape(node.out_shape, rank))
            return rank
        call = f"{self.modules.ref(name)}({padded(node, arg)})"
        if t is ir.Pool and node.same and node.kind == "avg" and padded(node, arg) != arg:
            # TensorFlow averages the values inside the input only: divide by the same
            # pooling of a padded map of ones (the module itself runs once, for its hooks)
            ones = f"nn.functional.pad(torch.ones_like({arg}[:1, :1]), {pad_sides(node.padding)})"
            call += (
                f" / nn.functional.avg_pool2d({ones}, {size(node.kernel)}, {size(node.stride)})"
            )
        self.add(f"{out} = {call}", _shape(node.out_shape, new_rank))
        return new_rank

    def to_map(self, var: str, out: str, shape: ir.Shape) -> None:
        self.add(f"{out} = {var}[:, :, None, None]")

    def merge(self, kind: str, name: str, out: str, parts: list[str], node: ir.Node) -> None:
        if kind == "add":
            self.add(f"{out} = {' + '.join(parts)}", shape_text(node.out_shape))
        else:
            self.add(f"{out} = torch.cat([{', '.join(parts)}], dim=1)", shape_text(node.out_shape))

    def split(self, name: str, parts: list[str], var: str, sizes: tuple[int, ...]) -> None:
        target = ", ".join(parts) if len(parts) > 1 else f"({parts[0]},)"
        if len(set(sizes)) == 1:
            self.add(f"{target} = {var}.chunk({num(len(parts))}, dim=1)")
        else:
            listed = ", ".join(num(s) for s in sizes)
            self.add(f"{target} = torch.split({var}, [{listed}], dim=1)")


def _shape(shape: ir.Shape, rank: int) -> str:
    return num(shape.c) if rank == 2 else shape_text(shape)


def _doc_shapes(node: ir.Node | ir.Seq) -> str:
    return f"{shape_text(node.in_shape)} -> {shape_text(node.out_shape)}"


class TorchEmitter:
    """The PyTorch target.  The family code (`targets.family`: one class per block
    definition, the network's parameters as keyword arguments) serves wherever it can write
    the spec; the per-point code (one class per block instantiation, every number written
    out) serves the deploy form, whose folded BatchNorms and fused activations belong to one
    member, and the specs the family code cannot write yet (`family.Untranslatable`)."""

    name = "torch"

    def emit(self, net: Any, *, format: bool = True, family: bool = True) -> str:  # noqa: A002
        """The module's source, black-formatted; `format=False` writes every statement on
        one line (for in-memory builds); `family=False` asks for the per-point code."""
        found = self.family(net) if family else None
        if found is not None:
            return black.format_str(found[0], mode=black.Mode()) if format else found[0]
        return self._emit(net, format)[0]

    @staticmethod
    def family(net: Any) -> tuple[str, str] | None:
        """(the family module's source, its network class) where it serves `net`."""
        if net.ir.deploy:
            return None
        try:
            return family_source(net)
        except Untranslatable:
            return None

    def _emit(self, net: Any, wrap: bool) -> tuple[str, str]:
        """(source, name of the network class)."""
        gen = _Generator(net, wrap)
        network = gen.network()
        code = render("torch.py.j2", doc=doc_info(net), helpers=gen.helpers, classes=gen.classes)
        assert network is gen.classes[-1]
        return code, network.name

    def build(self, net: Any, *, family: bool = True) -> Any:
        """An `nn.Module` instance of the network, compiled from the generated source, which
        is registered as if it had been imported (see `loading.load_module`): so
        `inspect.getsource`, `torch.jit.script`, tracebacks and in-process pickling see the
        classes as they would those of a `-o` file.  The family code is made once per spec
        and this member is its network class called with the member's parameters.
        """
        found = self.family(net) if family else None
        if found is not None:
            code, entry = found
            namespace = load_module(code, net.name)
            params = {k: python_value(v) for k, v in net.ir.params}
            return namespace[entry](**params)
        code, entry = self._emit(net, wrap=False)
        namespace = load_module(code, net.name)
        # the local `namespace` keeps the module alive until the model does
        return namespace[entry]()


TORCH = TorchEmitter()
