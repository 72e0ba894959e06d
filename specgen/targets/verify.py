"""`specgen verify`: the PyTorch and Keras code of one spec compute the same function.

Builds both, initialises the PyTorch model at random (BatchNorm running statistics included,
eval mode), copies the weights into Keras, runs one random input (NCHW for PyTorch, the same
values as NHWC for Keras) and compares the output of every block and of the network.  A block
passes when its largest absolute difference is at most `tolerance` × its output's scale (the
largest absolute value PyTorch produced there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .keras3 import keras_name
from .transfer import torch_to_keras

DEFAULT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Comparison:
    name: str
    shape: tuple[int, ...]  # C, H, W (or C), batch left out: as every other command shows it
    max_abs: float
    scale: float

    @property
    def max_rel(self) -> float:
        return self.max_abs / self.scale

    def passed(self, tolerance: float) -> bool:
        return self.max_abs <= tolerance * self.scale


@dataclass(frozen=True)
class Report:
    network: str
    backend: str
    tolerance: float
    rows: tuple[Comparison, ...]  # every block in execution order, then "output"

    @property
    def passed(self) -> bool:
        return all(r.passed(self.tolerance) for r in self.rows)

    @property
    def first_failure(self) -> Comparison | None:
        return next((r for r in self.rows if not r.passed(self.tolerance)), None)

    def render(self) -> str:
        width = max(len(r.name) for r in self.rows)
        lines = [
            f"verify {self.network}: PyTorch vs Keras ({self.backend} backend), fp32",
            "",
            f"{'block'.ljust(width)}  {'shape':>14}  {'max |diff|':>10}  {'relative':>9}",
        ]
        for r in self.rows:
            shape = "x".join(map(str, r.shape))
            flag = "ok" if r.passed(self.tolerance) else "DIVERGES"
            lines.append(
                f"{r.name.ljust(width)}  {shape:>14}  {r.max_abs:10.2e}  {r.max_rel:9.2e}  {flag}"
            )
        lines.append("")
        bad = self.first_failure
        if bad is None:
            lines.append(f"passed: every block within {self.tolerance:g} x its output's scale")
        else:
            lines.append(
                f"FAILED: `{bad.name}` is the first block that diverges "
                f"({bad.max_rel:.2e} > {self.tolerance:g} of its scale)"
            )
        return "\n".join(lines) + "\n"


def _randomize(module: Any, seed: int) -> None:
    """Non-trivial BatchNorm statistics and PReLU slopes, so that their transfer is tested."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            elif isinstance(m, torch.nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.3 + 0.05)


def verify(
    net: Any,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
    batch: int = 2,
    split_groups: bool = False,
) -> Report:
    """Compare the two targets of `net` (a compiled `specgen.Network`) block by block."""
    import keras
    import numpy as np
    import torch

    torch.manual_seed(seed)
    module = net.to_torch().eval()
    _randomize(module, seed)
    model = net.to_keras(split_groups=split_groups)
    torch_to_keras(module, model)

    blocks = [row.name for row in net.cost.blocks]
    captured: dict[str, Any] = {}
    hooks = [
        module.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: captured.__setitem__(name, out.detach().clone())
        )
        for name in blocks
    ]
    x = torch.randn(
        batch, *net.input_shape.as_list(), generator=torch.Generator().manual_seed(seed)
    )
    with torch.no_grad():
        y = module(x)
    for h in hooks:
        h.remove()

    probe = keras.Model(
        model.inputs, [model.get_layer(keras_name(b)).output for b in blocks] + [model.output]
    )
    outs = _infer(probe, x.permute(0, 2, 3, 1).numpy())
    outs = outs if isinstance(outs, list | tuple) else [outs]
    rows = []
    for name, ref, got in zip(
        [*blocks, "output"], [*(captured[b] for b in blocks), y], outs, strict=True
    ):
        shape = tuple(ref.shape[1:])  # NCHW's C, H, W
        ref = ref.permute(0, 2, 3, 1) if ref.dim() == 4 else ref
        ref = ref.numpy()
        got = np.asarray(keras.ops.convert_to_numpy(got)).reshape(ref.shape)
        scale = float(np.abs(ref).max()) or 1.0
        rows.append(Comparison(name, shape, float(np.abs(got - ref).max()), scale))
    args = ", ".join(f"{k}={v}" for k, v in net.ir.params)
    return Report(f"{net.name}({args})", keras.backend.backend(), tolerance, tuple(rows))


def _infer(model: Any, x: Any) -> Any:
    """`model`'s outputs for `x` in inference mode.  On JAX as one compiled program: run
    eagerly, JAX compiles every layer's operations one by one (EfficientNet: 20 s, against
    2.5 s jitted)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(lambda v: model([v], training=False))(x)
    return model([x], training=False)


def select_backend(backend: str | None) -> None:
    """Choose the Keras backend; it must happen before keras is first imported."""
    import sys

    if backend is None:
        return
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(
                f"keras is already loaded with the {keras.backend.backend()} backend; "
                f"run verify for {backend} in a new process"
            )
        return
    os.environ["KERAS_BACKEND"] = backend
