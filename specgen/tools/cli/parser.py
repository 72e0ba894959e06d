"""The command line's grammar: `build_parser` and the types of its arguments (counts, seeds,
tolerances, depths), which refuse bad values with argparse's usage message."""

from __future__ import annotations

import argparse
import math

from ...version import __version__
from .build import _cmd_build, _cmd_verify
from .check import _cmd_check, _cmd_cost
from .profile import _cmd_profile
from .render import _cmd_fmt, _cmd_graph
from .search import _cmd_search

# passes.latency.RUNTIMES and LAYOUTS (not imported: the command line starts without lark)
RUNTIMES = ("eager", "deploy", "onnxruntime")
LAYOUTS = ("nchw", "nhwc")
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 0 .. 2**64 - 1 (negatives alias)


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


def _search_seed(text: str) -> int:
    value = _seed(text)
    if value > 2**32 - 1:  # Optuna's samplers seed numpy
        raise argparse.ArgumentTypeError(f"expects a whole number from 0 to 2**32-1, got {text}")
    return value


def _count(text: str) -> int:
    """A count or budget: `1000`, `150e6`, `1_000_000` (whole and positive)."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number, got `{text}`") from None
    if not (value.is_integer() and 0 < value < 2**63):
        raise argparse.ArgumentTypeError(f"expects a positive whole number, got {text}")
    return int(value)


def _depth(text: str) -> int:
    """argparse type of graph --depth: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a whole number, got `{text}`") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expects a whole number >= 0, got {text}")
    return value


def _input(text: str) -> tuple[int, int, int]:
    """argparse type of --input: CxHxW."""
    from ...compiler import input_size

    try:
        size = input_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    assert size is not None
    return size


def _milliseconds(text: str) -> float:
    """argparse type of --max-latency: a positive, finite number of milliseconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expects a number of milliseconds, got `{text}`"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expects a finite number > 0, got `{text}`")
    return value


def _add_latency(p: argparse.ArgumentParser) -> None:
    """--latency TABLE and the options choosing its run: `latency` as a cost term."""
    p.add_argument(
        "--latency",
        metavar="TABLE",
        help="a latency table (`specgen profile`): each layer's and the network's predicted "
        "latency, and `latency` (ms) in constraints and objectives",
    )
    p.add_argument("--runtime", choices=RUNTIMES, help="the table's run (default: its only one)")
    p.add_argument("--batch", type=_count, help="the table's run at this batch")
    p.add_argument("--layout", choices=LAYOUTS, help="the table's run in this layout")
    p.add_argument(
        "--profile-missing",
        action="store_true",
        help="measure the layer configurations TABLE lacks on this machine (it must be the "
        "table's) and add them to it, instead of refusing",
    )


def _add_common(p: argparse.ArgumentParser, many: bool | str = False) -> None:
    if many == "*":
        p.add_argument("file", nargs="*", help="the .conv specs (`-`: standard input)")
    elif many:
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
    p.add_argument(
        "--input",
        type=_input,
        metavar="CxHxW",
        help="replace the spec's input, e.g. --input 3x32x32",
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
    _add_latency(p)
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
    _add_latency(p)
    p.set_defaults(run=_cmd_cost)

    p = sub.add_parser(
        "profile",
        help="measure each distinct layer configuration of specs on this machine into a "
        "latency table",
        description="Measure every distinct layer configuration of the specs (and of points "
        "of their search spaces) with the runtime that will run it, once each, and write a "
        "latency table for `cost --latency` and `search --latency` (docs/latency.md).  "
        "Needs PyTorch (and onnxruntime for --runtime onnxruntime).",
    )
    _add_common(p, many="*")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="TABLE",
        help="the latency table (JSON); an existing one of this device is added to and what "
        "it holds is not measured again",
    )
    p.add_argument("--runtime", choices=RUNTIMES, default="deploy", help="(default: deploy)")
    p.add_argument("--batch", type=_count, default=1, help="(default: 1)")
    p.add_argument("--layout", choices=LAYOUTS, default="nchw", help="the input's (default: nchw)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=_count, help="PyTorch's and ONNX Runtime's intra-op threads")
    space = p.add_mutually_exclusive_group()
    space.add_argument(
        "--samples",
        type=_count,
        metavar="N",
        help="also N random points of each spec's search space",
    )
    space.add_argument("--grid", action="store_true", help="also every point of the spaces")
    p.add_argument("--seed", type=_search_seed, default=0, help="the points' seed (--samples)")
    p.add_argument("--repeats", type=_count, default=15, help="samples per configuration")
    p.add_argument("--quick", action="store_true", help="5 short samples each: coarse, fast")
    p.add_argument(
        "--no-fit",
        action="store_true",
        help="do not time the specs whole (the model's fit stays as it was)",
    )
    p.add_argument(
        "--merge",
        action="append",
        default=[],
        metavar="TABLE",
        help="add a table measured on this device to -o (repeatable)",
    )
    p.set_defaults(run=_cmd_profile)

    from ...targets import targets

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
        "--max-latency",
        type=_milliseconds,
        metavar="MS",
        help="constraint: latency <= MS, predicted from --latency TABLE",
    )
    _add_latency(p)
    p.add_argument(
        "--objective",
        action="append",
        default=[],
        metavar="[min:|max:]EXPR",
        help="an objective over params, macs, flops, activations, peak_activations, layers, "
        "traffic, latency (with --latency) and the spec's parameters and lets (repeatable or "
        "comma-separated; default: params,macs)",
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
