"""The pipeline in one place: parse → elaborate → validate → cost (→ emit, per target).

`compile` is the Python entry point.  Parsing and the parameter-independent checks are cached
by source text, so compiling one spec with many parameter values (an architecture search)
parses it once.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any

from . import ir, limits
from .elaborate import Analysis, analyze, bind_parameters, elaborate
from .errors import Diagnostic, Source, SpecError
from .language import domains
from .language import syntax as S
from .language.expr import BUDGET, Budget
from .language.imports import load_imports
from .language.parse import cached_by_text, parse, parse_library
from .language.source import read_source
from .passes import constraints
from .passes.cost import Cost
from .passes.validate import validate
from .values import plain

Front = tuple[S.Program, Analysis, tuple[domains.Dimension, ...], list[Diagnostic]]


def _front(text: str, filename: str) -> Front:
    """The parsed program, its imported blocks merged in, its analysis and its search
    domains (with the mistakes in them); cached by the texts involved (imported files are
    read again on every compile, so edits show)."""
    program = parse(text, filename)
    if not program.imports:
        return _analyzed(text, filename, ())
    libraries = load_imports(program, filename, Source(text, filename))
    return _analyzed(text, filename, libraries)


@cached_by_text(lambda text, filename, libraries: len(text) + sum(len(t) for _, t in libraries))
def _analyzed(text: str, filename: str, libraries: tuple[tuple[str, str], ...]) -> Front:
    program = parse(text, filename)
    if libraries:
        imported = tuple(b for path, t in libraries for b in parse_library(t, path).blocks)
        program = dataclasses.replace(program, blocks=imported + program.blocks)
    # what the analysis evaluates (constant arguments, search domains) is paid from a budget
    # whose spending every compile of the program is charged (see Elaborator)
    budget = Budget()
    token = BUDGET.set(budget)
    try:
        analysis = analyze(program)
        dims, errors = domains.domains(program)
    finally:
        BUDGET.reset(token)
    analysis.steps = limits.MAX_STEPS - budget.left
    analysis.over = budget.over
    return program, analysis, dims, errors


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable, else free physical
    pages), or None where the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


class Network:
    """A compiled spec: the elaborated IR, its shapes and its cost."""

    def __init__(self, net: ir.Network, source: Source):
        self.ir = net
        self.source = source
        self.constraints: tuple[constraints.ConstraintResult, ...] = ()  # set by compile
        self.input_given: tuple[int, int, int] | None = None  # compile(input=...), if any
        self.objectives: tuple[constraints.ObjectiveResult, ...] = ()  # the spec's, set by compile
        self.latency_model: Any = None  # compile(latency=...): a passes.latency.LatencyModel

    @functools.cached_property
    def latency_ms(self) -> float | None:
        """Predicted milliseconds of one forward from the latency table given to `compile`
        (None without one); raises `passes.latency.MissingConfigs` for units it lacks."""
        model = self.latency_model
        return None if model is None else model.total(self.ir)

    def latency(self) -> Any:
        """The per-layer prediction (`passes.latency.Prediction`) of the table given to
        `compile`, for the cost report; None without one."""
        model = self.latency_model
        return None if model is None else model.predict(self.ir)

    @property
    def feasible(self) -> bool:
        """Whether every `constraint` of the spec holds (true when it has none)."""
        return all(c.satisfied for c in self.constraints)

    @property
    def name(self) -> str:
        return self.ir.name

    @property
    def params(self) -> dict[str, Any]:
        """The parameter values this network was compiled with; a list is a Python list, as
        given (and as a search's points hold it), not the compiler's tuple."""
        return {name: plain(value) for name, value in self.ir.params}

    @property
    def input_shape(self) -> ir.Shape:
        return self.ir.input

    @property
    def output_shape(self) -> ir.Shape:
        return self.ir.output

    @functools.cached_property
    def cost(self) -> Cost:
        return Cost(self.ir)

    @functools.cached_property
    def shapes(self) -> dict[str, ir.Shape]:
        """The output shape of every layer and block, by path (`unit1.conv1`)."""
        from .passes.cost import walk

        return {name: node.out_shape for name, node in walk(self.ir.body)}

    def deploy(self) -> Network:
        """This network with every BatchNorm folded into the conv or fc before it (see
        `specgen.deploy`): what `cost --deploy` reports and `build --deploy` emits."""
        from .passes.fold import fold

        folded = Network(fold(self.ir), self.source)
        folded.constraints, folded.input_given = self.constraints, self.input_given
        folded.objectives, folded.latency_model = self.objectives, self.latency_model
        return folded

    def fuse_torch(self, model: Any) -> Any:
        """The deploy form of `model` (a PyTorch module of this network, trained or not): a
        new module of `deploy()`'s generated code in eval mode, with `model`'s weights folded
        (`specgen.deploy.fold_torch`), on `model`'s device.  Unlike `model.fuse()`, which
        folds in place and keeps nn.Identity placeholders, its convolutions are DeployConv2d:
        on CPU, under torch.no_grad() or torch.inference_mode(), they run on oneDNN with
        packed weights and the activation after them fused."""
        from .targets.deploy import fold_torch

        deploy = self.deploy().to_torch()
        deploy.load_state_dict(fold_torch(self.ir, model.state_dict()))
        weight = next(iter(model.parameters()), None)
        if weight is not None:
            deploy = deploy.to(weight.device)
        return deploy.eval()

    def fuse_keras(self, model: Any) -> Any:
        """The deploy form of `model` (a Keras model of this network, trained or not): a new
        Keras model without the folded BatchNorms, its weights folded from `model`'s (see
        `specgen.deploy.fold_keras`); Keras cannot remove layers from a model in place."""
        from .targets.deploy import fold_keras, fold_torch, needs_torch
        from .targets.pytorch import TORCH
        from .targets.transfer import keras_to_torch, torch_to_keras

        # a model built with split_groups=True has a `NAME-g0` conv per group convolution
        split = any(layer.name.endswith("-g0") for layer in model.layers if layer.weights)
        deploy = self.deploy().to_keras(split_groups=split)
        if not needs_torch(self.ir):
            fold_keras(self.ir, model, deploy)
            return deploy
        # a `rep:`, a layer scale, a BatchNorm after igc: folded by PyTorch's model of it
        eager = TORCH.build(self, family=False)
        keras_to_torch(model, eager)
        folded = TORCH.build(self.deploy(), family=False)
        folded.load_state_dict(fold_torch(self.ir, eager.state_dict()))
        torch_to_keras(folded, deploy)
        return deploy

    def at_defaults(self) -> Network:
        """This network's family at the spec's default parameters (itself when it is that
        member): what the family code's docstring describes."""
        found = getattr(self, "_defaults", None)
        if found is None:
            try:
                found = compile(
                    self.source.text, filename=self.source.filename, input=self.input_given
                )
            except SpecError:  # defaults the spec itself refuses: this member stands in
                found = self
            if found.ir.deploy != self.ir.deploy:
                found = found.deploy()
            self._defaults = found
        return found

    def emit(self, target: str, **options: Any) -> str:
        """Source code for `target` ("torch", "keras"): see `specgen.targets`."""
        from .targets import get_emitter

        return get_emitter(target).emit(self, **options)

    @property
    def weight_bytes(self) -> int:
        """Bytes of fp32 parameters: what building the model allocates at least."""
        return 4 * self.cost.params

    @property
    def activation_bytes(self) -> int:
        """Bytes of fp32 activations one forward at batch 1 needs at least: the largest
        input + output of any one layer (`cost.peak_activations`)."""
        return 4 * self.cost.peak_activations

    @property
    def memory_warning(self) -> str | None:
        """A warning for models above `LARGE_MODEL_BYTES` of weights or
        `LARGE_ACTIVATION_BYTES` of activations, else None; the CLI shows it before anything
        is allocated."""
        parts = []
        if self.weight_bytes > limits.LARGE_MODEL_BYTES:
            parts.append(
                f"{self.name} has {self.cost.params:,} parameters: "
                f"{_gib(self.weight_bytes)} of fp32 weights"
            )
        if self.activation_bytes > limits.LARGE_ACTIVATION_BYTES:
            parts.append(
                f"one forward of {self.name} at batch 1 needs at least "
                f"{_gib(self.activation_bytes)} of fp32 activations (the input and output "
                "of its largest layer)"
            )
        return "; ".join(parts) or None

    def _check_memory(self, check: bool) -> None:
        """Refuse to build a model whose weights alone exceed the memory available now."""
        available = available_memory()
        if not check or available is None or self.weight_bytes <= available:
            return
        raise SpecError(
            [
                Diagnostic(
                    f"{self.name} needs {_gib(self.weight_bytes)} for its weights but only "
                    f"{_gib(available)} of memory is available",
                    hint="pass check_memory=False to try anyway",
                    code="memory",
                )
            ],
            self.source,
        )

    def to_torch(self, *, channels_last: bool = False, check_memory: bool = True) -> Any:
        """A `torch.nn.Module` of this network, built in memory from the generated source;
        `channels_last=True` stores its 4-D weights NHWC (`model.to(memory_format=
        torch.channels_last)`), the layout oneDNN's CPU convolutions prefer: feed it inputs
        made channels_last the same way and every feature map stays NHWC.

        Raises SpecError (code "memory") before allocating anything when the weights do not
        fit in the memory available, unless `check_memory` is False.
        """
        from .targets import get_emitter

        self._check_memory(check_memory)
        model = get_emitter("torch").build(self)
        if channels_last:
            import torch

            model = model.to(memory_format=torch.channels_last)
        return model

    def to_keras(self, *, split_groups: bool = False, check_memory: bool = True) -> Any:
        """A `keras.Model` of this network, built in memory from the generated source (the
        memory check as in `to_torch`)."""
        from .targets import get_emitter

        self._check_memory(check_memory)
        return get_emitter("keras").build(self, split_groups=split_groups)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={ir.format_value(v)}" for k, v in self.ir.params)
        return f"<Network {self.name}({args}) {self.input_shape} -> {self.output_shape}>"


