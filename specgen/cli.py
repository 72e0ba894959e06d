"""The `specgen` command line: check, cost, build.

Exit codes: 0 success; 1 a check that ran and failed (verify); 2 a mistake in the spec, the
parameters or the command line (printed with its place, never as a traceback); 3 an internal
error (a bug in specgen: set SPECGEN_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from . import __version__
from .compiler import Network, compile
from .errors import Diagnostic, Source, SpecError
from .parse import parse_value

EXIT_OK, EXIT_FAILED, EXIT_SPEC, EXIT_INTERNAL = 0, 1, 2, 3


class _Usage(Exception):
    pass


def _parse_sets(items: Sequence[str]) -> dict[str, Any]:
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


def _compile(args: argparse.Namespace) -> Network:
    return compile(args.file, _parse_sets(args.set))


def _cmd_check(args: argparse.Namespace) -> int:
    net = _compile(args)
    layers = len(net.cost.layers)
    print(f"ok: {net!r}, {layers} layers, {net.cost.params:,} params, {net.cost.macs:,} MACs")
    return EXIT_OK


def _cmd_cost(args: argparse.Namespace) -> int:
    from .report import to_json, to_table

    net = _compile(args)
    sys.stdout.write(to_json(net) if args.format == "json" else to_table(net, blocks=args.blocks))
    return EXIT_OK


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the .conv spec")
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

    p = sub.add_parser("check", help="parse and validate a spec (exit 0, or 2 with the mistakes)")
    _add_common(p)
    p.set_defaults(run=_cmd_check)

    p = sub.add_parser("cost", help="params, MACs, FLOPs and memory, per layer and in total")
    _add_common(p)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--blocks", action="store_true", help="one row per block instead of layer")
    p.set_defaults(run=_cmd_cost)

    from .emit import targets

    p = sub.add_parser("build", help="emit framework source code for a spec")
    _add_common(p)
    p.add_argument("--target", required=True, help=f"one of: {', '.join(targets())}")
    p.add_argument("-o", "--output", help="write to this file (atomically) instead of stdout")
    p.add_argument(
        "--split-groups",
        action="store_true",
        help="keras: write group convs as slice -> Conv2D per group -> Concatenate",
    )
    p.set_defaults(run=_cmd_build)

    p = sub.add_parser(
        "verify", help="check that the PyTorch and Keras code compute the same function"
    )
    _add_common(p)
    p.add_argument("--backend", choices=["tensorflow", "jax", "torch"], help="Keras backend")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max |diff| / output scale")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split-groups", action="store_true", help="verify the split-groups form")
    p.set_defaults(run=_cmd_verify)
    return parser


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify import select_backend

    try:
        select_backend(args.backend)
    except RuntimeError as err:
        raise _Usage(str(err)) from None
    net = _compile(args)
    from .verify import verify

    report = verify(net, tolerance=args.tolerance, seed=args.seed, split_groups=args.split_groups)
    sys.stdout.write(report.render())
    return EXIT_OK if report.passed else EXIT_FAILED


def _cmd_build(args: argparse.Namespace) -> int:
    from .emit import get_emitter, targets

    if args.target not in targets():
        raise _Usage(f"unknown target `{args.target}`; targets: {', '.join(targets())}")
    net = _compile(args)
    options = {"split_groups": True} if args.split_groups else {}
    if options and args.target != "keras":
        raise _Usage("--split-groups applies to --target keras only")
    code = get_emitter(args.target).emit(net, **options)
    if args.output:
        _write_atomic(args.output, code)
    else:
        sys.stdout.write(code)
    return EXIT_OK


def _write_atomic(path: str, text: str) -> None:
    """Write via a temporary file in the same folder and rename: never a partial file."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".specgen-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SpecError as err:
        print(err.render(), file=sys.stderr)
        return EXIT_SPEC
    except ImportError as err:
        print(
            f"specgen: error: {err.name or err} is not installed (see README.md)", file=sys.stderr
        )
        return EXIT_SPEC
    except _Usage as err:
        print(f"specgen: error: {err}", file=sys.stderr)
        return EXIT_SPEC
    except OSError as err:
        print(f"specgen: error: {err.strerror or err}: {err.filename or ''}", file=sys.stderr)
        return EXIT_SPEC
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a bug in specgen, not a user mistake
        if os.environ.get("SPECGEN_DEBUG"):
            traceback.print_exc()
        print(
            f"specgen: internal error: {type(err).__name__}: {err}\n"
            "  this is a bug in specgen; SPECGEN_DEBUG=1 shows the traceback",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
