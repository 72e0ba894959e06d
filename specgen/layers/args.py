"""How a layer is written: its arguments, their types, defaults and ranges (`OpSpec`), and the
argument specs several layers share.

Binding a written line to its `OpSpec` (`binding.py`) gives plain values, or EvalErrors that
name the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import limits

REQUIRED = object()
AUTO = object()  # filled in from context: padding from the kernel, bias from a following bn


@dataclass(frozen=True, slots=True)
class ArgSpec:
    name: str
    kind: str  # pair | int | float | bool | padding (a pair, four sizes or `same`) | choice
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    doc: str = ""
    # words written as bare names (`padding=same`, `gate=hsigmoid`): the language has no
    # strings, so an enumerated choice is a name that is matched, never evaluated
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OpSpec:
    name: str
    args: tuple[ArgSpec, ...]
    positional: tuple[str, ...]
    doc: str
    trailing: bool = False  # may follow another layer on its line: `conv 3x3 bn relu`

    def arg(self, name: str) -> ArgSpec | None:
        for a in self.args:
            if a.name == name:
                return a
        return None


def kernel(default: Any = REQUIRED) -> ArgSpec:
    """The kernel size argument (`3x3` or `3`); required unless a default is given."""
    return ArgSpec("kernel", "pair", default, 1, limits.MAX_SPATIAL, "kernel size, `3x3` or `3`")


STRIDE = ArgSpec("stride", "pair", 1, 1, limits.MAX_SPATIAL, "stride")
PADDING = ArgSpec(
    "padding",
    "padding",
    AUTO,
    0,
    limits.MAX_SPATIAL,
    "zero padding: one size, [h, w], [top, bottom, left, right] or `same` (TensorFlow's "
    "rule); default (k-1)/2·dilation",
    ("same",),
)
# PyTorch and Keras both default a pool's stride to its kernel size
POOL_STRIDE = ArgSpec(
    "stride", "pair", AUTO, 1, limits.MAX_SPATIAL, "stride; default: the kernel size"
)
CEIL_MODE = ArgSpec(
    "ceil_mode", "bool", False, doc="round the output size up, as PyTorch's ceil_mode"
)
# an enumerated choice's spellings -> its canonical name
ALIASES = {"hardsigmoid": "hsigmoid"}
DILATION = ArgSpec("dilation", "pair", 1, 1, limits.MAX_SPATIAL, "dilation")
BIAS = ArgSpec("bias", "bool", AUTO, doc="add a bias; default: yes unless a bn follows")
OUT = ArgSpec(
    "out", "int", AUTO, 1, limits.MAX_CHANNELS, "output channels; default: the input channels"
)
