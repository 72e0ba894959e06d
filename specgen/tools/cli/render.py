"""`specgen graph` and `specgen fmt`: a spec drawn as a block diagram, and rewritten in the
canonical layout."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK, _compile, _complain, _print, _stdout, _Usage
from .status import _Activity


def _cmd_graph(args: argparse.Namespace) -> int:
    from .. import graph
    from ..output import OutputError, plan_output

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
    from ..fmt import fmt_command

    if args.files.count("-") > 1:
        raise _Usage("`-` (standard input) can be given once")
    return fmt_command(args.files, args.check, args.diff, sys.stdin, sys.stdout, sys.stderr)
