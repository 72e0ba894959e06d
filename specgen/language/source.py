"""Reading a spec: a path, the text itself or its UTF-8 bytes, bounded before it is parsed.

One reader for the compiler, `import` lines, `fmt` and search, so that each refuses the same
files with the same message.
"""

from __future__ import annotations

import os

from .. import limits
from ..errors import Diagnostic, Source, SpecError
from .parse import normalize


def read_source(spec: str | bytes | os.PathLike[str], filename: str | None = None) -> Source:
    """The spec's text: `spec` is a path (a PathLike, or a str without a line break), the text
    itself (a str with at least one line break: no spec fits on one line) or its UTF-8 bytes.

    A file is read in one bounded read, so a huge file, a FIFO or /dev/zero costs at most
    `MAX_SOURCE_BYTES` before it is refused.  Raises TypeError for any other Python type.
    """
    if isinstance(spec, (bytes, bytearray, memoryview)):
        return _decode(bytes(spec[: limits.MAX_SOURCE_BYTES + 1]), filename or "<spec>")
    if isinstance(spec, str) and (not spec or "\n" in spec or "\r" in spec or "\x00" in spec):
        return Source(normalize(spec), filename or "<spec>")
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"spec must be a path, the spec's text (str) or its UTF-8 bytes, "
            f"not {type(spec).__name__}"
        )
    name = filename or os.fspath(spec)
    if not isinstance(name, str):
        raise TypeError(f"a spec's path must be text, not {type(name).__name__}")

    def fail(message: str) -> SpecError:
        return SpecError([Diagnostic(message, code="file")], Source("", name))

    try:
        with open(spec, "rb") as file:
            data = file.read(limits.MAX_SOURCE_BYTES + 1)
    except FileNotFoundError:
        raise fail("no such file") from None
    except IsADirectoryError:
        raise fail("is a directory, not a .conv file") from None
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as err:
        raise fail(f"cannot read: {err.strerror or err}") from None
    except ValueError:
        raise fail("is not a valid file name") from None
    return _decode(data, name)


def _decode(data: bytes, name: str) -> Source:
    def fail(message: str, code: str = "file") -> SpecError:
        return SpecError([Diagnostic(message, code=code)], Source("", name))

    if len(data) > limits.MAX_SOURCE_BYTES:
        raise fail(f"spec is larger than {limits.MAX_SOURCE_CHARS} characters", "limit")
    if b"\x00" in data:
        raise fail("this is a binary file, not a .conv spec")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise fail(f"not UTF-8 text (byte {err.start})") from None
    return Source(normalize(text), name)
