"""The `specgen` command line: check, cost, build, graph, fmt, verify, search, profile.

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

Start-up: importing this package is cheap (the standard library and `specgen.errors`).  The
compiler (lark), the emitters (jinja2, black) and the frameworks are imported inside `main`,
whose `except KeyboardInterrupt` turns Ctrl-C into exit 130; while this package itself is being
imported, a SIGINT handler exits 130 at once (it is removed again at the end of the import, so
a program or test runner that imports this package keeps its own Ctrl-C).  That is why this
file installs the handler before it imports anything else, its submodules included.

The submodules: `common` (exit codes, reading specs, writing output), `status` (what a
terminal's stderr shows meanwhile), `parser` (the grammar of the command line) and one per
group of commands: `check` (check, cost), `build` (build, verify), `search`, `render` (graph,
fmt), `profile` (latency tables; `common` reads them for `--latency`).
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

import os  # noqa: E402  (after the SIGINT handler, on purpose)
import traceback  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from ...errors import SpecError, printable  # noqa: E402
from .common import (  # noqa: E402
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_SPEC,
    _color,
    _complain,
    _discard_stdout,
    _Usage,
)
from .parser import build_parser  # noqa: E402

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (the package docstring lists them)."""
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
# a program that imports this package keeps its own Ctrl-C.
if _STARTUP_SIGINT and signal.getsignal(signal.SIGINT) is _exit_on_sigint:
    signal.signal(signal.SIGINT, signal.default_int_handler)
