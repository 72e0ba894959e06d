"""`specgen build` and `specgen verify`: framework code emitted for a spec, and the PyTorch
and Keras models compared (with the frameworks' start-up noise kept off the terminal)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

from .common import EXIT_FAILED, EXIT_OK, _compile, _print, _stdout, _Usage
from .status import _Status


def _cmd_build(args: argparse.Namespace) -> int:
    from ...targets import get_emitter, targets
    from ..output import OutputError, plan_output, write_output

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


def _cmd_verify(args: argparse.Namespace) -> int:
    from ...targets.verify import select_backend

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
        from ...targets.verify import verify

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
