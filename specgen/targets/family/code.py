"""The pieces every part of the family code's writer shares: the lines of a method, the
flow of the forward pass, and the few rules on texts of channels and names."""

from __future__ import annotations

from dataclasses import dataclass, field

from .layers import LineArgs
from .pyexpr import Untranslatable

IN = "in_channels"  # what the spec's `in` is called in a constructor

ACTIVATIONS = frozenset(
    {"relu", "relu6", "prelu", "hswish", "hsigmoid", "sigmoid", "silu", "tanh", "gelu"}
    | {"softmax", "leakyrelu"}
)

# layers after which a 1×1 map may be larger again (or smaller)
SPATIAL = frozenset({"conv", "dwconv", "igc", "maxpool", "avgpool", "adaptiveavgpool"})


@dataclass
class Code:
    """Lines of one method, with their indentation (in levels; 0 = the method's body)."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    level: int = 0

    def add(self, text: str) -> None:
        self.lines.append((self.level, text))


@dataclass
class Flow:
    """The tensor the forward pass is at: `var` holds it, `out` receives the next layer's
    output; its rank; whether this chain owns it (an in-place activation may overwrite it);
    whether its map is 1×1 (an `fc` on it reads the channels only)."""

    var: str = "x"
    out: str = "x"
    rank: int = 4
    owned: bool = False
    unit: bool = False
    last: str | None = None  # the conv or linear layer that made it (a BatchNorm folds into)


def join(flows: list[Flow]) -> Flow:
    if len({(f.var, f.rank) for f in flows}) > 1:
        raise Untranslatable("the branches of this `if` end in different tensors")
    f = flows[0]
    return Flow(f.var, f.out, f.rank, all(x.owned for x in flows), all(x.unit for x in flows))


def simple(text: str) -> bool:
    """Channels worth repeating as they are (a name, a number, `planes * 4`)."""
    return len(text) <= 24 and "(" not in text and text.count(" ") <= 2


def stable(text: str) -> bool:
    """Channels held in a name nothing reassigns (`in_channels`, a parameter) or a number."""
    return (text.isidentifier() and text not in ("channels", "out_channels")) or text.isdigit()


def python_string(text: str) -> str:
    """A message as a Python string literal (the spec's STRING holds no quote or backslash)."""
    return '"' + text + '"'


class Override:
    """A line's arguments with some replaced (None: the kind's default)."""

    def __init__(self, args: LineArgs, changes: dict[str, str | None]):
        self.args, self.changes = args, changes
        self.helpers = args.helpers
        self.written = {k: v for k, v in args.written.items() if k not in changes}
        self.py = args.py
        self.pairy = args.pairy

    def text(self, name: str) -> str | None:
        if name in self.changes:
            return self.changes[name]
        return self.args.text(name)

    def static(self, name: str):
        return self.args.static(name)

    def same(self) -> bool:
        return self.args.same()
