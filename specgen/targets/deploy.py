"""Folding a trained model's weights into its deploy form (`specgen.passes.fold`'s IR): each
folded conv gets W·s and (b - mean)·s + beta, s = gamma / sqrt(running_var + eps), in the
framework's own tensors.  The framework is imported inside each function only.
"""

from __future__ import annotations

from typing import Any

from .. import ir
from ..passes.cost import walk
from ..passes.fold import folded_paths


def fold_torch(net: ir.Network, state: dict) -> dict:
    """The deploy form's state_dict from an eager model's (`model.state_dict()` of the
    network `net` was compiled to): each folded pair's conv gets W·s and (b - mean)·s + beta,
    s = gamma / sqrt(running_var + eps), and the BatchNorm's entries go."""
    import torch

    state = dict(state)
    bns = _batchnorms(net)
    for conv, bn in folded_paths(net):
        w = state[f"{conv}.weight"]
        scale = state[f"{bn}.weight"] / torch.sqrt(state[f"{bn}.running_var"] + bns[bn])
        bias = state.get(f"{conv}.bias")
        if bias is None:
            bias = torch.zeros_like(scale)
        state[f"{conv}.weight"] = w * scale.reshape(-1, *([1] * (w.dim() - 1)))
        state[f"{conv}.bias"] = (bias - state[f"{bn}.running_mean"]) * scale + state[f"{bn}.bias"]
        for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            state.pop(f"{bn}.{key}", None)
    return state


def fold_keras(net: ir.Network, eager: Any, deploy: Any) -> None:
    """Set the weights of `deploy` (a Keras model of `net`'s deploy form, `net.deploy()
    .to_keras()`) from `eager` (a Keras model of `net`): each folded pair's conv kernel is
    scaled per output channel and given the bias (b - mean)·s + beta, every other layer is
    copied by name.  Keras models cannot drop layers in place, hence two models."""
    import numpy as np

    from .keras3 import keras_name

    eager_layers = {layer.name: layer for layer in eager.layers if layer.weights}
    deploy_layers = {layer.name: layer for layer in deploy.layers if layer.weights}
    bns = _batchnorms(net)
    folded: set[str] = set()
    for conv, bn in folded_paths(net):
        gamma, beta, mean, var = eager_layers[keras_name(bn)].get_weights()
        scale = gamma / np.sqrt(var + np.asarray(bns[bn], dtype=var.dtype))
        name = keras_name(conv)
        names = [name] if name in eager_layers else _group_names(name, eager_layers)
        for i, part in enumerate(names):  # one layer, or one per group (split_groups)
            weights = eager_layers[part].get_weights()
            kernel = weights[0]
            # output channels: the kernel's last axis; a DepthwiseConv2D's (kh, kw, C, mult)
            # has output channel c·mult + m
            depthwise = type(eager_layers[part]).__name__ == "DepthwiseConv2D"
            axes = kernel.shape[-2:] if depthwise else kernel.shape[-1:]
            part_slice = slice(i * int(np.prod(axes)), (i + 1) * int(np.prod(axes)))
            s, m, b = scale[part_slice], mean[part_slice], beta[part_slice]
            bias = weights[1] if len(weights) > 1 else np.zeros_like(s)
            deploy_layers[part].set_weights([kernel * s.reshape(axes), (bias - m) * s + b])
            folded.add(part)
        folded.add(keras_name(bn))
    for name, layer in deploy_layers.items():
        if name not in folded:
            layer.set_weights(eager_layers[name].get_weights())


def _group_names(name: str, layers: dict[str, Any]) -> list[str]:
    """The per-group layers `name-g0`, `name-g1`, ... of a split group convolution."""
    out = []
    while f"{name}-g{len(out)}" in layers:
        out.append(f"{name}-g{len(out)}")
    return out


def _batchnorms(net: ir.Network) -> dict[str, float]:
    """Every folded BatchNorm's path and eps."""
    return {path: n.eps for path, n in walk(net.body) if type(n) is ir.BatchNorm}
