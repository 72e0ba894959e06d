"""torch.compile (inductor), torch.export and ONNX of every example's deploy form, full size.

    python bench/export_all.py [NAME.conv ...] [--repeat 20] [--threads 1] [--warm-cache]
                               [--json OUT]

For each example (default parameters, its own input size, batch 1): the eager module with
random BatchNorm statistics, its deploy form (`net.deploy().to_torch()` loaded with
`fold_torch`), then

- `torch.compile(deploy, backend="inductor")`: the first call's time (dynamo trace + inductor,
  with inductor's caches off unless --warm-cache, so every example is a cold compile), the
  number of graphs dynamo made (1 = no graph break) and the output against the deploy module
  in eager mode;
- `torch.export.export(deploy, (x,))`: its time, the output of `program.module()` and the
  number of batch_norm ops left in the graph (0 except after an `igc`, which is not folded);
- `torch.onnx.export(deploy, (x,), dynamo=True)` run with onnxruntime (CPU): export time,
  output, BatchNormalization nodes left;
- latency at batch 1 of eager, compiled and onnxruntime, timed interleaved (median of
  --repeat rounds) so that drift in the machine's speed affects all three alike, with
  --threads threads each (PyTorch's intra-op threads, onnxruntime's intra-op pool; default 1:
  on a shared machine a multi-threaded op waits for its slowest thread, which makes figures
  taken at 2 threads on 2 busy cores mostly noise).

Differences are max|got - eager| / max|eager| over the output.  The table is markdown; a stage
that fails shows `FAIL` (its traceback goes to stderr) and the exit status is 1.  tests/
test_export.py runs the same checks on a small network that uses every op kind of the
examples; this script is the full-size run, too slow for CI on two cores.
"""

from __future__ import annotations

import os
import sys
import tempfile

