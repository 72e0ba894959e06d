"""`specgen check` and `specgen cost`: whether specs are valid, and what they cost, over one
file or several."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ...errors import printable
from .common import (
    _compile,
    _complain,
    _each_file,
    _files,
    _print,
    _stdout,
    _Usage,
    save_measured,
)

if TYPE_CHECKING:
    from ...compiler import Network


def _cmd_check(args: argparse.Namespace) -> int:
    code, results = _each_file(args, lambda file: _check_one(args, file))
    save_measured(args)
    several = len(_files(args)) > 1
    for file, text in results:
        # a constraint's text and a file name come from outside: shown escaped
        _print(printable(f"{file}: {text}" if several else text, newlines=True) + "\n", False)
    return code


def _check_one(args: argparse.Namespace, file: str) -> str:
    net = _compile(args, file)
    layers = len(net.cost.layers)
    text = f"ok: {net!r}, {layers} layers, {net.cost.params:,} params, {net.cost.macs:,} MACs"
    from ...compiler import _front

    dims = _front(net.source.text, net.source.filename)[2]
    dims = [d for d in dims if d.name not in args.set_names]
    if dims:
        from ...language.points import space_size

        size = space_size(tuple(dims))
        text += "\nsearch space: " + (f"{size:,} points" if size is not None else "continuous")
        text += "".join(f"\n  {d.name}: {d.domain}" for d in dims)
    for c in net.constraints:
        state = "holds" if c.satisfied else "does NOT hold"
        text += f"\nconstraint `{c.text}`: {state} at this point"
    for o in net.objectives:
        text += f"\nobjective: {o.direction} `{o.text}` ({_number(o.value)} at this point)"
    if getattr(net, "latency_model", None) is not None:
        text += f"\nlatency: {_latency(net).total_ms:.3f} ms predicted"
    return text


def _cmd_cost(args: argparse.Namespace) -> int:
    from ..report import render

    out = _stdout()  # fail before the work
    depth = 1 if args.blocks else args.depth

    def report(file: str) -> str:
        net = _compile(args, file)
        _constraint_warnings(net, file)
        if args.deploy:
            net = net.deploy()
        latency = _latency(net)
        # colour is decided for the stream the table goes to (plain text when piped)
        return render(net, args.format, depth=depth, color=args.color, stream=out, latency=latency)

    code, parts = _each_file(args, report)
    save_measured(args)
    if len(_files(args)) == 1:
        _print(parts[0][1])
    elif parts:
        _print(_several(parts, args.format))
    return code


def _latency(net: Network) -> Any:
    """The per-layer prediction of --latency's table (None without one); a configuration it
    lacks is a usage error that names it."""
    from ...passes.latency import LatencyError

    try:
        return net.latency()
    except LatencyError as err:
        raise _Usage(str(err)) from None


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

        from ..report import csv_text

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


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) or float(value).is_integer() else f"{value:.6g}"
