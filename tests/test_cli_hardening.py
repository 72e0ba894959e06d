"""The command line under hostile conditions: odd `-o` paths, a closed or broken stdout, Ctrl-C
while starting, bad --tolerance.  Device nodes are made inside tmp_path, never under /dev."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import HEADER, ROOT, CliResult

Cli = Callable[..., CliResult]

SPEC = HEADER + "    conv 3x3 out=16 bn relu\n    conv 1x1 out=8\n"


@pytest.fixture
def spec(tmp_path: Path) -> str:
    path = tmp_path / "net.conv"
    path.write_text(SPEC)
    return str(path)


@pytest.fixture
def code(cli: Cli, spec: str) -> str:
    """What `build --target torch` prints for `spec`: what -o must write."""
    r = cli("build", spec, "--target", "torch")
    assert r.code == 0, r.err
    return r.out


def build_to(cli: Cli, spec: str, out: str | Path) -> CliResult:
    return cli("build", spec, "--target", "torch", "-o", str(out))


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".specgen-*.tmp"))


def assert_refused(r: CliResult, *phrases: str) -> None:
    """Exit 2, one line on stderr that says why, nothing on stdout."""
    assert r.code == 2, r.err
    assert r.out == ""
    assert r.err.startswith("specgen: error: ") and r.err.count("\n") == 1, r.err
    assert "Traceback" not in r.err
    for phrase in phrases:
        assert phrase in r.err


def env() -> dict[str, str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = str(ROOT) + os.pathsep + environ.get("PYTHONPATH", "")
    environ.pop("SPECGEN_DEBUG", None)
    return environ


def specgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "specgen", *args]


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    if "stdout" not in kwargs and "stderr" not in kwargs:
        kwargs["capture_output"] = True
    # a child inherits an ignored SIGINT (a test run started in the background by a
    # non-interactive shell): give it the default disposition, as a terminal would
    kwargs.setdefault("preexec_fn", _default_sigint)
    return subprocess.run(argv, cwd=ROOT, env=env(), text=True, timeout=60, **kwargs)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def mknod(path: Path, major: int, minor: int) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")


# ---- -o: what may be written ---------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_new_file_gets_0666_less_umask(cli, spec, code, tmp_path, umask):
    out = tmp_path / "new.py"
    old = os.umask(umask)
    try:
        r = build_to(cli, spec, out)
    finally:
        os.umask(old)
    assert (r.code, r.out, r.err) == (0, "", "")
    assert out.read_text() == code
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_existing_file_keeps_its_mode(cli, spec, code, tmp_path, mode):
    out = tmp_path / "old.py"
    out.write_text("old\n")
    out.chmod(mode)
    old = os.umask(0o077)  # the umask must not matter for an existing file
    try:
        r = build_to(cli, spec, out)
    finally:
        os.umask(old)
    assert r.code == 0, r.err
    assert out.read_text() == code
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert leftovers(tmp_path) == []


def test_symlink_to_a_file_is_written_through(cli, spec, code, tmp_path):
    target = tmp_path / "real.py"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    r = build_to(cli, spec, link)
    assert r.code == 0, r.err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == code
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_dangling_symlink_creates_its_target(cli, spec, code, tmp_path):
    link = tmp_path / "link.py"
    link.symlink_to("made.py")  # relative, as ln -s writes it
    r = build_to(cli, spec, link)
    assert r.code == 0, r.err
    assert link.is_symlink() and os.readlink(link) == "made.py"
    assert (tmp_path / "made.py").read_text() == code
    assert leftovers(tmp_path) == []


def test_dangling_symlink_into_a_missing_folder_is_refused(cli, spec, tmp_path):
    link = tmp_path / "link.py"
    link.symlink_to(tmp_path / "nowhere" / "made.py")
    assert_refused(build_to(cli, spec, link), str(link), "folder does not exist")
    assert not (tmp_path / "nowhere").exists()
    assert link.is_symlink()


@pytest.mark.parametrize("through_link", [False, True])
def test_a_fifo_is_written_to_like_a_shell_redirection(spec, code, tmp_path, through_link):
    """In a subprocess (the timeout catches a hang): a FIFO, or a symlink to one, gets the
    code through its reader, as `> fifo` would; it is never renamed over or unlinked."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    path = fifo
    if through_link:
        path = tmp_path / "link.py"
        path.symlink_to(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened first: nothing blocks
    try:
        r = run(specgen("build", spec, "--target", "torch", "-o", str(path)))
        chunks = []
        while chunk := os.read(reader, 1 << 16):  # the code fits in the pipe's buffer
            chunks.append(chunk)
    finally:
        os.close(reader)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert b"".join(chunks).decode() == code
    assert stat.S_ISFIFO(fifo.stat().st_mode) and (not through_link or path.is_symlink())
    assert leftovers(tmp_path) == []


def test_character_device_is_refused(cli, spec, tmp_path):
    zero = tmp_path / "zero"
    mknod(zero, 1, 5)  # what /dev/zero is: a device that is not the null device
    assert_refused(build_to(cli, spec, zero), str(zero), "a character device")
    st = zero.stat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 5)
    assert leftovers(tmp_path) == []


