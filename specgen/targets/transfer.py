"""Weight transfer between the PyTorch and Keras models generated from one spec.

    from specgen.transfer import torch_to_keras, keras_to_torch
    torch_to_keras(torch_module, keras_model)   # conv, linear, BatchNorm (+ running stats),
                                                # PReLU, LayerNorm, layer scale, GRN

Layers are matched by name (the PyTorch module path `unit1.conv1` is the Keras layer
`unit1-conv1`; the 1×1 convs of a squeeze-and-excitation `se1.fc1` are `se1-fc1`); every tensor is converted to the other layout and its shape checked.  Models
that do not come from the same spec and parameters fail with a `TransferError` naming the
first layers that differ.  Imports torch and keras only when called.
"""

from __future__ import annotations

from typing import Any

from .keras3 import keras_name


class TransferError(ValueError):
    """The two models do not come from the same spec (and parameter values)."""


# the generated modules whose parameters map one to one, reshaped, onto their Keras layer's
# weights in order (LayerScale's gamma is a 1x1 DepthwiseConv2D's kernel)
_RESHAPED = ("LayerScale", "GlobalResponseNorm")


class _Bare:
    """A parameter a block holds itself (a layer scale, as torchvision's ConvNeXt holds
    `layer_scale`): a layer of its own in Keras."""

    def __init__(self, parameter: Any) -> None:
        self.parameter = parameter

    def parameters(self, recurse: bool = False) -> list[Any]:
        return [self.parameter]


def _reshaped(m: Any) -> bool:
    import torch.nn as nn

    return isinstance(m, nn.LayerNorm | _Bare) or type(m).__name__ in _RESHAPED


def _torch_layers(module: Any) -> dict[str, Any]:
    import torch.nn as nn

    kinds = (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.PReLU)
    found = {}
    for name, m in module.named_modules():
        if isinstance(m, kinds) or _reshaped(m):
            found[name] = m
            continue
        for key, parameter in m.named_parameters(recurse=False):
            found[f"{name}.{key}" if name else key] = _Bare(parameter)
    return found


def _keras_layers(model: Any) -> dict[str, Any]:
    return {layer.name: layer for layer in model.layers if layer.weights}


def _pairs(module: Any, model: Any) -> list[tuple[str, Any, list[Any]]]:
    """(path, torch module, [keras layers]) for every layer with weights; checks coverage."""
    t_layers = _torch_layers(module)
    k_layers = _keras_layers(model)
    pairs, missing, used = [], [], set()
    for path, m in t_layers.items():
        name = keras_name(path)
        if name in k_layers:
            pairs.append((path, m, [k_layers[name]]))
            used.add(name)
            continue
        groups = [
            k_layers[f"{name}-g{i}"]
            for i in range(m.groups if hasattr(m, "groups") else 0)
            if f"{name}-g{i}" in k_layers
        ]
        if groups and len(groups) == m.groups:  # the split-groups form
            pairs.append((path, m, groups))
            used.update(layer.name for layer in groups)
        else:
            missing.append(path)
    extra = sorted(set(k_layers) - used)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"PyTorch layers without a Keras counterpart: {', '.join(missing[:5])}")
        if extra:
            parts.append(f"Keras layers without a PyTorch counterpart: {', '.join(extra[:5])}")
        raise TransferError("the models do not come from the same spec: " + "; ".join(parts))
    return pairs


