"""Replay progress: a bar on a terminal, plain lines without carriage returns in logs."""

from __future__ import annotations

import io

from rich.console import Console

from shared.progress import EventProgress, line


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_a_plain_line_now_and_then_and_one_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    with EventProgress("replay sessions", Console(file=out, force_terminal=False), every=5.0, clock=clock) as p:
        for read in range(0, 10_001, 1000):
            p.update(read, 10_000, 2000.0)
            clock.now += 1.0
    text = out.getvalue()
    assert "\r" not in text
    assert "\x1b" not in text  # no terminal control either
    lines = text.splitlines()
    assert lines[0] == "replay sessions:   0.0%          0 events      2,000 events/s  ETA    5.0 s"
    assert lines[-1] == "replay sessions: 100.0%     10,000 events      2,000 events/s  ETA    0.0 s"
    assert len(lines) == 3  # at 0 s, 5 s and 10 s, the end (not repeated)


def test_the_end_is_printed_when_the_last_update_came_between_lines() -> None:
    out, clock = io.StringIO(), Clock()
    with EventProgress("replay pairing", Console(file=out, force_terminal=False), clock=clock) as p:
        p.update(10, 0, 5.0)
        clock.now = 1.0
        p.update(20, 0, 5.0)
    assert out.getvalue().splitlines() == [f"replay pairing: {line(10, 0, 5.0)}", f"replay pairing: {line(20, 0, 5.0)}"]


def test_on_a_terminal_a_progress_bar() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with EventProgress("replay sessions", console) as p:
        p.update(500, 1000, 250.0)
    assert "replay sessions" in out.getvalue()
    assert "500 events" in out.getvalue()
    assert "250 events/s" in out.getvalue()


def test_the_line() -> None:
    assert line(250, 1000, 50.0) == " 25.0%        250 events         50 events/s  ETA   15.0 s"
    assert line(0, 0, 0.0) == "  ?            0 events          0 events/s  ETA    0.0 s"