def test_a_null_device_is_written_to_not_replaced(cli, spec, tmp_path):
    null = tmp_path / "null"
    mknod(null, 1, 3)  # what /dev/null is: `-o /dev/null` checks that the spec builds
    r = build_to(cli, spec, null)
    assert r.code == 0 and r.err == "" and r.out == ""
    st = null.stat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert leftovers(tmp_path) == []


def test_directory_is_refused(cli, spec, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    assert_refused(build_to(cli, spec, folder), str(folder), "is a directory")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_trailing_slash_is_refused(cli, spec, tmp_path):
    out = tmp_path / "out.py"
    out.write_text("old\n")
    assert_refused(build_to(cli, spec, f"{out}/"), f"{out}/")
    assert_refused(build_to(cli, spec, f"{tmp_path}/new/"), f"{tmp_path}/new/")
    assert out.read_text() == "old\n" and not (tmp_path / "new").exists()


def test_empty_path_is_refused_not_stdout(cli, spec):
    assert_refused(build_to(cli, spec, ""), "empty")


def test_missing_folder_is_refused_naming_the_path(cli, spec, tmp_path):
    out = tmp_path / "missing" / "out.py"
    assert_refused(build_to(cli, spec, out), f"{out}: no such folder: {out.parent}")
    assert not out.parent.exists()


def test_file_as_folder_is_refused(cli, spec, tmp_path):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "out.py"
    assert_refused(build_to(cli, spec, out), str(out), "not a folder")


def test_unwritable_file_is_refused(cli, spec, tmp_path, monkeypatch):
    """`>` fails on a file the user may not write; renaming over it must not succeed instead
    (faked: as root every file is writable)."""
    out = tmp_path / "ro.py"
    out.write_text("old\n")
    monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: False)
    assert_refused(build_to(cli, spec, out), str(out), "permission denied")
    assert out.read_text() == "old\n"


def test_bad_output_fails_before_compiling(cli, tmp_path):
    """A wrong -o is reported even when the spec is wrong too: it is checked first."""
    bad = tmp_path / "bad.conv"
    bad.write_text(HEADER + "    shuffle group=5\n")
    assert_refused(build_to(cli, str(bad), tmp_path / "missing" / "x.py"), "no such folder")


@pytest.mark.parametrize(
    "failure, code",
    [(OSError(errno.ENOSPC, "No space left on device"), 2), (KeyboardInterrupt, 130)],
)
def test_failed_write_leaves_old_file_and_no_temp(cli, spec, tmp_path, monkeypatch, failure, code):
    out = tmp_path / "out.py"
    out.write_text("old\n")

    def fail(fd: int) -> None:
        raise failure

    monkeypatch.setattr(os, "fsync", fail)
    r = build_to(cli, spec, out)
    assert r.code == code
    assert "Traceback" not in r.err
    if code == 2:
        assert r.err == f"specgen: error: cannot write {out}: No space left on device\n"
    assert out.read_text() == "old\n"
    assert leftovers(tmp_path) == []


# ---- standard output -----------------------------------------------------------------------------


def closed_stdout(*args: str) -> subprocess.CompletedProcess[str]:
    """Run specgen with file descriptor 1 closed, as `specgen ... >&-` does."""
    return run(["sh", "-c", 'exec "$@" >&-', "sh", *specgen(*args)])


@pytest.mark.parametrize("command", [["build", "--target", "torch"], ["cost"]])
def test_closed_stdout_is_a_usage_error(spec, command):
    r = closed_stdout(command[0], spec, *command[1:])
    assert r.returncode == 2
    assert r.stderr == "specgen: error: standard output is closed\n"


def test_closed_stdout_is_fine_with_o_and_for_check(spec, code, tmp_path):
    out = tmp_path / "out.py"
    r = closed_stdout("build", spec, "--target", "torch", "-o", str(out))
    assert (r.returncode, r.stderr) == (0, "")
    assert out.read_text() == code
    r = closed_stdout("check", spec)
    assert (r.returncode, r.stderr) == (0, "")


