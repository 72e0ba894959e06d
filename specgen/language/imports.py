"""`import "blocks.conv"`: the files of blocks a spec shares with others.

An import names a `.conv` file relative to the importing file (a spec given as text imports
relative to the current folder).  Each file is read once per compile, with the same bounded
read as a spec, and loaded depth-first, each once (a file is known by its device and inode,
so a hard link or symbolic link to a loaded file is that file); a cycle is refused at the
import that closes it.  The files imported by one spec hold at most MAX_IMPORTED_CHARS
characters in all, so that parsing them stays within seconds however many there are.  The
imported blocks are added before the spec's own, so a name defined twice is reported where it
is defined the second time, in whichever file that is.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from .. import limits
from ..errors import IMPORTED, Diagnostic, Source, Span, SpecError
from . import syntax as S

# IMPORTED (the imported texts kept to show diagnostics in them) is bounded too: it keeps the
# most recently read files, at least the last compiles' (MAX_IMPORTED_CHARS each), so that a
# long-running process reading many files does not keep them all
_KEEP_CHARS = 8 * limits.MAX_IMPORTED_CHARS
_KEEP_FILES = 4 * limits.MAX_IMPORTS
_kept = [0]  # characters in IMPORTED


_LOCK = threading.Lock()


def _remember(source: Source) -> None:
    with _LOCK:
        old = IMPORTED.pop(source.filename, None)  # and put back last: the most recent
        _kept[0] += len(source.text) - (len(old.text) if old is not None else 0)
        IMPORTED[source.filename] = source
        while _kept[0] > _KEEP_CHARS or len(IMPORTED) > _KEEP_FILES:
            _kept[0] -= len(IMPORTED.pop(next(iter(IMPORTED))).text)


def base_folder(filename: str) -> str:
    """Where the imports of a spec reported as `filename` are looked up."""
    if filename.startswith("<"):
        return os.getcwd()
    return os.path.dirname(os.path.abspath(filename))


def load_imports(program: S.Program, filename: str, source: Source) -> tuple[tuple[str, str], ...]:
    """(path, text) of every file `program` imports, directly or not, in load order."""
    from .parse import parse_library
    from .source import read_source

    # a file by its identity, (device, inode), or its path where it cannot be stat'ed
    loaded: dict[object, tuple[str, str]] = {}  # identity -> (path, text)
    active: list[tuple[object, str]] = []  # files being loaded, outermost first (for cycles)
    total = 0  # characters read

    def fail(message: str, span: Span, hint: str | None = None, code="import") -> SpecError:
        return SpecError([Diagnostic(message, span, hint, code=code)], source)

    def visit(imports: tuple[S.Import, ...], folder: str) -> None:
        nonlocal total
        for imp in imports:
            if not imp.path.endswith(".conv"):
                raise fail(
                    f"`import` names a .conv file, not `{imp.path}`", imp.span,
                    'for example `import "blocks.conv"`',
                )  # fmt: skip
            path = os.path.realpath(os.path.join(folder, imp.path))
            try:
                info: os.stat_result | None = os.stat(path)
            except (OSError, ValueError):
                info = None  # read_source says why
            # (some file systems give no inode numbers: 0 for every file)
            ident = (info.st_dev, info.st_ino) if info is not None and info.st_ino else path
            opened = [i for i, _ in active]
            if ident in opened:
                chain = [p for _, p in active[opened.index(ident) :]] + [path]
                names = [os.path.basename(p) for p in chain]
                raise fail(f"import cycle: {' → '.join(names)}", imp.span)
            if ident in loaded:
                continue
            if len(loaded) + len(active) >= limits.MAX_IMPORTS:
                message = f"more than {limits.MAX_IMPORTS} files imported"
                raise fail(message, imp.span, code="limit")
            if info is not None and not stat.S_ISREG(info.st_mode):
                # a FIFO or device would block or stream: only regular files are imported
                raise fail(f"cannot import `{imp.path}`: not a regular file", imp.span, path)
            try:
                text = read_source(Path(path), path).text  # a path, whatever it holds
            except SpecError as err:
                message = err.diagnostics[0].message
                raise fail(f"cannot import `{imp.path}`: {message}", imp.span, path) from None
            total += len(text)
            if total > limits.MAX_IMPORTED_CHARS:
                raise fail(
                    f"the imported files hold more than {limits.MAX_IMPORTED_CHARS} "
                    "characters in all",
                    imp.span,
                    f"`{imp.path}` brings them to {total}; the limit keeps parsing them "
                    "within seconds",
                    code="limit",
                )
            _remember(Source(text, path))
            active.append((ident, path))
            library = parse_library(text, path)
            visit(library.imports, os.path.dirname(path))
            active.pop()
            loaded[ident] = (path, text)

    visit(program.imports, base_folder(filename))
    return tuple(loaded.values())