def _to_keras(m: Any, layers: list[Any]) -> list[list[Any]]:
    """The Keras weight lists of `layers` from PyTorch module `m` (numpy arrays)."""
    import torch.nn as nn

    def a(t):
        return t.detach().cpu().numpy()

    if isinstance(m, nn.Conv2d):
        w = m.weight.detach().cpu()
        if type(layers[0]).__name__ == "DepthwiseConv2D":
            c = m.in_channels
            kernel = w.reshape(c, m.out_channels // c, *w.shape[2:]).permute(2, 3, 0, 1)
            return [[kernel.numpy()] + ([a(m.bias)] if m.bias is not None else [])]
        chunks = w.chunk(len(layers), dim=0)
        biases = m.bias.detach().cpu().chunk(len(layers)) if m.bias is not None else None
        return [
            [c.permute(2, 3, 1, 0).numpy()] + ([biases[i].numpy()] if biases is not None else [])
            for i, c in enumerate(chunks)
        ]
    if isinstance(m, nn.Linear):
        return [[a(m.weight).T] + ([a(m.bias)] if m.bias is not None else [])]
    if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
        return [[a(m.weight), a(m.bias), a(m.running_mean), a(m.running_var)]]
    if isinstance(m, nn.PReLU):
        shape = tuple(layers[0].get_weights()[0].shape)
        return [[a(m.weight).reshape(shape)]]
    if _reshaped(m):
        shapes = [tuple(w.shape) for w in layers[0].get_weights()]
        params = list(m.parameters(recurse=False))
        if len(shapes) != len(params):
            raise TransferError(f"`{type(m).__name__}` and Keras layer `{layers[0].name}` differ")
        return [[a(p).reshape(shape) for p, shape in zip(params, shapes, strict=True)]]
    raise TransferError(f"cannot transfer {type(m).__name__}")


def torch_to_keras(module: Any, model: Any) -> None:
    """Copy every weight (and BatchNorm running statistic) of `module` into `model`."""
    for path, m, layers in _pairs(module, model):
        for layer, weights in zip(layers, _to_keras(m, layers), strict=True):
            _check(path, layer, weights)
            layer.set_weights(weights)


def keras_to_torch(model: Any, module: Any) -> None:
    """Copy every weight (and BatchNorm moving statistic) of `model` into `module`."""
    import torch

    for path, m, layers in _pairs(module, model):
        template = _to_keras(m, layers)  # the PyTorch tensors in Keras layout: shapes to match
        got = [layer.get_weights() for layer in layers]
        for layer, want, have in zip(layers, template, got, strict=True):
            _check(path, layer, have, [w.shape for w in want])
        with torch.no_grad():
            if isinstance(m, torch.nn.Conv2d):
                if type(layers[0]).__name__ == "DepthwiseConv2D":
                    k = torch.as_tensor(got[0][0])  # (kh, kw, C, m)
                    m.weight.copy_(k.permute(2, 3, 0, 1).reshape(m.weight.shape))
                else:
                    k = torch.cat([torch.as_tensor(g[0]) for g in got], dim=3)
                    m.weight.copy_(k.permute(3, 2, 0, 1))
                if m.bias is not None:
                    m.bias.copy_(torch.cat([torch.as_tensor(g[1]) for g in got]))
            elif isinstance(m, torch.nn.Linear):
                m.weight.copy_(torch.as_tensor(got[0][0]).T)
                if m.bias is not None:
                    m.bias.copy_(torch.as_tensor(got[0][1]))
            elif isinstance(m, torch.nn.PReLU):
                m.weight.copy_(torch.as_tensor(got[0][0]).reshape(m.weight.shape))
            elif _reshaped(m):
                for p, w in zip(m.parameters(recurse=False), got[0], strict=True):
                    p.copy_(torch.as_tensor(w).reshape(p.shape))
            else:
                gamma, beta, mean, var = (torch.as_tensor(w) for w in got[0])
                m.weight.copy_(gamma)
                m.bias.copy_(beta)
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)


def _check(path: str, layer: Any, weights: list[Any], shapes: list[tuple] | None = None) -> None:
    have = [tuple(w.shape) for w in layer.get_weights()]
    want = [tuple(s) for s in shapes] if shapes is not None else [tuple(w.shape) for w in weights]
    if have != want:
        raise TransferError(
            f"`{path}` has shapes {want} in PyTorch layout but Keras layer `{layer.name}` has "
            f"{have}: the models do not come from the same spec and parameters"
        )
