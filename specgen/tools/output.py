"""Writing generated code to a file the user named (`specgen build -o PATH`).

The write is atomic (a temporary file in the same folder, then `os.replace`), so a reader never
sees half a file and a failure leaves the old file as it was.  Because `os.replace` swaps the
directory entry, the path must be checked first: renaming over a FIFO, a device node or a
socket would destroy it (as root, `-o /dev/null` used to replace the system's /dev/null).

The rules:

- PATH must be a regular file or a new name in an existing folder, or one of the few things
  that are written *to* rather than replaced, as a shell's `>` would: a FIFO, the null
  device (`/dev/null`) and this process's own standard output or error (`/dev/stdout`,
  `/dev/fd/2`, the terminal they are); those are opened and written directly, never renamed
  over (a FIFO that no process reads is refused, where `>` would wait for ever).  Anything else (an empty name, a folder or a name ending in `/`, any other character
  device, a block device, a socket, an existing file the user may not write) is refused
  before anything is created.
- A symlink is written *through*: the link is resolved (`os.path.realpath`) and the same rules
  apply to its target, which is replaced; the link itself stays a link.  A dangling link
  creates its target when the target's folder exists and is refused otherwise.
- An existing file keeps its permission bits (and, where allowed, its owner and group); a new
  file is created by the kernel with 0o666 & ~umask (and the folder's default ACL, if any),
  exactly as a shell redirection would, so the process-wide umask is never read or changed.
- The temporary file `.specgen-XXXXXXXXXXXXXXXX.tmp` is removed on every failure,
  KeyboardInterrupt included.

The checks and the rename are not one atomic step: someone who can write the folder can still
swap the path in between, as with any tool that writes by rename.  A hard-linked file gets a
new inode; its other names keep the old content.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass

TEMP_PREFIX, TEMP_SUFFIX = ".specgen-", ".tmp"

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class OutputError(Exception):
    """The output path cannot be written; the message names the path the user gave."""


@dataclass(frozen=True)
class Plan:
    """Where `write_output` writes: the resolved target and what to keep of an existing file."""

    target: str  # symlinks resolved
    mode: int | None  # the existing file's permission bits; None for a new file
    uid: int | None = None
    gid: int | None = None
    direct: bool = False  # a FIFO, /dev/null, our stdout or stderr: written to, not replaced


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _written_to(st: os.stat_result) -> bool:
    """Whether `st` is something a write goes *to* (see the module docstring): a FIFO, the
    null device, or the file behind our own standard output or error, whatever it is."""
    if stat.S_ISFIFO(st.st_mode):
        return True
    if stat.S_ISCHR(st.st_mode):
        with contextlib.suppress(OSError):
            null = os.stat(os.devnull)
            if stat.S_ISCHR(null.st_mode) and st.st_rdev == null.st_rdev:
                return True
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            if not stat.S_ISREG(st.st_mode) and os.path.samestat(st, os.fstat(fd)):
                return True
    return False


def plan_output(path: str) -> Plan:
    """Check that `path` may be written (see the module docstring); raise OutputError if not.

    Called before the (slow) compilation so that a bad -o fails fast, and again by
    `write_output` right before writing.
    """
    if not path:
        raise OutputError("the output file name is empty")
    if path.endswith(os.sep):  # realpath would drop the slash and write `dir/` as a file
        raise OutputError(f"{path}: names a folder, not a file")
    with contextlib.suppress(OSError, ValueError):
        # followed as open() would (the /proc/self/fd links of /dev/stdout included, which
        # realpath cannot resolve to a name when they point at a pipe)
        st = os.stat(path)
        if _written_to(st):
            if not os.access(path, os.W_OK):
                raise OutputError(f"cannot write {path}: permission denied")
            return Plan(path, None, direct=True)
    link = os.path.islink(path)
    target = os.path.realpath(path)
    shown = f"{path} (a symlink to {target})" if link else path
    try:
        st = os.stat(target)
    except FileNotFoundError:
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            if link:
                raise OutputError(f"{shown}: the target's folder does not exist") from None
            given = os.path.dirname(path) or "."
            raise OutputError(f"{path}: no such folder: {given}") from None
        return Plan(target, None)
    except NotADirectoryError:
        given = os.path.dirname(path) or "."
        raise OutputError(f"{path}: not a folder: {given}") from None
    except OSError as err:
        raise OutputError(f"cannot write {shown}: {err.strerror or err}") from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{shown}: is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{shown}: not a regular file ({_kind(st.st_mode)})")
    if not os.access(target, os.W_OK):  # `>` would fail too; the rename alone would not
        raise OutputError(f"cannot write {shown}: permission denied")
    return Plan(target, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


def write_output(path: str, text: str | bytes) -> None:
    """Write `text` (UTF-8; bytes as they are) to `path` atomically under the rules of the
    module docstring."""
    plan = plan_output(path)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    if plan.direct:
        _write_to(path, plan.target, data)
        return
    folder = os.path.dirname(plan.target)
    # O_EXCL never follows a planted symlink; a new file gets 0o666 less the umask from the
    # kernel, an existing one's copy stays private until its own mode is set below.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    mode = 0o666 if plan.mode is None else 0o600
    tmp = None
    try:
        for _ in range(100):
            # The name is known before the file exists, so Ctrl-C at any point can clean up.
            tmp = os.path.join(folder, f"{TEMP_PREFIX}{os.urandom(8).hex()}{TEMP_SUFFIX}")
            try:
                fd = os.open(tmp, flags, mode)
                break
            except FileExistsError:
                tmp = None
        else:
            raise FileExistsError(errno.EEXIST, "no free temporary file name", folder)
        try:
            if plan.mode is not None:
                _keep_owner(fd, plan)
                os.fchmod(fd, plan.mode)  # after fchown, which may clear set-id bits
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, plan.target)
        tmp = None
    except BaseException as err:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
        raise


def _write_to(path: str, target: str, data: bytes) -> None:
    """Write `data` into a FIFO or device as `>` would, never created, truncated or renamed
    over.  A FIFO with no reader is refused instead of waiting for one for ever (a shell's `>`
    would hang): it is opened non-blocking, then written in blocking mode."""
    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        try:
            fd = os.open(target, flags | os.O_NONBLOCK)
        except OSError as err:
            if err.errno == errno.ENXIO:  # a FIFO nobody has open for reading
                raise OutputError(f"cannot write {path}: no process is reading it") from None
            raise
        os.set_blocking(fd, True)
        try:
            if not _written_to(os.fstat(fd)):  # swapped since it was checked
                raise OutputError(f"{path}: not a regular file ({_kind(os.fstat(fd).st_mode)})")
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except BrokenPipeError:
        raise  # the reader went away: the CLI's quiet exit 141
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


def _keep_owner(fd: int, plan: Plan) -> None:
    """Give the new file the old one's owner and group where allowed (root, or own group)."""
    st = os.fstat(fd)
    if plan.uid is None or plan.gid is None or (plan.uid, plan.gid) == (st.st_uid, st.st_gid):
        return
    # Not allowed (another group, not root): the file is the writer's, as any new file is.
    with contextlib.suppress(OSError):
        os.fchown(fd, plan.uid if os.geteuid() == 0 else -1, plan.gid)
