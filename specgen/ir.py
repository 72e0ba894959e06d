"""The elaborated IR: every block expanded, every expression evaluated, every shape known.

Nodes are small frozen dataclasses.  Each keeps `src`, the syntax node it came from (for error
spans), and its input and output `Shape`.  Composite nodes hold their children under the names
the emitters use for attributes and the cost report uses for rows (`unit1.conv1`).
Identical block instantiations are elaborated once and the node is shared, so the tree is a
DAG; passes that walk it memoize by node identity.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .errors import fast_init
from .language import syntax as S
from .values import Table, format_value  # noqa: F401 - re-exported


@dataclass(frozen=True, slots=True)
class Shape:
    """C×H×W of one sample; `flat` after `flatten` or `fc`, where the generated models return
    an (N, C) tensor: it is shown as `C` and listed as `[C]`, as they give it."""

    c: int
    h: int
    w: int
    flat: bool = False

    def __str__(self) -> str:
        return str(self.c) if self.flat else f"{self.c}x{self.h}x{self.w}"

    @property
    def numel(self) -> int:
        return self.c * self.h * self.w

    def as_list(self) -> list[int]:
        return [self.c] if self.flat else [self.c, self.h, self.w]


Pair = tuple[int, int]
Pad = tuple[int, int, int, int]  # top, bottom, left, right: TensorFlow's `same` is asymmetric


def symmetric(pad: Pad) -> Pair | None:
    """(h, w) when `pad` pads both sides of each axis alike (what PyTorch's `padding=` can
    say), else None."""
    top, bottom, left, right = pad
    return (top, left) if top == bottom and left == right else None


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    src: Any  # syntax.Head (or Program for the network body): where it was written
    in_shape: Shape
    out_shape: Shape

    @property
    def op(self) -> str:
        return type(self).__name__.lower()


# ---- layers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Conv(Node):
    """Every convolution: `conv`, `pwconv`, `dwconv` (groups = Cin) and `gdc` (kernel = H×W)."""

    kind: str
    out: int
    kernel: Pair
    stride: Pair
    padding: Pad
    dilation: Pair
    groups: int
    bias: bool
    same: bool = False  # written `padding=same`: Keras can say it as padding="same"

    @property
    def op(self) -> str:
        return self.kind

    @property
    def depthwise(self) -> bool:
        return self.groups == self.in_shape.c and self.out % self.groups == 0 and self.groups > 1


@dataclass(frozen=True, slots=True, eq=False)
class IGC(Node):
    """Interleaved group convolution: primary k×k conv with L groups of M channels, interleave,
    secondary 1×1 conv with M groups of L channels, permute back.  Width G = M·L."""

    M: int
    L: int
    kernel: Pair
    stride: Pair
    padding: Pad
    dilation: Pair
    bias: bool


@dataclass(frozen=True, slots=True, eq=False)
class Shuffle(Node):
    groups: int


@dataclass(frozen=True, slots=True, eq=False)
class BatchNorm(Node):
    eps: float
    momentum: float

    @property
    def op(self) -> str:
        return "bn"


@dataclass(frozen=True, slots=True, eq=False)
class Act(Node):
    kind: str  # relu relu6 prelu leakyrelu hswish hsigmoid sigmoid silu tanh gelu softmax
    slope: float = 0.0  # leakyrelu's negative slope

    @property
    def op(self) -> str:
        return self.kind


@dataclass(frozen=True, slots=True, eq=False)
class Pool(Node):
    kind: str  # max | avg
    kernel: Pair
    stride: Pair
    padding: Pad
    ceil_mode: bool = False
    # `padding=same`: TensorFlow's padding, which an average leaves out of its count
    same: bool = False

    @property
    def op(self) -> str:
        return f"{self.kind}pool"


@dataclass(frozen=True, slots=True, eq=False)
class AdaptivePool(Node):
    """Average pooling to `size` (PyTorch's AdaptiveAvgPool2d): output cell i averages input
    rows floor(i·H/oh) to ceil((i+1)·H/oh), and likewise for columns."""

    size: Pair

    @property
    def op(self) -> str:
        return "adaptiveavgpool"


@dataclass(frozen=True, slots=True, eq=False)
class SE(Node):
    """Squeeze-and-excitation: x · gate(fc2(act(fc1(mean of x over H×W)))), fc1 and fc2 1×1
    convs with bias (C → squeeze → C), laid out as torchvision.ops.SqueezeExcitation."""

    squeeze: int
    act: str
    gate: str

    @property
    def op(self) -> str:
        return "se"


@dataclass(frozen=True, slots=True, eq=False)
class GlobalPool(Node):
    kind: str  # avg | max

    @property
    def op(self) -> str:
        return "gap" if self.kind == "avg" else "gmp"


@dataclass(frozen=True, slots=True, eq=False)
class Flatten(Node):
    pass


@dataclass(frozen=True, slots=True, eq=False)
class Linear(Node):
    out: int
    bias: bool

    @property
    def op(self) -> str:
        return "fc"


@dataclass(frozen=True, slots=True, eq=False)
class PointLinear(Node):
    """`linear out`: a fully connected layer applied at every position of a map (the same
    numbers as a 1x1 conv with a dense weight matrix; kept a Linear layer so the checkpoints
    of ConvNeXt and transformer blocks load)."""

    out: int
    bias: bool

    @property
    def op(self) -> str:
        return "linear"


@dataclass(frozen=True, slots=True, eq=False)
class LayerNorm(Node):
    """`layernorm`: normalises each position's channel vector (mean 0, variance 1, then a
    learned scale and shift per channel); ConvNeXt's LayerNorm2d on a map."""

    eps: float


