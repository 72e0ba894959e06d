"""The `specgen` command line: check, cost, build, graph, fmt, verify, search.

Exit codes:

- 0 success;
- 1 a check that ran and failed (verify);
- 2 a mistake in the spec, the parameters or the command line, or an output that cannot be
  written (printed with its place, never as a traceback);
- 3 an internal error (a bug in specgen: set SPECGEN_DEBUG=1 for the traceback);
- 130 interrupted by Ctrl-C, silently, from the moment specgen's own code runs (Python's own
  start-up, the first few tens of milliseconds, is not ours).  Under `python -m specgen`,
  CPython 3.11 instead ends the process by SIGINT (which a shell also reports as 130) when the
  KeyboardInterrupt passed through exec()'d code, such as a dataclass being created, before
  `main` caught it;
- 141 (128 + SIGPIPE, what a shell shows for a writer killed by SIGPIPE) when whoever read
  standard output went away (`specgen cost net.conv | head -1`): the rest of the output is
  dropped, silently, as Python's documentation advises (stdout is pointed at os.devnull so the
  final flush cannot fail).  Not 1, which means "verify failed".

`cost` and `build` without -o exist for their output, so a closed standard output
(`specgen cost net.conv >&-`) is a usage error (2); `check` and `verify` answer with their exit
code and then print nothing.

Start-up: importing this module is cheap (the standard library and `specgen.errors`).  The
compiler (lark), the emitters (jinja2, black) and the frameworks are imported inside `main`,
whose `except KeyboardInterrupt` turns Ctrl-C into exit 130; while this module itself is being
imported, a SIGINT handler exits 130 at once (it is removed again at the end of the import, so
a program or test runner that imports this module keeps its own Ctrl-C).
"""

from __future__ import annotations

import signal
import sys


def _exit_on_sigint(signum: int, frame: object) -> None:
    """Ctrl-C before `main` can catch KeyboardInterrupt: exit 130 without a traceback."""
    raise SystemExit(130)


def _install_startup_sigint() -> bool:
    """Install `_exit_on_sigint` unless someone else (an application, a test runner) already
    handles SIGINT or this is not the main thread; say whether it was installed."""
    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return False
        signal.signal(signal.SIGINT, _exit_on_sigint)
        return True
    except (ValueError, OSError):  # not the main thread, or no signals here
        return False


_STARTUP_SIGINT = _install_startup_sigint()

import argparse  # noqa: E402  (after the SIGINT handler, on purpose)
import contextlib  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import (  # noqa: E402
    TYPE_CHECKING,
    Any,  # noqa: E402
    TextIO,
)

from .. import __version__  # noqa: E402
from ..errors import Diagnostic, Source, SpecError, printable  # noqa: E402

if TYPE_CHECKING:
    from ..compiler import Network

EXIT_OK, EXIT_FAILED, EXIT_SPEC, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 0 .. 2**64 - 1 (negatives alias)


