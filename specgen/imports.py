"""`import "blocks.conv"`: the files of blocks a spec shares with others.

An import names a `.conv` file relative to the importing file (a spec given as text imports
relative to the current folder).  Each file is read once per compile, with the same bounded
read as a spec, and loaded depth-first, each once; a cycle is refused at the import that
closes it.  The imported blocks are added before the spec's own, so a name defined twice is
reported where it is defined the second time, in whichever file that is.
"""

from __future__ import annotations

import os

from . import limits
from . import syntax as S
from .errors import IMPORTED, Diagnostic, Source, Span, SpecError


def base_folder(filename: str) -> str:
    """Where the imports of a spec reported as `filename` are looked up."""
    if filename.startswith("<"):
        return os.getcwd()
    return os.path.dirname(os.path.abspath(filename))


def load_imports(program: S.Program, filename: str, source: Source) -> tuple[tuple[str, str], ...]:
    """(path, text) of every file `program` imports, directly or not, in load order."""
    from .compiler import read_source
    from .parse import parse_library

    loaded: dict[str, str] = {}
    active: list[str] = []  # the files being loaded, outermost first (to report cycles)

    def fail(message: str, span: Span, hint: str | None = None) -> SpecError:
        return SpecError([Diagnostic(message, span, hint, code="import")], source)

    def visit(imports: tuple[S.Import, ...], folder: str) -> None:
        for imp in imports:
            if not imp.path.endswith(".conv"):
                raise fail(
                    f"`import` names a .conv file, not `{imp.path}`", imp.span,
                    'for example `import "blocks.conv"`',
                )  # fmt: skip
            path = os.path.realpath(os.path.join(folder, imp.path))
            if path in active:
                names = [os.path.basename(p) for p in active[active.index(path) :] + [path]]
                raise fail(f"import cycle: {' → '.join(names)}", imp.span)
            if path in loaded:
                continue
            if len(loaded) + len(active) >= limits.MAX_IMPORTS:
                raise fail(f"more than {limits.MAX_IMPORTS} files imported", imp.span)
            if os.path.exists(path) and not os.path.isfile(path):
                # a FIFO or device would block or stream: only regular files are imported
                raise fail(f"cannot import `{imp.path}`: not a regular file", imp.span, path)
            try:
                text = read_source(path).text
            except SpecError as err:
                message = err.diagnostics[0].message
                raise fail(f"cannot import `{imp.path}`: {message}", imp.span, path) from None
            IMPORTED[path] = Source(text, path)
            active.append(path)
            library = parse_library(text, path)
            visit(library.imports, os.path.dirname(path))
            active.pop()
            loaded[path] = text

    visit(program.imports, base_folder(filename))
    return tuple(loaded.items())