if "--warm-cache" not in sys.argv and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    # cold compiles, as a user's first one, and nothing left in the user's cache folder
    import atexit
    import shutil

    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="specgen-inductor-")
    atexit.register(shutil.rmtree, os.environ["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

import specgen  # noqa: E402
from specgen.targets.deploy import fold_torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TOLERANCE = 1e-5  # relative to the output's largest magnitude, as tests/test_export.py


@dataclass
class Row:
    """One example's figures; None where a stage failed or did not run."""

    name: str
    params: int = 0
    macs: int = 0
    compile_s: float | None = None
    graphs: int | None = None
    compile_diff: float | None = None
    export_s: float | None = None
    export_diff: float | None = None
    export_bn: int | None = None
    onnx_s: float | None = None
    onnx_diff: float | None = None
    onnx_bn: int | None = None
    deploy_bn: int = 0
    eager_ms: float | None = None
    compiled_ms: float | None = None
    ort_ms: float | None = None
    failures: list[str] = field(default_factory=list)


def randomize_batchnorms(model: torch.nn.Module) -> None:
    """Non-trivial BatchNorm statistics, so that folding them changes the weights."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


def deploy_module(name: str) -> tuple[specgen.Network, torch.nn.Module]:
    """The example's deploy form, with the folded weights of a randomised eager model."""
    torch.manual_seed(0)
    net = specgen.compile(EXAMPLES / name)
    eager = net.to_torch().eval()
    randomize_batchnorms(eager)
    deploy = net.deploy().to_torch().eval()
    deploy.load_state_dict(fold_torch(net.ir, eager.state_dict()))
    return net, deploy


def rel_diff(got, expected: torch.Tensor) -> float:
    """max|got - expected| / max|expected|."""
    got = torch.as_tensor(got)
    return ((got - expected).abs().max() / expected.abs().max()).item()


def count_batch_norms(graph: torch.fx.Graph) -> int:
    return sum(1 for n in graph.nodes if n.op == "call_function" and "batch_norm" in str(n.target))


def _fail(row: Row, stage: str, exc: BaseException) -> None:
    first = (str(exc).strip().splitlines() or [""])[0][:160]
    row.failures.append(f"{stage}: {type(exc).__name__}: {first}")
    print(f"--- {row.name} {stage} failed:", file=sys.stderr)
    traceback.print_exc()


def run(name: str, repeat: int, threads: int, workdir: Path) -> Row:
    net, model = deploy_module(name)
    row = Row(name, net.deploy().cost.params, net.cost.macs)
    row.deploy_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    x = torch.randn(1, *net.input_shape.as_list())
    with torch.no_grad():
        expected = model(x)

    compiled = session = None
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    try:
        compiled = torch.compile(model, backend="inductor")
        start = time.perf_counter()
        with torch.no_grad():
            got = compiled(x)
        row.compile_s = time.perf_counter() - start
        row.graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        row.compile_diff = rel_diff(got, expected)
    except Exception as exc:  # noqa: BLE001 - every failure goes into the table
        compiled = None
        _fail(row, "torch.compile", exc)

    try:
        start = time.perf_counter()
        program = torch.export.export(model, (x,))
        row.export_s = time.perf_counter() - start
        row.export_bn = count_batch_norms(program.graph)
        with torch.no_grad():
            row.export_diff = rel_diff(program.module()(x), expected)
    except Exception as exc:  # noqa: BLE001
        _fail(row, "torch.export", exc)

    try:
        import onnxruntime as ort

        path = workdir / (name.removesuffix(".conv") + ".onnx")
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onnx_program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
        onnx_program.save(str(path))
        row.onnx_s = time.perf_counter() - start
        row.onnx_bn = sum(
            n.op_type == "BatchNormalization" for n in onnx_program.model_proto.graph.node
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x.numpy()}
        row.onnx_diff = rel_diff(session.run(None, feed)[0], expected)
    except Exception as exc:  # noqa: BLE001
        session = None
        _fail(row, "onnx", exc)

    runners = {"eager": lambda: model(x)}
    if compiled is not None:
        runners["compiled"] = lambda: compiled(x)
    if session is not None:
        runners["ort"] = lambda: session.run(None, feed)
    times: dict[str, list[float]] = {k: [] for k in runners}
    with torch.no_grad():
        for _ in range(3):  # warm-up
            for f in runners.values():
                f()
        for _ in range(repeat):
            for key, f in runners.items():
                start = time.perf_counter()
                f()
                times[key].append(time.perf_counter() - start)
    row.eager_ms = statistics.median(times["eager"]) * 1e3
    if "compiled" in times:
        row.compiled_ms = statistics.median(times["compiled"]) * 1e3
    if "ort" in times:
        row.ort_ms = statistics.median(times["ort"]) * 1e3
    for stage, diff in (("compile", row.compile_diff), ("export", row.export_diff),
                        ("onnx", row.onnx_diff)):  # fmt: skip
        if diff is not None and not diff <= TOLERANCE:
            row.failures.append(f"{stage}: output differs by {diff:.1e} (> {TOLERANCE:g})")
    for stage, left in (("export", row.export_bn), ("onnx", row.onnx_bn)):
        if left is not None and left != row.deploy_bn:
            row.failures.append(
                f"{stage}: {left} BatchNorms in the graph, {row.deploy_bn} expected"
            )
    return row


def _f(value: float | None, fmt: str) -> str:
    return "FAIL" if value is None else format(value, fmt)


def markdown(rows: list[Row]) -> str:
    lines = [
        "| example | params (deploy) | MACs | compile (s) | graphs | export (s) | ONNX export (s) "
        "| max rel. diff compile / export / ORT | BN left | eager (ms) | compiled (ms) "
        "| ORT (ms) |",
        "|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|",
    ]
    for r in rows:
        diffs = " / ".join(_f(d, ".1e") for d in (r.compile_diff, r.export_diff, r.onnx_diff))
        lines.append(
            f"| {r.name.removesuffix('.conv')} | {r.params:,} | {r.macs / 1e6:,.1f} M "
            f"| {_f(r.compile_s, '.1f')} | {_f(r.graphs, 'd')} | {_f(r.export_s, '.2f')} "
            f"| {_f(r.onnx_s, '.1f')} | {diffs} | {r.deploy_bn} | {_f(r.eager_ms, '.2f')} "
            f"| {_f(r.compiled_ms, '.2f')} | {_f(r.ort_ms, '.2f')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="example files (default: every example)")
    parser.add_argument("--repeat", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="threads when timing (1)")
    parser.add_argument("--warm-cache", action="store_true", help="use inductor's caches")
    parser.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    names = args.names or sorted(p.name for p in EXAMPLES.glob("*.conv"))
    torch.set_num_threads(args.threads)
    torch._inductor.config.force_disable_caches = not args.warm_cache
    rows = []
    with tempfile.TemporaryDirectory(prefix="specgen-onnx-") as tmp:
        for name in names:
            start = time.perf_counter()
            rows.append(run(name, args.repeat, args.threads, Path(tmp)))
            print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, batch 1, median of {args.repeat} rounds, inductor caches "
        f"{'on' if args.warm_cache else 'off'}\n"
    )
    print(markdown(rows))
    failures = [f"{r.name}: {f}" for r in rows for f in r.failures]
    if failures:
        print("\nfailures:\n" + "\n".join(failures))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
