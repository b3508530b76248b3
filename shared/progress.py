"""Progress of a long run over events (a replay), through rich: a progress bar on a terminal; elsewhere (a log
file, CI, a pipe) a plain line now and then and one at the end, never a carriage return that garbles logs."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn


def line(read: int, total: int, rate: float) -> str:
    """One plain progress line: share done, events read, rate, time left."""
    eta = (total - read) / rate if rate and total else 0
    pct = f"{100 * read / total:5.1f}%" if total else "  ?  "
    return f"{pct} {read:>10,} events  {rate:>9,.0f} events/s  ETA {eta:6.1f} s"


class EventProgress:
    """`with EventProgress("replay sessions") as progress: ... progress.update(read, total, rate)`."""

    def __init__(
        self,
        description: str,
        console: Console | None = None,
        *,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description = description
        self.console = console if console is not None else Console(stderr=True)
        self.every = every
        self.clock = clock
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._last: tuple[int, int, float] | None = None
        self._printed: float | None = None
        self._shown: tuple[int, int, float] | None = None

    def __enter__(self) -> EventProgress:
        if self.console.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.completed:>10,.0f} events  {task.fields[rate]:>9,.0f} events/s"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=None, rate=0.0)
        return self

    def update(self, read: int, total: int, rate: float) -> None:
        self._last = (read, total, rate)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=read, total=total or None, rate=rate)
            return
        now = self.clock()
        if self._printed is None or now - self._printed >= self.every:
            self._print(*self._last)
            self._printed = now

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._last is not None and self._last != self._shown:
            self._print(*self._last)  # where it ended

    def _print(self, read: int, total: int, rate: float) -> None:
        self.console.print(
            f"{self.description}: {line(read, total, rate)}", markup=False, highlight=False, soft_wrap=True
        )
        self._shown = (read, total, rate)
