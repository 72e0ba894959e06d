"""The PyTorch target: one self-contained module of readable `nn.Module` classes.

One class per distinct block instantiation (its layers as attributes named like the cost
report's rows, its `forward` spelling out residual / concat / split dataflow), a network class
constructible without arguments, and two small helpers when used: `channel_shuffle` (reshape
and transpose only) and `InterleavedGroupConv`.  `build` executes the same source in memory.
"""

from __future__ import annotations

import functools
import sys
import threading
import types
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import ir
from ..names import NameTable
from ..passes.fold import own_pairs
from . import register
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
    run_source,
    shape_text,
    size,
)

# module-level names of torch.py.j2, and the fixed locals of its methods
TEMPLATE_NAMES = frozenset(
    {"torch", "nn", "OrderedDict", "channel_shuffle", "ChannelShuffle", "InterleavedGroupConv"}
    | {"SqueezeExcitation", "fold_batchnorm", "Module", "Tensor", "self", "x", "module"}
    | {"DeployConv2d", "ONEDNN", "ONEDNN_ACTIVATIONS", "_onednn_ready"}
    | {"ctypes", "MEMCMP", "_find_memcmp"}
    | {"is_channels_last", "in_layout"}
)
# activations a deploy-form conv runs in its own kernel (DeployConv2d's `activation`)
FUSED_ACTS = frozenset({"relu", "relu6"})
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
    "softmax": "nn.Softmax(dim=1)",
}
# the classes `se`'s activation and gate are made of (torchvision's `activation=` and
# `scale_activation=`; ReLU and Sigmoid are its defaults)
_SE_CLASSES = {
    "relu": "nn.ReLU",
    "relu6": "nn.ReLU6",
    "silu": "nn.SiLU",
    "hswish": "nn.Hardswish",
    "gelu": "nn.GELU",
    "sigmoid": "nn.Sigmoid",
    "hsigmoid": "nn.Hardsigmoid",
}
DEPTH = 2  # statements stand in methods of classes


def conv_args(node: ir.Conv | ir.IGC) -> list[str]:
    """Keyword arguments shared by Conv2d and InterleavedGroupConv; defaults left out."""
    args = [f"kernel_size={size(node.kernel)}"]
    if node.stride != (1, 1):
        args.append(f"stride={size(node.stride)}")
    padding = ir.symmetric(node.padding)  # else padded in forward (see `padded`)
    if padding is not None and padding != (0, 0):
        args.append(f"padding={size(padding)}")
    if node.dilation != (1, 1):
        args.append(f"dilation={size(node.dilation)}")
    return args


def module_ctor(node: ir.Node, rank: int, inplace: bool, fused: str | None = None) -> str:
    """The constructor expression of one layer; `fused` (deploy form only): a conv's
    DeployConv2d, with the activation after it when one of FUSED_ACTS ("none" else)."""
    t = type(node)
    c = node.in_shape.c
    if t is ir.Conv:
        args = [num(c), num(node.out), *conv_args(node)]
        if node.groups != 1:
            args.append(f"groups={num(node.groups)}")
        if not node.bias:
            args.append("bias=False")
        if fused is None:
            return f"nn.Conv2d({', '.join(args)})"
        if fused != "none":
            args.append(f'activation="{fused}"')
        return f"DeployConv2d({', '.join(args)})"
    if t is ir.IGC:
        args = [f"M={num(node.M)}", f"L={num(node.L)}", *conv_args(node)]
        if node.bias:
            args.append("bias=True")
        return f"InterleavedGroupConv({', '.join(args)})"
    if t is ir.Shuffle:
        return f"ChannelShuffle({num(node.groups)})"
    if t is ir.BatchNorm:
        args = [num(c)]
        if node.eps != 1e-5:
            args.append(f"eps={num(node.eps)}")
        if node.momentum != 0.1:
            args.append(f"momentum={num(node.momentum)}")
        return f"nn.BatchNorm{'1' if rank == 2 else '2'}d({', '.join(args)})"
    if t is ir.Act:
        return _ACTS[node.kind].format(
            inplace="inplace=True" if inplace else "",
            inplace_kw=", inplace=True" if inplace else "",
            slope=f"negative_slope={num(node.slope)}",
            channels=num(c),
        )
    if t is ir.Pool:
        return pool_ctor(node)
    if t is ir.AdaptivePool:
        return f"nn.AdaptiveAvgPool2d({size(node.size)})"
    if t is ir.SE:
        args = [num(c), num(node.squeeze)]
        if node.act != "relu":
            args.append(f"activation={_SE_CLASSES[node.act]}")
        if node.gate != "sigmoid":
            args.append(f"scale_activation={_SE_CLASSES[node.gate]}")
        return f"SqueezeExcitation({', '.join(args)})"
    if t is ir.GlobalPool:
        return "nn.AdaptiveAvgPool2d(1)" if node.kind == "avg" else "nn.AdaptiveMaxPool2d(1)"
    if t is ir.Flatten:
        return "nn.Flatten()"
    if t is ir.Linear:
        bias = "" if node.bias else ", bias=False"
        return f"nn.Linear({num(node.in_shape.numel)}, {num(node.out)}{bias})"
    if t is ir.Dropout:
        return f"nn.Dropout(p={num(node.p)})"
    if t is ir.Identity:
        return "nn.Identity()"
    raise AssertionError(f"no PyTorch module for {t.__name__}")


