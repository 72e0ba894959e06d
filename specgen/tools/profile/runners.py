"""A unit, a whole network or an empty model as a callable on one runtime.

A unit's layers are measured as the code specgen generates for them: a one-statement network
of those very IR nodes is emitted, built and run (so a unit is timed with the same modules,
fusions and layout handling as in the network).  A merge (a residual's sum, a concatenation)
is the tensor operation the generated forward calls.

- `eager`: the generated PyTorch module in eval mode, under `torch.inference_mode()`;
- `deploy`: the deploy form's module (BatchNorm folded, `DeployConv2d` on oneDNN with the
  activation fused), likewise;
- `onnxruntime`: the deploy form exported to ONNX and run by an ONNX Runtime session
  (CPU provider, `threads` intra-op threads).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import Any

from ... import ir
from ...compiler import Network
from ...errors import Source
from ...passes.units import Unit

Call = Callable[[], object]


class Runner:
    """Makes callables for one runtime, batch, layout and device."""

    def __init__(self, runtime: str, batch: int, layout: str, device: str, threads: int):
        import torch

        self.torch = torch
        self.runtime, self.batch, self.layout = runtime, batch, layout
        self.device, self.threads = device, threads
        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("--device cuda: no CUDA device is available")
        if runtime == "onnxruntime" and device != "cpu":
            raise RuntimeError("--runtime onnxruntime measures the CPU provider only")
        self.inference = torch.inference_mode()

    # ---- inputs ---------------------------------------------------------------------------
    def _inner_layout(self) -> str:
        """The layout the network's maps have inside it: the deploy form's DeployConv2d
        gives channels_last maps on CPU whatever the input's layout (the network converts
        back at its end), so its units are measured on channels_last inputs."""
        return "nhwc" if self.runtime == "deploy" and self.device == "cpu" else self.layout

    def tensor(self, shape: ir.Shape, layout: str | None = None) -> Any:
        torch = self.torch
        gen = torch.Generator().manual_seed(0)
        if shape.flat:
            x = torch.randn(self.batch, shape.c, generator=gen)
        else:
            x = torch.randn(self.batch, shape.c, shape.h, shape.w, generator=gen)
            if (layout or self.layout) == "nhwc":
                x = x.contiguous(memory_format=torch.channels_last)
        return x.to(self.device)

    def _sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    # ---- models ---------------------------------------------------------------------------
    def _module(self, net: Network) -> Any:
        from ...targets.pytorch import TORCH

        if self.runtime != "eager":
            net = net.deploy()
        model = TORCH.build(net, family=False).eval().to(self.device)
        if self.layout == "nhwc":
            model = model.to(memory_format=self.torch.channels_last)
        return model

    def _callable(self, model: Any, inputs: list[Any]) -> Call:
        if self.runtime == "onnxruntime":
            return self._onnx(model, inputs)
        sync, inference = self._sync, self.inference

        def call() -> object:
            with inference:
                out = model(*inputs)
            sync()
            return out

        return call

    def _onnx(self, model: Any, inputs: list[Any]) -> Call:
        import onnxruntime as ort

        torch = self.torch
        buffer = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation and tracing chatter
            try:  # the TorchScript exporter: a second or so per unit, where dynamo takes five
                torch.onnx.export(model, tuple(inputs), buffer, dynamo=False)
                data = buffer.getvalue()
            except Exception:  # noqa: BLE001 - an op it lacks: the dynamo exporter instead
                program = torch.onnx.export(model, tuple(inputs), dynamo=True, verbose=False)
                data = program.model_proto.SerializeToString()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        feeds = {n: x.cpu().numpy() for n, x in zip(names, inputs, strict=False)}
        return lambda: session.run(None, feeds)

    def network(self, net: Network) -> Call:
        """One forward of the whole network."""
        return self._callable(self._module(net), [self.tensor(net.input_shape)])

    def unit(self, program: Any, unit: Unit) -> Call:
        """One forward of `unit` (of a network of `program`)."""
        if unit.merge is not None:
            inputs = [self.tensor(s, self._inner_layout()) for s in unit.in_shapes]
            model = _Merge(self.torch, "concat" if unit.key.startswith("concat") else "add")
            return self._callable(model, inputs)
        model = self._module(_alone(program, unit.nodes))
        layout = self.layout if unit.first else self._inner_layout()
        return self._callable(model, [self.tensor(unit.in_shapes[0], layout)])

    def empty(self, program: Any) -> Call:
        """An empty model (one identity layer): the runtime's cost of a call itself."""
        shape = ir.Shape(8, 8, 8)
        node = ir.Identity(program, shape, shape)
        model = self._module(_alone(program, (("identity", node),)))
        return self._callable(model, [self.tensor(shape)])


def _alone(program: Any, nodes: tuple[ir.Named, ...]) -> Network:
    """A network of `nodes` alone (`program`: the spec they were written in)."""
    first, last = nodes[0][1], nodes[-1][1]
    body = ir.Seq(program, first.in_shape, last.out_shape, tuple(nodes))
    mini = ir.Network("unit", (), first.in_shape, body, program)
    return Network(mini, Source("", "<unit>"))


def _Merge(torch: Any, kind: str) -> Any:  # noqa: N802 - a class made on first use
    """The generated forward's merge: `a + b (+ c ...)` or `torch.cat(..., 1)`."""

    class Merge(torch.nn.Module):
        def forward(self, *xs: Any) -> Any:
            if kind == "concat":
                return torch.cat(xs, 1)
            out = xs[0]
            for x in xs[1:]:
                out = out + x
            return out

    return Merge()
