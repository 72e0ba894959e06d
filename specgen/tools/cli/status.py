"""What a terminal's stderr shows while a command works: a delayed activity line
(`_Activity`), a spinner from the first moment (`_Status`) and the search's progress bar
(`_Progress`); nothing of it when stderr is piped.  rich is imported only when drawn."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from ...errors import printable
from .common import _complain_raw


class _Activity:
    """`specgen: what... 3 s` on a terminal's stderr while a step that may take a few seconds
    runs (it appears only after 2 s, and is erased at the end); nothing when piped."""

    DELAY, PERIOD = 2.0, 0.5

    def __init__(self, what: str):
        self.what = what
        self.thread: Any = None
        try:
            self.active = sys.stderr is not None and sys.stderr.isatty()
        except (AttributeError, ValueError, OSError):
            self.active = False

    def __enter__(self) -> _Activity:
        if self.active:
            import threading
            import time

            self.stop = threading.Event()
            self.start = time.monotonic()
            self.shown = False
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self

    def _run(self) -> None:
        import time

        if self.stop.wait(self.DELAY):
            return
        while not self.stop.is_set():
            self.shown = True
            seconds = time.monotonic() - self.start
            _complain_raw(f"\r\x1b[2Kspecgen: {self.what}... {seconds:.0f} s")
            self.stop.wait(self.PERIOD)

    def __exit__(self, *exc: object) -> None:
        if self.thread is not None:
            self.stop.set()
            self.thread.join()
            if self.shown:
                _complain_raw("\r\x1b[2K")


class _Status:
    """A spinner and `specgen: what... 3 s` on a terminal's stderr from the first moment
    (drawn by rich, erased at the end); nothing when stderr is not a terminal.  It writes to
    its own copy of file descriptor 2, so it stays visible while `_quiet_fd2` silences the
    frameworks' C++ start-up lines, and it redirects nothing."""

    def __init__(self, what: str):
        self.what = what
        self.live: Any = None
        self.stream: Any = None
        self.start = 0.0

    def _text(self) -> str:
        import time

        return f"specgen: {printable(self.what)}... {time.monotonic() - self.start:.0f} s"

    def __enter__(self) -> _Status:
        import time

        self.start = time.monotonic()
        try:
            if sys.stderr is None or not sys.stderr.isatty():
                return self
            self.stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", errors="replace")
        except (AttributeError, ValueError, OSError):
            return self
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        self.spinner = Spinner("dots", text=self._text())
        console = Console(file=self.stream, highlight=False, markup=False, emoji=False)
        self.live = Live(
            self,
            console=console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
            refresh_per_second=8,
        )
        self.live.start(refresh=True)  # drawn now, not at the first tick
        return self

    def __rich__(self) -> Any:
        """What the live display draws at each refresh: the spinner with the seconds."""
        self.spinner.update(text=self._text())
        return self.spinner

    def update(self, what: str) -> None:
        self.what = what
        if self.live is not None:
            self.live.refresh()

    def __exit__(self, *exc: object) -> None:
        try:
            if self.live is not None:
                self.live.stop()
        finally:
            if self.stream is not None:
                with contextlib.suppress(OSError):
                    self.stream.close()


def _rich_bar(text: str) -> Any:
    """rich's progress bar on stderr: bar, done/total, `text` (a format of the task's
    fields), elapsed and remaining time."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(text),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
    )


class _Progress:
    """rich's progress bar on a terminal's stderr (the caller makes none for a pipe)."""

    def __init__(self, total: int):
        self.feasible = 0
        self.bar = _rich_bar("candidates, {task.fields[feasible]} feasible")
        self.task = self.bar.add_task("search", total=max(total, 1), feasible=0)
        self.bar.start()

    def __call__(self, n: int, candidate: Any) -> None:
        self.feasible += candidate.feasible
        self.bar.update(self.task, completed=n, feasible=self.feasible)

    def done(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # a terminal gone meanwhile
            self.bar.stop()