def _check_params(params: Any, source: Source) -> dict[str, Any]:
    """`params` as a plain dict with exact-`str` keys; the values are converted once the
    program's parameters are known (`bind_parameters`)."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a mapping of names to values, not {type(params).__name__}"
        )
    if len(params) > limits.MAX_LIST:
        raise SpecError(
            [Diagnostic(f"more than {limits.MAX_LIST} parameter values given", code="limit")],
            source,
        )
    checked: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise TypeError(f"parameter names must be str, not {type(key).__name__}")
        checked[str.__str__(key)] = value
    return checked


_WITH_INPUT: dict[tuple[int, tuple[int, int, int]], tuple[S.Program, S.Program]] = {}


def _with_input(program: S.Program, size: tuple[int, int, int]) -> S.Program:
    """`program` with the sizes as literals where its input line was (the family code, `pin`
    and every message then see the input as given): one object per program and size, so
    that what is made once per program (the family code) is made once here too."""
    found = _WITH_INPUT.get((id(program), size))
    if found is None or found[0] is not program:
        if len(_WITH_INPUT) >= 256:
            _WITH_INPUT.clear()
        span = program.input_span
        replaced = dataclasses.replace(program, input=tuple(S.Num(n, span) for n in size))
        found = _WITH_INPUT[(id(program), size)] = (program, replaced)
    return found[1]


def input_size(value: Sequence[int] | str | None) -> tuple[int, int, int] | None:
    """An input given as `(C, H, W)` or `"CxHxW"` (ints from 1 to the limit on a size), or
    None; ValueError / TypeError say what is wrong."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.lower().replace(" ", "").split("x")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ValueError(f"an input is CxHxW, e.g. 3x32x32, not {value!r}")
        sizes = [int(p) for p in parts]
    else:
        if not isinstance(value, Sequence) or len(value) != 3:
            raise TypeError(f"input must be (C, H, W) or 'CxHxW', not {value!r}")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
            raise TypeError(f"input sizes must be ints, not {value!r}")
        sizes = [int(n) for n in value]
    if not all(1 <= n <= limits.MAX_INT for n in sizes):
        raise ValueError(f"input sizes must be from 1 to {limits.MAX_INT}, not {value!r}")
    c, h, w = sizes
    return c, h, w