@pytest.mark.parametrize("command", [["build", "--target", "torch"], ["cost"]])
def test_broken_pipe_exits_quietly(spec, command):
    """The reader is gone before specgen writes (`| head -1` after its line)."""
    read, write = os.pipe()
    os.close(read)
    try:
        r = run(specgen(command[0], spec, *command[1:]), stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert r.returncode == 141
    assert r.stderr == ""


def test_full_disk_on_stdout_is_reported(spec, tmp_path):
    full = tmp_path / "full"
    mknod(full, 1, 7)  # what /dev/full is: every write fails with ENOSPC
    try:
        sink = os.open(full, os.O_WRONLY)
    except OSError:
        pytest.skip("device nodes cannot be opened here (nodev)")
    try:
        r = run(specgen("cost", spec), stdout=sink, stderr=subprocess.PIPE)
    finally:
        os.close(sink)
    assert r.returncode == 2
    assert r.stderr == "specgen: error: cannot write to standard output: No space left on device\n"


# ---- Ctrl-C while starting ------------------------------------------------------------------------

# Runs `python -m specgen ARGS` (through runpy) with an import hook that, when the module named
# by argv[1] is first looked for, writes a byte to fd argv[2] (if not -1) and, if argv[3] is
# "kill", sends SIGINT to itself at that exact point.
HOOKED = """
import os, runpy, signal, sys
name, fd, action = sys.argv[1], [int(sys.argv[2])], sys.argv[3]
del sys.argv[1:4]
class Hook:
    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname == name:
            if fd[0] >= 0:
                os.write(fd[0], b"!")
                os.close(fd.pop())
                fd.append(-1)
            if action == "kill":
                os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Hook)
sys.argv[0] = "specgen"
runpy.run_module("specgen", run_name="__main__", alter_sys=True)
"""


def hooked(name: str, fd: int, action: str, *args: str) -> list[str]:
    return [sys.executable, "-c", HOOKED, name, str(fd), action, *args]


# argparse and specgen.errors: while specgen.tools.cli is imported (its SIGINT handler); the rest:
# inside main (KeyboardInterrupt), from the parser's emitters to the compiler.
@pytest.mark.parametrize(
    "module", ["argparse", "specgen.errors", "jinja2", "black", "lark", "specgen.tools.output"]
)
def test_ctrl_c_while_importing_exits_130(spec, module):
    r = run(hooked(module, -1, "kill", "build", spec, "--target", "torch"))
    assert (r.returncode, r.stderr, r.stdout) == (130, "", "")


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.05])
def test_ctrl_c_at_any_moment_of_start_up_prints_no_traceback(spec, delay):
    """SIGINT at a moment chosen by the clock, once specgen's code has started (before that it
    is Python's own start-up).  The build takes longer than the delays, but the process may
    also finish first (exit 0); a death by SIGINT (CPython's own way out when the signal comes
    while it shuts down) reads as 130 in a shell too."""
    read, write = os.pipe()
    with os.fdopen(read, "rb", buffering=0) as ready:
        try:
            proc = subprocess.Popen(
                hooked("argparse", write, "none", "build", spec, "--target", "torch"),
                cwd=ROOT,
                env=env(),
                pass_fds=(write,),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        finally:
            os.close(write)
        assert (
            ready.read(1) == b"!"
        )  # specgen.tools.cli is running: its SIGINT handler is installed
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130, -signal.SIGINT), err
    assert err == ""  # above all no Traceback


def test_importing_the_cli_is_cheap_and_leaves_sigint_alone():
    probe = (
        "import signal, sys, specgen.tools.cli; "
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler; "
        "print(sorted(m for m in ('lark', 'jinja2', 'black', 'torch', 'specgen.compiler')"
        " if m in sys.modules))"
    )
    r = run([sys.executable, "-c", probe])
    assert (r.returncode, r.stdout, r.stderr) == (0, "[]\n", "")


# ---- verify --tolerance --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "NaN", "-1", "-0.5", "inf", "-inf", "1e400", "abc"])
def test_bad_tolerance_is_refused(cli, spec, value):
    r = cli("verify", spec, f"--tolerance={value}")  # `--tolerance -inf` reads as an option
    assert r.code == 2
    assert "Traceback" not in r.err
    assert "argument --tolerance: expects a" in r.err and f"`{value}`" in r.err


@pytest.mark.parametrize("value", ["-1", str(2**64), "1.5"])
def test_bad_seed_is_refused(cli, spec, value):
    r = cli("verify", spec, f"--seed={value}")
    assert r.code == 2
    assert "argument --seed: expects a whole number" in r.err


# ---- large models: a warning before anything is allocated, a refusal beyond memory --------

BIG = "network big\ninput 8x8x8\nlayers:\n    conv 3x3 out=1048576 bias=false\n    conv 1x1 out=1024\n"


@pytest.mark.parametrize("command", [["check"], ["cost"], ["build", "--target", "torch"]])
def test_large_model_warns_on_stderr(cli, tmp_path, command):
    path = tmp_path / "big.conv"
    path.write_text(BIG)
    out = tmp_path / "big.py"
    extra = ["-o", str(out)] if command[0] == "build" else []
    result = cli(command[0], str(path), *command[1:], *extra)
    assert result.code == 0, result.err
    assert "specgen: warning: big has 1,149,240,320 parameters: 4.3 GiB of fp32 weights" in (
        result.err
    )


def test_small_model_does_not_warn(cli, tmp_path):
    path = tmp_path / "small.conv"
    path.write_text(HEADER + "    conv 3x3 out=16\n")
    result = cli("check", str(path))
    assert result.code == 0 and result.err == ""


def test_verify_refuses_a_model_beyond_available_memory(cli, tmp_path, monkeypatch):
    import specgen.compiler

    monkeypatch.setattr(specgen.compiler, "available_memory", lambda: 1 << 20)
    path = tmp_path / "big.conv"
    path.write_text(BIG)
    result = cli("verify", str(path))
    assert result.code == 2
    assert "error: big needs 4.3 GiB for its weights" in result.err
    assert "Traceback" not in result.err