def pool_ctor(node: ir.Pool) -> str:
    """MaxPool2d / AvgPool2d; an average over a `same` padding leaves the padding out of its
    count (count_include_pad=False), as TensorFlow does."""
    cls = "nn.MaxPool2d" if node.kind == "max" else "nn.AvgPool2d"
    args = [f"kernel_size={size(node.kernel)}", f"stride={size(node.stride)}"]
    padding = ir.symmetric(node.padding)  # else padded in forward (see `padded`)
    if padding is not None and padding != (0, 0):
        args.append(f"padding={size(padding)}")
        if node.same and node.kind == "avg":
            args.append("count_include_pad=False")
    if node.ceil_mode:
        args.append("ceil_mode=True")
    return f"{cls}({', '.join(args)})"


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


def pad_sides(pad: ir.Pad) -> str:
    """F.pad's order: (left, right, top, bottom)."""
    top, bottom, left, right = pad
    return f"({num(left)}, {num(right)}, {num(top)}, {num(bottom)})"


def padded(node: ir.Node, arg: str) -> str:
    """`arg`, padded first where the module cannot pad it itself (an asymmetric padding):
    zeros before a conv or an average, -inf before a max (what PyTorch's padding means)."""
    t = type(node)
    if t not in (ir.Conv, ir.IGC, ir.Pool) or ir.symmetric(node.padding) is not None:
        return arg
    value = ', value=float("-inf")' if t is ir.Pool and node.kind == "max" else ""
    return f"nn.functional.pad({arg}, {pad_sides(node.padding)}{value})"


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
            pair = f"self.{layer}, self.{bn}"
            cls.folds.extend(layout(f"{pair} = fold_batchnorm({pair})", DEPTH, wrap=self.wrap))
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

    def use(self, node: ir.Node) -> None:
        if type(node) is ir.Shuffle:
            self.helpers["shuffle"] = True
        elif type(node) is ir.IGC:
            self.helpers["shuffle"] = self.helpers["igc"] = True
        elif type(node) is ir.SE:
            self.helpers["se"] = True
        elif type(node) is ir.Conv and self.deploy:
            self.helpers["onednn"] = True


