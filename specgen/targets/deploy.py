"""Folding a trained model's weights into its deploy form (`specgen.passes.fold`'s IR): each
folded conv gets W·s and (b - mean)·s + beta, s = gamma / sqrt(running_var + eps), in the
framework's own tensors.  The framework is imported inside each function only.
"""

from __future__ import annotations

from typing import Any

from .. import ir
from ..layers import reparam
from ..passes.cost import walk
from ..passes.fold import folded_paths, merged_reps


def fold_torch(net: ir.Network, state: dict) -> dict:
    """The deploy form's state_dict from an eager model's (`model.state_dict()` of the
    network `net` was compiled to): each `rep:`'s branches merge into one conv, then each
    folded pair's conv gets W·s and (b - mean)·s + beta, s = gamma / sqrt(running_var + eps)
    (a layer scale: W·s and b·s, s its factors), and the folded layers' entries go."""
    import torch

    state = dict(state)
    for prefix, node, name in merged_reps(net):
        weight, bias = _merge_torch(torch, state, prefix, node)
        state[f"{prefix}{name}.weight"], state[f"{prefix}{name}.bias"] = weight, bias
    bns = _batchnorms(net)
    igcs = {path: n for path, n in walk(net.body) if type(n) is ir.IGC}
    for conv, bn in folded_paths(net):
        order = None
        if conv in igcs:  # the secondary conv's channel i is output channel order[i]
            m, l_ = igcs[conv].M, igcs[conv].L
            order = torch.arange(m * l_).reshape(l_, m).T.reshape(-1)
            conv = f"{conv}.secondary"
        w = state[f"{conv}.weight"]
        bias = state.get(f"{conv}.bias")
        if bn in bns:
            scale = state[f"{bn}.weight"] / torch.sqrt(state[f"{bn}.running_var"] + bns[bn])
            shift = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
        else:  # a layer scale: a bare parameter, or a LayerScale module's gamma
            scale = state.pop(bn, None)
            scale = state.pop(f"{bn}.gamma") if scale is None else scale
            scale, shift = scale.reshape(-1), None
        if order is not None:  # the factors of the output channels, in the secondary's order
            scale, shift = scale[order], shift[order]
        state[f"{conv}.weight"] = w * scale.reshape(-1, *([1] * (w.dim() - 1)))
        if bias is not None or shift is not None:
            bias = torch.zeros_like(scale) if bias is None else bias
            state[f"{conv}.bias"] = bias * scale + (0 if shift is None else shift)
        for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            state.pop(f"{bn}.{key}", None)
    return state


def _merge_torch(torch: Any, state: dict, prefix: str, node: ir.Add) -> tuple[Any, Any]:
    """One `rep:`'s conv (weight, bias) from its branches' tensors, whose entries go."""
    conv = reparam.merged(node)
    out, per_group = conv.out, node.in_shape.c // conv.groups
    kh, kw = conv.kernel
    weight = bias = None
    first = next(b.conv_name for b in reparam.branches(node) if b.conv is not None)
    like = state[f"{prefix}{first}.weight"]  # the identity's kernel: its dtype and device
    for branch in reparam.branches(node):
        if branch.conv is not None:
            key = f"{prefix}{branch.conv_name}"
            w = state.pop(f"{key}.weight")
            b = state.pop(f"{key}.bias", None)
            ph, pw = (kh - w.shape[2]) // 2, (kw - w.shape[3]) // 2
            w = torch.nn.functional.pad(w, (pw, pw, ph, ph))
        else:  # the identity: a 1 at the centre of each channel's own slot in its group
            w = torch.zeros(out, per_group, kh, kw, dtype=like.dtype, device=like.device)
            channels = torch.arange(out, device=like.device)
            w[channels, channels % per_group, kh // 2, kw // 2] = 1.0
            b = None
        b = torch.zeros(out, dtype=w.dtype, device=w.device) if b is None else b
        if branch.bn is not None:
            key, eps = f"{prefix}{branch.bn_name}", branch.bn.eps
            scale = state.pop(f"{key}.weight") / torch.sqrt(state.pop(f"{key}.running_var") + eps)
            b = (b - state.pop(f"{key}.running_mean")) * scale + state.pop(f"{key}.bias")
            w = w * scale.reshape(-1, 1, 1, 1)
            state.pop(f"{key}.num_batches_tracked", None)
        weight = w if weight is None else weight + w
        bias = b if bias is None else bias + b
    return weight, bias


def fold_keras(net: ir.Network, eager: Any, deploy: Any) -> None:
    """Set the weights of `deploy` (a Keras model of `net`'s deploy form, `net.deploy()
    .to_keras()`) from `eager` (a Keras model of `net`): each folded pair's conv kernel is
    scaled per output channel and given the bias (b - mean)·s + beta, every other layer is
    copied by name.  Keras models cannot drop layers in place, hence two models."""
    import numpy as np

    from .keras3 import keras_name

    if needs_torch(net):
        raise ValueError(
            "a `rep:`, a layer scale or a BatchNorm after `igc` folds through PyTorch: "
            "use Network.fuse_keras(model)"
        )
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


def needs_torch(net: ir.Network) -> bool:
    """Whether folding `net`'s Keras weights goes through PyTorch (`Network.fuse_keras`):
    a `rep:`, a layer scale or a BatchNorm after `igc` to fold."""
    igcs = {path for path, n in walk(net.body) if type(n) is ir.IGC}
    bns = _batchnorms(net)
    return bool(merged_reps(net)) or any(b not in bns or a in igcs for a, b in folded_paths(net))


def _group_names(name: str, layers: dict[str, Any]) -> list[str]:
    """The per-group layers `name-g0`, `name-g1`, ... of a split group convolution."""
    out = []
    while f"{name}-g{len(out)}" in layers:
        out.append(f"{name}-g{len(out)}")
    return out


def _batchnorms(net: ir.Network) -> dict[str, float]:
    """Every folded BatchNorm's path and eps."""
    return {path: n.eps for path, n in walk(net.body) if type(n) is ir.BatchNorm}