def __getattr__(name: str) -> Any:
    """`specgen.cli.compile` and `.Network`, imported on first use (PEP 562) so that importing
    the command line does not import lark; tests may replace `specgen.cli.compile`."""
    if name in ("compile", "Network"):
        from .. import compiler

        return getattr(compiler, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Usage(Exception):
    pass


def _parse_sets(items: Sequence[str]) -> dict[str, Any]:
    from ..language.parse import parse_value

    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            source = Source(item, "--set")
            raise SpecError(
                [Diagnostic(f"--set expects NAME=VALUE, got `{item}`", code="usage")], source
            )
        params[name] = parse_value(text, name)
    return params


def _compile(args: argparse.Namespace, file: str | None = None) -> Network:
    # Not the bare name: without a module global `compile` it would be the builtin.
    compile_: Callable[..., Network] = globals().get("compile") or __getattr__("compile")
    params = _parse_sets(args.set)
    args.set_names = set(params)
    file = args.file if file is None else file
    if not file:  # Path("") would be the current folder
        raise _Usage("the file name is empty")
    if file == "-":
        net = compile_(_read_stdin(), params, filename="<stdin>")
    else:
        # a Path: a FILE argument is always read, even one with a line break in its name
        # (compile() takes a str with one as the spec's text)
        from pathlib import Path

        net = compile_(Path(file), params, filename=file)
    warning = getattr(net, "memory_warning", None)
    if warning:  # before anything is allocated
        _complain(f"specgen: warning: {warning}")
    return net


def _read_stdin() -> bytes:
    """The spec on standard input (`-`), read as a file is: in one bounded read."""
    from ..limits import MAX_SOURCE_BYTES

    if sys.stdin is None:
        raise _Usage("standard input is closed")
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream without bytes (a test's StringIO)
        return sys.stdin.read(MAX_SOURCE_BYTES + 1).encode()
    return stream.read(MAX_SOURCE_BYTES + 1)


def _files(args: argparse.Namespace) -> list[str]:
    """The command's files; `-` (standard input) at most once."""
    files = list(args.file) if isinstance(args.file, list) else [args.file]
    if files.count("-") > 1:
        raise _Usage("`-` (standard input) can be given once")
    return files


def _color(stream: TextIO | None, choice: str = "auto") -> bool:
    """Colour for `stream` (diagnostics, the cost table): the rule of `report.use_color`."""
    from .report import use_color

    return use_color(choice, stream)


def _stdout(needed: bool = True) -> TextIO | None:
    """sys.stdout, or a usage error when it is closed (None) and the command exists to print."""
    if sys.stdout is None and needed:
        raise _Usage("standard output is closed")
    return sys.stdout


def _print(text: str, needed: bool = True) -> None:
    """Write and flush now, inside main's try: a broken pipe or a full disk surfaces here, not
    as an 'Exception ignored' at interpreter exit."""
    out = _stdout(needed)
    if out is None:
        return
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        _discard_stdout()
        raise _Usage(f"cannot write to standard output: {err.strerror or err}") from None


def _discard_stdout() -> None:
    """Point fd 1 at os.devnull so that the interpreter's final flush cannot fail again."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (AttributeError, OSError, ValueError):  # None, closed, or not a real file
        return
    try:
        os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        os.close(devnull)


def _cmd_check(args: argparse.Namespace) -> int:
    code, results = _each_file(args, lambda file: _check_one(args, file))
    several = len(_files(args)) > 1
    for file, text in results:
        # a constraint's text and a file name come from outside: shown escaped
        _print(printable(f"{file}: {text}" if several else text, newlines=True) + "\n", False)
    return code


def _each_file(args: argparse.Namespace, work: Callable[[str], Any]) -> tuple[int, list]:
    """(exit code, [(shown name, work(file))]) over the command's files.  One file's
    SpecError propagates as it is; with several, each is reported and the rest still run."""
    files = _files(args)
    code, results = EXIT_OK, []
    for file in files:
        try:
            result = work(file)
        except SpecError as err:
            if len(files) == 1:
                raise
            _complain(err.render(_color(sys.stderr)))
            code = EXIT_SPEC
            continue
        results.append(("<stdin>" if file == "-" else file, result))
    return code, results


def _check_one(args: argparse.Namespace, file: str) -> str:
    net = _compile(args, file)
    layers = len(net.cost.layers)
    text = f"ok: {net!r}, {layers} layers, {net.cost.params:,} params, {net.cost.macs:,} MACs"
    from ..compiler import _front

    dims = _front(net.source.text, net.source.filename)[2]
    dims = [d for d in dims if d.name not in args.set_names]
    if dims:
        from ..language.domains import space_size

        size = space_size(tuple(dims))
        text += "\nsearch space: " + (f"{size:,} points" if size is not None else "continuous")
        text += "".join(f"\n  {d.name}: {d.domain}" for d in dims)
    for c in net.constraints:
        state = "holds" if c.satisfied else "does NOT hold"
        text += f"\nconstraint `{c.text}`: {state} at this point"
    return text


def _cmd_cost(args: argparse.Namespace) -> int:
    from .report import render

    out = _stdout()  # fail before the work
    depth = 1 if args.blocks else args.depth

    def report(file: str) -> str:
        net = _compile(args, file)
        _constraint_warnings(net, file)
        if args.deploy:
            net = net.deploy()
        # colour is decided for the stream the table goes to (plain text when piped)
        return render(net, args.format, depth=depth, color=args.color, stream=out)

    code, parts = _each_file(args, report)
    if len(_files(args)) == 1:
        _print(parts[0][1])
    elif parts:
        _print(_several(parts, args.format))
    return code


def _constraint_warnings(net: Network, file: str) -> None:
    """On stderr, as `check` says on stdout: each `constraint` line this point breaks (the
    defaults, or the --set values), so a cost is not taken for one inside the space."""
    shown = "<stdin>" if file == "-" else file
    for c in net.constraints:
        if not c.satisfied:
            _complain(
                printable(
                    f"specgen: warning: {shown}: constraint `{c.text}` does NOT hold at this "
                    "point"
                )
            )


def _several(parts: list[tuple[str, str]], fmt: str) -> str:
    """Several files' reports as one: a JSON array whose objects name their `file`, CSV with
    a leading `file` column, tables and markdown one after another under the file's name."""
    if fmt == "json":
        import json

        reports = [{"file": file, **json.loads(text)} for file, text in parts]
        return json.dumps(reports, indent=2) + "\n"
    if fmt == "csv":
        import csv
        import io

        from .report import csv_text

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for i, (file, text) in enumerate(parts):
            rows = list(csv.reader(io.StringIO(text)))
            if i == 0:
                writer.writerow(["file", *rows[0]])
            writer.writerows([csv_text(file), *row] for row in rows[1:])
        return buffer.getvalue()
    heading = "## {}\n\n" if fmt == "markdown" else "==> {} <==\n"
    return "\n".join(heading.format(printable(file)) + text for file, text in parts)


def _tolerance(text: str) -> float:
    """argparse type of --tolerance: nan would pass every comparison, inf or < 0 make none."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number, got `{text}`") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expects a finite number >= 0, got `{text}`")
    return value


def _seed(text: str) -> int:
    """argparse type of --seed: torch seeds are 0 .. 2**64-1; negatives would alias large ones
    and larger ones crash inside torch."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a whole number, got `{text}`") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expects a whole number from 0 to 2**64-1, got {text}")
    return value


def _add_common(p: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        p.add_argument("file", nargs="+", help="the .conv specs (`-`: standard input)")
    else:
        p.add_argument("file", help="the .conv spec (`-`: standard input)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a network parameter (repeatable), e.g. --set g=8",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specgen",
        description="Compile .conv specs of efficient convolutional networks.",
    )
    parser.add_argument("--version", action="version", version=f"specgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="parse and validate specs (exit 0, or 2 with the mistakes)")
    _add_common(p, many=True)
    p.set_defaults(run=_cmd_check)

    p = sub.add_parser(
        "cost", help="params, MACs, FLOPs and memory as a tree of blocks and layers, and in total"
    )
    _add_common(p, many=True)
    p.add_argument("--format", choices=["table", "json", "csv", "markdown"], default="table")
    fold = p.add_mutually_exclusive_group()
    fold.add_argument(
        "--depth",
        type=_depth,
        metavar="N",
        help="show the tree down to N levels of block calls (0: the totals only, 1: the"
        " network's own lines, 2: also the inside of each block call; composites such as"
        " residual never count); deeper calls are folded into their rows' totals (default:"
        " every layer)",
    )
    fold.add_argument("--blocks", action="store_true", help="the same as --depth 1")
    p.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour the table (auto: on a terminal, unless NO_COLOR is set)",
    )
    p.add_argument(
        "--deploy", action="store_true", help="the deploy form: BatchNorm folded into convs"
    )
    p.set_defaults(run=_cmd_cost)

    from ..targets import targets

    p = sub.add_parser("build", help="emit framework source code for a spec")
    _add_common(p)
    p.add_argument("--target", required=True, help=f"one of: {', '.join(targets())}")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write to FILE instead of stdout, atomically; FILE must be a regular file (its mode"
        " is kept) or a new name (mode 0666 less the umask); a symlink is written through to its"
        " target; a FIFO, /dev/null and /dev/stdout are written to, as `>` would; folders, other"
        " devices and sockets are refused",
    )
    p.add_argument(
        "--split-groups",
        action="store_true",
        help="keras: write group convs as slice -> Conv2D per group -> Concatenate",
    )
    p.add_argument(
        "--deploy",
        action="store_true",
        help="emit the deploy form: every BatchNorm after a conv or fc folded into it (a bias)",
    )
    p.set_defaults(run=_cmd_build)

    p = sub.add_parser(
        "verify", help="check that the PyTorch and Keras code compute the same function"
    )
    _add_common(p)
    p.add_argument("--backend", choices=["tensorflow", "jax", "torch"], help="Keras backend")
    p.add_argument(
        "--tolerance", type=_tolerance, default=1e-4, help="max |diff| / output scale (>= 0)"
    )
    p.add_argument("--seed", type=_seed, default=0, help="random weights and input (0 .. 2**64-1)")
    p.add_argument("--split-groups", action="store_true", help="verify the split-groups form")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="keep the frameworks' own log messages"
    )
    p.set_defaults(run=_cmd_verify)

    p = sub.add_parser("graph", help="a block diagram: DOT text, or SVG/PNG/PDF drawn by Graphviz")
    _add_common(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="FILE.svg, .png, .pdf (drawn by Graphviz's `dot`) or .dot/.gv: the suffix gives"
        " the format (`-o svg` is refused); default: DOT on stdout",
    )
    p.add_argument(
        "--depth",
        type=_depth,
        metavar="N",
        help="draw block calls nested deeper than N as one box (0: every call); default:"
        " every block open, or, past 150 boxes, the deepest N that stays under",
    )
    p.add_argument(
        "--expand",
        action="append",
        default=[],
        metavar="BLOCK",
        help="open every instance of BLOCK (repeatable)",
    )
    p.add_argument(
        "--block",
        metavar="BLOCK[:K]",
        help="draw only one call of BLOCK, open: the first, or with :K the K-th (from 1, in"
        " execution order)",
    )
    p.set_defaults(run=_cmd_graph)

    p = sub.add_parser(
        "fmt", help="rewrite .conv files in the canonical layout, keeping every comment"
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="files to format in place (`-`: stdin to stdout)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the files that would change",
    )
    p.add_argument("--diff", action="store_true", help="print a unified diff instead of writing")
    p.set_defaults(run=_cmd_fmt)

    p = sub.add_parser(
        "search",
        help="search the space the spec declares (parameter domains, constraints)",
        description="Evaluate candidates of the spec's search space and mark the Pareto front. "
        "Samplers other than random/grid, and --storage, need Optuna (specgen[search]).",
    )
    _add_common(p)
    p.add_argument(
        "--trials", type=_count, help="candidates to evaluate (default: 100; grid: all)"
    )
    p.add_argument("--sampler", choices=["grid", "random", "tpe", "nsga2"], default="random")
    p.add_argument("--seed", type=_search_seed, help="the sampler's seed (0 .. 2**32-1)")
    p.add_argument("--max-params", type=_count, metavar="N", help="constraint: params <= N")
    p.add_argument("--max-macs", type=_count, metavar="N", help="constraint: macs <= N")
    p.add_argument(
        "--objective",
        action="append",
        default=[],
        metavar="[min:|max:]EXPR",
        help="an objective over params, macs, flops, activations, peak_activations, layers and "
        "the spec's parameters and lets (repeatable or comma-separated; default: params,macs)",
    )
    p.add_argument(
        "--storage",
        metavar="URL",
        help="an Optuna storage: sqlite:///study.db, "
        "postgresql://user@host/db (workers sharing it share the study)",
    )
    p.add_argument(
        "--study", metavar="NAME", help="the study's name in --storage (resumed if " "it exists)"
    )
    p.add_argument("--format", choices=["table", "jsonl"], default="table")
    p.add_argument("-o", "--output", metavar="FILE", help="write the results to FILE")
    p.add_argument(
        "--best-spec", metavar="FILE", help="write the spec with the best point's values pinned"
    )
    p.set_defaults(run=_cmd_search)
    return parser


def _count(text: str) -> int:
    """A count or budget: `1000`, `150e6`, `1_000_000` (whole and positive)."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number, got `{text}`") from None
    if not (value.is_integer() and 0 < value < 2**63):
        raise argparse.ArgumentTypeError(f"expects a positive whole number, got {text}")
    return int(value)


def _split(text: str) -> list[str]:
    """`min:macs,max:params` at its top-level commas (`max(macs, params)` stays whole)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _search_seed(text: str) -> int:
    value = _seed(text)
    if value > 2**32 - 1:  # Optuna's samplers seed numpy
        raise argparse.ArgumentTypeError(f"expects a whole number from 0 to 2**32-1, got {text}")
    return value


def _cmd_search(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .output import OutputError, plan_output, write_output
    from .search import Objective, Space, render_table

    try:
        for path in (args.output, args.best_spec):
            if path is not None:
                plan_output(path)  # fail before the work
    except OutputError as err:
        raise _Usage(str(err)) from None
    if not args.file:
        raise _Usage("the file name is empty")
    stdin = args.file == "-"
    name = "<stdin>" if stdin else args.file
    paths = [p for p in (None if stdin else args.file, args.output, args.best_spec) if p]
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            if os.path.abspath(a) == os.path.abspath(b) or (
                os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
            ):
                raise _Usage(f"{b} is named twice (the spec, -o and --best-spec must differ)")
    if args.output is None:
        _stdout()
    objectives = [Objective.parse(t) for text in args.objective for t in _split(text) if t]
    objectives = objectives or [Objective.parse("params"), Objective.parse("macs")]
    constraints = []
    if args.max_params is not None:
        constraints.append(f"params <= {args.max_params}")
    if args.max_macs is not None:
        constraints.append(f"macs <= {args.max_macs}")
    params = _parse_sets(args.set)
    space = (
        Space(_read_stdin(), params, filename=name)
        if stdin
        else Space(Path(args.file), params, filename=args.file)
    )
    if not space.dimensions and any(q.domain for q in space.program.params):
        raise _Usage("--set fixes every searched parameter: nothing is left to search")
    if not space.dimensions:
        raise _Usage(
            f"{name} declares no search space: give a network parameter a domain, "
            "e.g. `g: choice(1, 2, 4) = 2`"
        )
    trials = args.trials
    if trials is None:
        trials = space.size if args.sampler == "grid" and space.size is not None else 100
    progress = _Progress(trials) if sys.stderr is not None and sys.stderr.isatty() else None
    from .search import SearchError

    try:
        candidates = space.run(
            objectives,
            trials,
            sampler=args.sampler,
            seed=args.seed,
            constraints=constraints,
            storage=args.storage,
            study_name=args.study,
            progress=progress,
            keep_networks=False,  # the table and JSONL need the totals only
        )
    except SearchError as err:
        raise _Usage(str(err)) from None
    finally:
        if progress is not None:
            progress.done()
    if args.format == "jsonl":
        import json

        text = "".join(json.dumps(c.to_json()) + "\n" for c in candidates)
    else:
        text = render_table(candidates, objectives, space.names)
    try:
        if args.output is None:
            _print(text)
        else:
            write_output(args.output, text)
        if args.best_spec is not None:
            from .search import best

            chosen = best([c for c in candidates if c.pareto], [o.direction for o in objectives])
            if chosen is None:
                raise _Usage("no feasible candidate: --best-spec was not written")
            write_output(args.best_spec, space.pin(chosen.point))
    except OutputError as err:
        raise _Usage(str(err)) from None
    return EXIT_OK


class _Progress:
    """rich's progress bar on a terminal's stderr (the caller makes none for a pipe)."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.feasible = 0
        self.bar = Progress(
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("candidates, {task.fields[feasible]} feasible"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
        )
        self.task = self.bar.add_task("search", total=max(total, 1), feasible=0)
        self.bar.start()

    def __call__(self, n: int, candidate: Any) -> None:
        self.feasible += candidate.feasible
        self.bar.update(self.task, completed=n, feasible=self.feasible)

    def done(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # a terminal gone meanwhile
            self.bar.stop()


def _complain_raw(text: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.write(text)
        sys.stderr.flush()


def _cmd_verify(args: argparse.Namespace) -> int:
    from ..targets.verify import select_backend

    if not args.verbose:
        _quiet_frameworks()
    try:
        select_backend(args.backend)
    except RuntimeError as err:
        raise _Usage(str(err)) from None
    # the frameworks take seconds to import: a status line says so from the start
    with _Status("verify: compiling the spec") as status:
        net = _compile(args)
        status.update(f"verify {net.name}: importing PyTorch and Keras")
        if not args.verbose:
            with _quiet_fd2():  # TensorFlow's C++ start-up lines bypass every log level
                import keras  # noqa: F401
        from ..targets.verify import verify

        status.update(f"verify {net.name}: building both models and comparing them")
        report = verify(
            net, tolerance=args.tolerance, seed=args.seed, split_groups=args.split_groups
        )
    _print(report.render(), needed=False)
    return EXIT_OK if report.passed else EXIT_FAILED


def _quiet_frameworks() -> None:
    """Silence TensorFlow's C++ start-up lines (oneDNN, cpu_feature_guard), absl's and Keras'
    Python warnings: what `verify` prints is its report (--verbose keeps them).  Log levels
    only: nothing that would change which kernels run."""
    import logging
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    warnings.filterwarnings("ignore", module=r"(keras|tensorflow|torch|jax|absl)(\.|$)")
    for name in ("tensorflow", "absl", "jax", "keras", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def _quiet_fd2() -> Any:
    """File descriptor 2 pointed at os.devnull meanwhile (what C++ libraries write to it);
    nothing when stderr is not a real file."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _Activity:
    """`specgen: what... 3 s` on a terminal's stderr while a step that may take a few seconds
    runs (it appears only after 2 s, and is erased at the end); nothing when piped."""

    DELAY, PERIOD = 2.0, 0.5

    def __init__(self, what: str):
        self.what = what
        self.thread: Any = None
        try:
            self.active = sys.stderr is not None and sys.stderr.isatty()
        except (AttributeError, ValueError, OSError):
            self.active = False

    def __enter__(self) -> _Activity:
        if self.active:
            import threading
            import time

            self.stop = threading.Event()
            self.start = time.monotonic()
            self.shown = False
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self

    def _run(self) -> None:
        import time

        if self.stop.wait(self.DELAY):
            return
        while not self.stop.is_set():
            self.shown = True
            seconds = time.monotonic() - self.start
            _complain_raw(f"\r\x1b[2Kspecgen: {self.what}... {seconds:.0f} s")
            self.stop.wait(self.PERIOD)

    def __exit__(self, *exc: object) -> None:
        if self.thread is not None:
            self.stop.set()
            self.thread.join()
            if self.shown:
                _complain_raw("\r\x1b[2K")


class _Status:
    """A spinner and `specgen: what... 3 s` on a terminal's stderr from the first moment
    (drawn by rich, erased at the end); nothing when stderr is not a terminal.  It writes to
    its own copy of file descriptor 2, so it stays visible while `_quiet_fd2` silences the
    frameworks' C++ start-up lines, and it redirects nothing."""

    def __init__(self, what: str):
        self.what = what
        self.live: Any = None
        self.stream: Any = None
        self.start = 0.0

    def _text(self) -> str:
        import time

        return f"specgen: {printable(self.what)}... {time.monotonic() - self.start:.0f} s"

    def __enter__(self) -> _Status:
        import time

        self.start = time.monotonic()
        try:
            if sys.stderr is None or not sys.stderr.isatty():
                return self
            self.stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", errors="replace")
        except (AttributeError, ValueError, OSError):
            return self
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        self.spinner = Spinner("dots", text=self._text())
        console = Console(file=self.stream, highlight=False, markup=False, emoji=False)
        self.live = Live(
            self,
            console=console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
            refresh_per_second=8,
        )
        self.live.start(refresh=True)  # drawn now, not at the first tick
        return self

    def __rich__(self) -> Any:
        """What the live display draws at each refresh: the spinner with the seconds."""
        self.spinner.update(text=self._text())
        return self.spinner

    def update(self, what: str) -> None:
        self.what = what
        if self.live is not None:
            self.live.refresh()

    def __exit__(self, *exc: object) -> None:
        try:
            if self.live is not None:
                self.live.stop()
        finally:
            if self.stream is not None:
                with contextlib.suppress(OSError):
                    self.stream.close()


def _cmd_build(args: argparse.Namespace) -> int:
    from ..targets import get_emitter, targets
    from .output import OutputError, plan_output, write_output

    if args.target not in targets():
        raise _Usage(f"unknown target `{args.target}`; targets: {', '.join(targets())}")
    options = {"split_groups": True} if args.split_groups else {}
    if options and args.target != "keras":
        raise _Usage("--split-groups applies to --target keras only")
    try:
        if args.output is None:
            _stdout()
        else:
            plan_output(args.output)  # fail before the work; checked again when written
        net = _compile(args)
        code = get_emitter(args.target).emit(net.deploy() if args.deploy else net, **options)
        if args.output is None:
            _print(code)
        else:
            write_output(args.output, code)
    except OutputError as err:
        raise _Usage(str(err)) from None
    return EXIT_OK


def _depth(text: str) -> int:
    """argparse type of graph --depth: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a whole number, got `{text}`") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expects a whole number >= 0, got {text}")
    return value


def _cmd_graph(args: argparse.Namespace) -> int:
    from . import graph
    from .output import OutputError, plan_output

    try:
        drawn = False  # by Graphviz, whose time and memory grow fast with the boxes
        if args.output is not None:  # fail before the work
            # -o is always a file name: `-o svg` is refused (no suffix), not read as a format
            drawn = graph.file_format(args.output) != "dot"
            if drawn:
                graph.dot_program()
            plan_output(args.output)
        else:
            _stdout()
        net = _compile(args)
        depth = args.depth
        if depth is None and not args.expand and args.block is None:
            depth = graph.default_depth(net)
            if depth is not None:
                _complain(
                    f"specgen: note: {net.name} has more than {graph.DEFAULT_BOXES} boxes with "
                    f"every block open; drawn with --depth {depth} (--depth N chooses)"
                )
        text = graph.to_dot(
            net,
            depth=depth,
            expand=args.expand,
            block=args.block,
            max_boxes=graph.MAX_BOXES if drawn else None,
        )
        if args.output is None:
            _print(text)
        else:
            with _Activity("drawing the graph with Graphviz"):
                graph.write(text, args.output)
    except (graph.GraphError, OutputError) as err:
        raise _Usage(str(err)) from None
    return EXIT_OK


def _cmd_fmt(args: argparse.Namespace) -> int:
    from .fmt import fmt_command

    if args.files.count("-") > 1:
        raise _Usage("`-` (standard input) can be given once")
    return fmt_command(args.files, args.check, args.diff, sys.stdin, sys.stdout, sys.stderr)


def _complain(text: str) -> None:
    """Print to stderr if there is one: a closed or broken stderr must not turn a clean exit
    code into a traceback (print(file=None) would even fall back to stdout)."""
    if sys.stderr is None:
        return
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (the module docstring lists them)."""
    try:
        args = build_parser().parse_args(argv)  # in the try: it imports the emitters
        return args.run(args)
    except SpecError as err:
        _complain(err.render(_color(sys.stderr)))
        return EXIT_SPEC
    except ImportError as err:
        _complain(f"specgen: error: {err.name or err} is not installed (see README.md)")
        return EXIT_SPEC
    except _Usage as err:  # several lines where Graphviz says more: kept as lines
        _complain(printable(f"specgen: error: {err}", newlines=True))
        return EXIT_SPEC
    except BrokenPipeError:  # the reader of stdout is gone: nobody to tell
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as err:
        _complain(printable(f"specgen: error: {err.strerror or err}: {err.filename or ''}"))
        return EXIT_SPEC
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except MemoryError:  # the limits keep specs far below this; a memory cap can still hit it
        _complain(
            "specgen: error: out of memory (the spec, or the memory limit of this process, "
            "is too large for this machine)"
        )
        return EXIT_SPEC
    except Exception as err:  # a bug in specgen, not a user mistake
        if os.environ.get("SPECGEN_DEBUG"):
            traceback.print_exc()
        _complain(
            f"specgen: internal error: {type(err).__name__}: {err}\n"
            "  this is a bug in specgen; SPECGEN_DEBUG=1 shows the traceback"
        )
        return EXIT_INTERNAL


# Imported: from here on Ctrl-C raises KeyboardInterrupt again, which main turns into 130, and
# a program that imports this module keeps its own Ctrl-C.
if _STARTUP_SIGINT and signal.getsignal(signal.SIGINT) is _exit_on_sigint:
    signal.signal(signal.SIGINT, signal.default_int_handler)