class _ForwardWriter(BodyWriter):
    """`__init__` lines (the modules) and `forward` lines (the data flow) of one class."""

    def __init__(self, gen: _Generator, cls: _Class):
        super().__init__(cls.forward, NameTable(parent=gen.table), DEPTH, gen.wrap)
        self.gen, self.cls = gen, cls
        self.attributes = NameTable()
        self.fused: dict[str, str] = {}  # conv name: what its DeployConv2d fuses (deploy form)

    def seq(self, children, cur: str, out: str, rank: int) -> tuple[str, int]:
        kept, fused = fuse_activations(children, self.gen.deploy)
        self.fused.update(fused)
        return super().seq(kept, cur, out, rank)

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
            ctor = module_ctor(node, rank, owned and t is ir.Act, self.fused.get(name))
            self.gen.use(node)
            new_rank = 2 if t is ir.Linear or t is ir.Flatten else rank
        if self.attributes.take(name) != name:  # the elaborator's names are free by design
            raise AssertionError(f"attribute name `{name}` is not free")
        self.cls.init.extend(layout(f"self.{name} = {ctor}", DEPTH, wrap=self.wrap))
        call = f"self.{name}({padded(node, arg)})"
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
    name = "torch"

    def emit(self, net: Any, *, format: bool = True) -> str:  # noqa: A002 - mirrors black
        """The module's source, black-formatted; `format=False` writes every statement on
        one line (for in-memory builds)."""
        return self._emit(net, format)[0]

    def _emit(self, net: Any, wrap: bool) -> tuple[str, str]:
        """(source, name of the network class)."""
        gen = _Generator(net, wrap)
        network = gen.network()
        code = render("torch.py.j2", doc=doc_info(net), helpers=gen.helpers, classes=gen.classes)
        assert network is gen.classes[-1]
        return code, network.name

    def build(self, net: Any) -> Any:
        """An `nn.Module` instance of the network, compiled from the generated source.

        The source is registered as if it had been imported: a module
        `specgen_generated_<name>_<hash>` in `sys.modules` whose `__file__` is
        `<specgen:<name>-<hash>>`, with that text in `linecache`.  So `inspect.getsource`,
        `torch.jit.script`, tracebacks and in-process pickling see the classes as they would
        those of a `-o` file.  Builds of the same source share the module (safely from
        several threads at once), which stays registered while anything defined in it lives
        (see `_GeneratedModule`).
        """
        import hashlib
        import linecache

        code, entry = self._emit(net, wrap=False)
        digest = hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]
        name, filename = f"specgen_generated_{net.name}_{digest}", f"<specgen:{net.name}-{digest}>"
        # (again on every build, in case someone cleared linecache; mtime None: never stale)
        lines = (len(code), None, code.splitlines(True), filename)
        with _REGISTRY:
            namespace = _registered(name)
            linecache.cache[filename] = lines
        if namespace is None:  # executed outside the lock; the first to register it wins
            fresh: dict[str, Any] = {}
            try:
                run_source(code, name, filename, fresh)
            except BaseException:
                with _REGISTRY:
                    if _registered(name) is None:
                        linecache.cache.pop(filename, None)
                raise
            with _REGISTRY:
                namespace = _registered(name)
                if namespace is None:
                    namespace = _register(name, filename, fresh)
                linecache.cache[filename] = lines
        # the local `namespace` keeps the module alive until the model does
        return namespace[entry]()


# guards sys.modules' generated entries: builds from several threads, and the unregistering
# that garbage collection runs (re-entrantly, inside a build, too: hence reentrant)
_REGISTRY = threading.RLock()


class _Anchor:
    """An object only a generated module's namespace refers to: it dies with the namespace."""

    __slots__ = ("namespace", "__weakref__")

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace


class _GeneratedModule(types.ModuleType):
    """The `sys.modules` entry of a `to_torch()` module.

    It refers to the module's namespace only weakly, and looks its attributes up there: the
    classes' methods hold the namespace (their globals), so it lives while any class, block,
    model or function of the module lives, however made (`to_torch`, `copy.deepcopy`,
    `pickle`, a class called directly), and the entry (with its linecache text) goes when
    garbage collection takes the last of them.  A count of `to_torch` calls cannot know of
    copies, and a strong entry would keep every module of a search loop alive.
    """

    def _specgen_namespace(self) -> dict[str, Any] | None:
        """The module's namespace, or None once garbage collection has taken it."""
        anchor = self.__dict__.get("__specgen_anchor__", lambda: None)()
        return None if anchor is None else anchor.namespace

    def __getattr__(self, attr: str) -> Any:
        try:
            return (self._specgen_namespace() or {})[attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._specgen_namespace() or ()))


def _registered(name: str) -> dict[str, Any] | None:
    """The live namespace registered as `name`, or None (call with `_REGISTRY` held)."""
    module = sys.modules.get(name)
    return module._specgen_namespace() if type(module) is _GeneratedModule else None


def _register(name: str, filename: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Register `namespace` as module `name` (call with `_REGISTRY` held)."""
    anchor = _Anchor(namespace)
    namespace["__specgen_anchor__"] = anchor
    module = _GeneratedModule(name)
    module.__file__ = filename
    gone = functools.partial(_unregister, name, filename, weakref.ref(module))
    module.__dict__["__specgen_anchor__"] = weakref.ref(anchor, gone)
    sys.modules[name] = module
    return namespace


def _unregister(
    name: str,
    filename: str,
    module: weakref.ref[types.ModuleType],
    _anchor: object,
    lock: Any = _REGISTRY,
    modules: dict[str, Any] = sys.modules,
) -> None:
    """The anchor's callback: unregister its module, unless another has taken its name."""
    import linecache

    with lock:
        registered = module()
        if registered is not None and modules.get(name) is registered:
            del modules[name]
            linecache.cache.pop(filename, None)


TORCH = register(TorchEmitter())
