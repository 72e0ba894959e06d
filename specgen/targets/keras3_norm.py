"""The Keras 3 target's code for the layers of the last years' blocks: `layernorm`,
`linear`, `layerscale`, `grn` and the tanh form of GELU.  NHWC keeps the channels last, so
LayerNormalization and Dense act on the channels at every position as they stand.

Each function has LAYER_CODE's signature (see keras3_layers); `w` is its LayerWriter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .. import ir
from .common import num

# GELU's tanh form: 0.5·x·(1 + tanh(z)) = x·sigmoid(2z), z = √(2/π)·(x + 0.044715·x³)
GELU_TANH_CUBE = 0.044715
GELU_TANH_SCALE = 2.0 * math.sqrt(2.0 / math.pi)


def layernorm(w: Any, path: str, node: ir.LayerNorm, arg: str, out: str, rank: int) -> int:
    """LayerNormalization over the last axis (the channels), gamma then beta."""
    w.emit(out, f"layers.LayerNormalization(epsilon={num(node.eps)}, name={w.label(path)})", arg)
    return rank


def point_linear(w: Any, path: str, node: ir.PointLinear, arg: str, out: str, rank: int) -> int:
    """Dense acts on the last axis: the channels at every position of an NHWC map."""
    bias = "" if node.bias else ", use_bias=False"
    w.emit(out, f"layers.Dense({num(node.out)}{bias}, name={w.label(path)})", arg)
    return rank


def layerscale(w: Any, path: str, node: ir.LayerScale, arg: str, out: str, rank: int) -> int:
    """A 1×1 depthwise conv without bias is a learned factor per channel: Keras' own layer
    (a `.keras` file loads without this module), one weight per channel, init `init`."""
    init = f"keras.initializers.Constant({num(node.init)})"
    ctor = f"layers.DepthwiseConv2D(1, use_bias=False, depthwise_initializer={init}, name={w.label(path)})"
    w.emit(out, ctor, arg)
    return rank


def grn(w: Any, path: str, node: ir.GRN, arg: str, out: str, rank: int) -> int:
    """The module's GlobalResponseNorm layer (Keras has none of its own)."""
    w.gen.helpers["grn"] = True
    eps = "" if node.eps == 1e-6 else f"epsilon={num(node.eps)}, "
    w.emit(out, f"GlobalResponseNorm({eps}name={w.label(path)})", arg)
    return rank


def gelu_tanh(w: Any, name: Callable[[str], str], arg: str, out: str) -> None:
    """x·sigmoid(2z), z = √(2/π)·(x + 0.044715·x³), in Keras' own layers: the cube, the
    inner sum, the sigmoid gate and the product.  `name(part)` is the name text of each
    layer (`part` "" for the last, which carries the layer's own name)."""
    gate = w.names.fresh("gate")
    w.emit(gate, f"layers.Multiply(name={name('cube')})", f"[{arg}, {arg}, {arg}]")
    w.emit(gate, f"layers.Rescaling({num(GELU_TANH_CUBE)}, name={name('scale')})", gate)
    w.emit(gate, f"layers.Add(name={name('inner')})", f"[{arg}, {gate}]")
    w.emit(gate, f"layers.Rescaling({num(GELU_TANH_SCALE)}, name={name('z')})", gate)
    w.emit(gate, f'layers.Activation("sigmoid", name={name("gate")})', gate)
    w.emit(out, f"layers.Multiply(name={name('')})", f"[{arg}, {gate}]")