def _latency(network: Network, program: S.Program) -> float:
    """The predicted latency the constraints read; a table lacking some of the network's
    layer configurations is a mistake of this compile, located at the layers."""
    from .passes.latency import LatencyError

    try:
        return network.latency_ms
    except LatencyError as err:
        where = program.layers_span
        raise SpecError([Diagnostic(str(err), where, code="latency")], network.source) from None


def compile(  # noqa: A001 - the natural name for the entry point
    spec: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    filename: str | None = None,
    input: Sequence[int] | str | None = None,  # noqa: A002 - the spec's own word
    latency: Any = None,
) -> Network:
    """Compile a spec (a path, its text, or its UTF-8 bytes) with parameter values overriding
    the defaults; `input` (`(3, 32, 32)` or `"3x32x32"`) replaces the spec's `input` line,
    and a layer that cannot take it is a located mistake as any other.  `latency` (a
    `passes.latency.LatencyModel`, see `specgen.latency_model`) makes `latency` a cost term
    of the spec's constraints and objectives, and `Network.latency_ms` its prediction.

    Raises `SpecError` with every mistake found in the spec or the values; `TypeError` only
    when the Python types themselves are wrong (`spec` not text, bytes or a path; `params` not
    a mapping with string keys).  Values are re-created from their numbers, so objects of
    subclasses never reach generated code.
    """
    source = read_source(spec, filename)
    params = _check_params(params, source)
    size = input_size(input)
    program, analysis, dims, domain_errors = _front(source.text, source.filename)
    if size is not None:
        program = _with_input(program, size)
    errors = list(analysis.errors) + domain_errors
    budget = Budget(limits.MAX_STEPS - analysis.steps)
    # The one conversion of the given values, to their declared defaults' types, and the one
    # domain check, over every bound value (given or default).  Skipped when the analysis
    # alone took the whole budget (reported below).
    bound, found, outside = None, [], {}
    if analysis.over is None:
        bound, found = bind_parameters(program, params, analysis, budget)
        if bound is not None and dims:
            outside = domains.check_values(dims, bound)
    if any(name in params for name in outside):
        # a search candidate out of bounds is refused before any expansion
        raise SpecError(errors + found + list(outside.values()), source)
    if any(d.code == "recursive-block" for d in errors):
        raise SpecError(errors, source)  # expanding would only hit the nesting limit
    if analysis.over is not None:  # its constant parts alone took the whole budget
        e = Budget().exceeded(analysis.over)
        raise SpecError([*errors, Diagnostic(e.message, e.span, e.hint, code=e.code)], source)
    errors.extend(found)
    if bound is None:
        raise SpecError(errors, source)
    net, found = elaborate(program, bound, analysis, budget)
    errors.extend(found)
    errors.extend(outside.values())  # defaults outside their domains, after what expanding found
    if net is not None and not errors:
        errors.extend(validate(net))
    elif net is not None:
        known = set(errors)
        errors.extend(d for d in validate(net) if d not in known)
    if errors:
        raise SpecError(errors, source)
    network = Network(net, source)
    network.input_given = size
    network.latency_model = latency
    # the totals are needed anyway (a search loop reads them): computed once, here, so that
    # a network whose weights no int64 can count is refused like any other mistake
    cost = network.cost
    if cost.params > limits.MAX_ELEMENTS:
        message = (
            f"the network has {cost.params} parameters, more than int64 can count "
            f"({limits.MAX_ELEMENTS})"
        )
        raise SpecError([Diagnostic(message, program.layers_span, code="limit")], source)
    if program.constraints or program.objectives:
        ms = None if latency is None else _latency(network, program)
        token = BUDGET.set(budget)  # the same budget: one per compile
        try:
            network.constraints, errors = constraints.evaluate_constraints(
                net, cost, source.text, ms
            )
            network.objectives, more = constraints.evaluate_objectives(net, cost, source.text, ms)
        finally:
            BUDGET.reset(token)
        if errors or more:
            raise SpecError(errors + more, source)
    return network