@dataclass(frozen=True, slots=True, eq=False)
class LayerScale(Node):
    """`layerscale init`: a learned per-channel factor, initialised to `init` (CaiT's and
    ConvNeXt's layer scale)."""

    init: float


@dataclass(frozen=True, slots=True, eq=False)
class GRN(Node):
    """`grn`: ConvNeXt V2's global response normalisation, x + gamma·(x·N(x)) + beta with
    N(x) = G(x) / (mean over channels of G(x) + eps), G(x) the L2 norm over H×W per channel."""

    eps: float

    @property
    def op(self) -> str:
        return "grn"


@dataclass(frozen=True, slots=True, eq=False)
class Dropout(Node):
    p: float


@dataclass(frozen=True, slots=True, eq=False)
class DropPath(Node):
    """Stochastic depth: in training, each sample's values are zeroed with probability `p`
    and the others scaled by 1/(1-p); the identity in evaluation."""

    p: float

    @property
    def op(self) -> str:
        return "droppath"


@dataclass(frozen=True, slots=True, eq=False)
class Identity(Node):
    pass


@dataclass(frozen=True, slots=True, eq=False)
class ChannelSlice(Node):
    """`slice out start=s`: channels s .. s+out-1 of the input (out is `out_shape.c`)."""

    start: int

    @property
    def op(self) -> str:
        return "slice"


# ---- composites -----------------------------------------------------------------------------

Named = tuple[str, Node]


@dataclass(frozen=True, slots=True, eq=False)
class Seq(Node):
    """Statements applied one after another."""

    children: tuple[Named, ...]
    # per child, the `for` iterations (errors.Frame) it was written in, counted from the
    # enclosing block call; () when the body has no loop
    loops: tuple[tuple[Any, ...], ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Residual(Node):
    """`body(x) + shortcut(x)`; the shortcut is the identity when None."""

    body: Seq
    shortcut: Seq | None
    shortcut_first: bool = False  # written before the body: registered (and named) first


@dataclass(frozen=True, slots=True, eq=False)
class Add(Node):
    """Every branch sees the input; the outputs are summed.  `rep`: written `rep:`, its
    branches (conv + BatchNorm, BatchNorm, identity) merge into one conv in the deploy form
    (`layers.reparam`)."""

    branches: tuple[Named, ...]
    rep: bool = False

    @property
    def op(self) -> str:
        return "rep" if self.rep else "add"


@dataclass(frozen=True, slots=True, eq=False)
class Concat(Node):
    """Every branch sees the input; the outputs are concatenated along channels."""

    branches: tuple[Named, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Split(Node):
    """The input's channels are split into `sizes`; branch i sees part i; outputs concatenated."""

    sizes: tuple[int, ...]
    branches: tuple[Named, ...]


@dataclass(frozen=True, slots=True, eq=False)
class SepConv(Node):
    """Depthwise-separable convolution: `dw` k×k depthwise, then `pw` 1×1 (children in `body`)."""

    body: Seq


@dataclass(frozen=True, slots=True, eq=False)
class Block(Node):
    """One instantiation of a user block: `unit(g=3)` with its expanded body."""

    name: str
    args: tuple[tuple[str, Any], ...]
    body: Seq
    layer_count: int
    # Values derived from this immutable node by later passes (cost totals, "validated"),
    # kept here because one instantiation is shared by every compile that needs it.
    derived: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def op(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    params: tuple[tuple[str, Any], ...]
    input: Shape
    body: Seq
    program: S.Program
    # every top-level name (parameters and lets) with its value: what `constraint` lines
    # and search objectives are evaluated in, beside the cost terms
    scope: tuple[tuple[str, Any], ...] = ()
    # the deploy form (`specgen.passes.fold`): BatchNorms folded; emitters may fuse further
    deploy: bool = False

    @property
    def output(self) -> Shape:
        return self.body.out_shape


def _residual_children(node: Residual) -> tuple[Named, ...]:
    if node.shortcut is None:
        return node.body.children
    if node.shortcut_first:
        return (("shortcut", node.shortcut),) + node.body.children
    return node.body.children + (("shortcut", node.shortcut),)


CHILDREN = {
    Seq: lambda n: n.children,
    Block: lambda n: n.body.children,
    SepConv: lambda n: n.body.children,
    Residual: _residual_children,
    Add: lambda n: n.branches,
    Concat: lambda n: n.branches,
    Split: lambda n: n.branches,
}


# Composites that are not modules of their own: their layers are named in the enclosing scope.
TRANSPARENT = (Seq, Residual, Add, Concat, Split)


def children(node: Node) -> tuple[Named, ...]:
    """The named sub-nodes of a composite, in order (empty for layers)."""
    get = CHILDREN.get(type(node))
    return get(node) if get is not None else ()


for _cls in list(globals().values()):  # every node, Shape and Network: all frozen
    if isinstance(_cls, type) and _cls.__module__ == __name__ and dataclasses.is_dataclass(_cls):
        fast_init(_cls)
