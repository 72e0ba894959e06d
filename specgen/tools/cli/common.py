"""What the commands share: exit codes, usage errors, reading the specs (FILE, `-`, --set),
and writing to standard output and standard error without tracebacks.

Cheap to import (the standard library and `specgen.errors`): the compiler is imported on
first use, see `__getattr__`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ...errors import Diagnostic, Source, SpecError

if TYPE_CHECKING:
    from ...compiler import Network

EXIT_OK, EXIT_FAILED, EXIT_SPEC, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141


def __getattr__(name: str) -> Any:
    """`compile` and `Network` of this module, imported on first use (PEP 562) so that
    importing the command line does not import lark; tests may replace `common.compile`."""
    if name in ("compile", "Network"):
        from ... import compiler

        return getattr(compiler, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Usage(Exception):
    """A mistake on the command line, or an output that cannot be written: `main` prints it
    as one `specgen: error:` line and exits 2."""


def _parse_sets(items: Sequence[str]) -> dict[str, Any]:
    from ...language.parse import parse_value

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
    size = getattr(args, "input", None)
    model = latency_model(args)  # --latency TABLE: `latency` becomes a cost term
    extra = {} if model is None else {"latency": model}
    if file == "-":
        net = compile_(_read_stdin(), params, filename="<stdin>", input=size, **extra)
    else:
        # a Path: a FILE argument is always read, even one with a line break in its name
        # (compile() takes a str with one as the spec's text)
        from pathlib import Path

        net = compile_(Path(file), params, filename=file, input=size, **extra)
    warning = getattr(net, "memory_warning", None)
    if warning:  # before anything is allocated
        _complain(f"specgen: warning: {warning}")
    return net


def _read_stdin() -> bytes:
    """The spec on standard input (`-`), read as a file is: in one bounded read."""
    from ...limits import MAX_SOURCE_BYTES

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


def _color(stream: TextIO | None, choice: str = "auto") -> bool:
    """Colour for `stream` (diagnostics, the cost table): the rule of `report.use_color`."""
    from ..report import use_color

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


def _complain(text: str) -> None:
    """Print to stderr if there is one: a closed or broken stderr must not turn a clean exit
    code into a traceback (print(file=None) would even fall back to stdout)."""
    if sys.stderr is None:
        return
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def _complain_raw(text: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.write(text)
        sys.stderr.flush()


# ---- --latency TABLE: check, cost and search --------------------------------------------------


def latency_model(args: argparse.Namespace) -> Any:
    """The model of `--latency TABLE` (made once per command), or None without it."""
    path = getattr(args, "latency", None)
    if path is None:
        return None
    model = getattr(args, "latency_model", None)
    if model is None:
        from ...passes.latency import LatencyError, load_model

        try:
            if args.profile_missing:  # PyTorch: imported only then
                from ..profile import latency_model as make

                model = make(path, args.runtime, args.batch, args.layout, profile_missing=True)
            else:
                model = load_model(path, args.runtime, args.batch, args.layout)
        except LatencyError as err:
            raise _Usage(str(err)) from None
        except RuntimeError as err:  # --profile-missing on a CUDA table without a GPU
            raise _Usage(str(err)) from None
        args.latency_model = model
    return model


def save_measured(args: argparse.Namespace) -> None:
    """After `--profile-missing`: the configurations measured are added to the table."""
    model = getattr(args, "latency_model", None)
    if model is None or not model.measured:
        return
    from ...errors import printable
    from ..output import OutputError, write_output

    try:
        write_output(args.latency, model.table.dumps())
    except OutputError as err:
        raise _Usage(str(err)) from None
    _complain(
        printable(
            f"specgen: {args.latency}: {model.measured} configurations it lacked were measured "
            "and added"
        )
    )
