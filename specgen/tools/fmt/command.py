"""`specgen fmt FILE... [--check] [--diff]`: files read the way specs are, formatted,
compared, and rewritten atomically."""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ... import limits
from ...errors import Diagnostic, Source, SpecError, printable
from ...language import parse as _parse
from .statements import format_source


def _label(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _file_error(path: str, message: str) -> SpecError:
    return SpecError([Diagnostic(message, code="file")], Source("", path))


def _read(path: str) -> tuple[str, str]:
    """A file's text as it is (to compare with) and as the compiler reads it (to format):
    read the way specs are, with the same messages; only regular files are read (a FIFO
    would block)."""
    from ...language.source import read_source

    try:
        st = os.stat(path)
    except OSError:
        st = None  # read_source says what is wrong
    if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        raise _file_error(path, "not a regular file")
    try:
        with open(path, "rb") as file:
            data = file.read(limits.MAX_SOURCE_BYTES + 1)
    except (OSError, ValueError):
        read_source(Path(path), path)  # raises the compiler's message for this path
        raise
    text = read_source(data, path).text  # refuses what the compiler refuses
    return data.decode("utf-8"), text


def _diff(label: str, old: str, new: str) -> Iterator[str]:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        label,
        label,
        "(original)",
        "(formatted)",
    )
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _write(path: str, text: str) -> None:
    """Replace a file atomically, keeping its permission bits; never through a symlink or
    over anything but a regular file."""
    from ..output import OutputError, write_output

    try:
        st = os.lstat(path)
    except OSError as err:
        raise _file_error(path, f"cannot write: {err.strerror or err}") from None
    if stat.S_ISLNK(st.st_mode):
        raise _file_error(path, "is a symlink: fmt rewrites only regular files")
    if not stat.S_ISREG(st.st_mode):
        raise _file_error(path, "not a regular file")
    try:
        write_output(path, text)
    except OutputError as err:
        raise _file_error(path, str(err)) from None


def fmt_command(
    paths: list[str],
    check: bool,
    diff: bool,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """`specgen fmt FILE... [--check] [--diff]`: format files in place (`-`: standard input to
    standard output).  `--check` writes nothing and lists the files that would change;
    `--diff` prints what would change.  Returns 2 if a file could not be read, parsed or
    written, else 1 if `--check` found a file to change, else 0."""
    errors = changed = 0
    for path in paths:
        label = _label(path)
        try:
            if path == "-":
                raw = stdin.read()
                original = _parse.normalize(raw)
            else:
                raw, original = _read(path)
            formatted = format_source(original, label)
            if formatted != raw:
                changed += 1
                if diff:
                    stdout.writelines(_diff(label, raw, formatted))
                if check:
                    print(f"would reformat {printable(label)}", file=stderr)
            if path == "-" and not check and not diff:
                stdout.write(formatted)
            elif formatted != raw and not check and not diff:
                _write(path, formatted)
                print(f"reformatted {printable(label)}", file=stderr)
        except SpecError as err:
            errors += 1
            print(err.render(), file=stderr)
    if errors:
        return 2
    return 1 if check and changed else 0
