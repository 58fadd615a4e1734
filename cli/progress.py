"""Progress of long work on stderr: a bar redrawn in place on a terminal, a line now and then otherwise
(a log, a pipe). Nothing for work that ends at once. Inside the collector the stream is the caller's, so
the bar is drawn on the caller's terminal."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

T = TypeVar("T")

QUIET_SECONDS = 1.0  # work that ends sooner shows no progress
REDRAW_SECONDS = 0.2  # on a terminal
STEP = 0.1  # otherwise: a line at each tenth


class Progress:
    def __init__(self, stream: IO[str], total: int, label: str, unit: str = "lines") -> None:
        self.stream = stream
        self.total = max(total, 1)
        self.label = label
        self.unit = unit
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.shown = 0.0  # when the bar was last drawn
        self.next_step = STEP
        self.drawn = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.started < QUIET_SECONDS:
            return
        share = min(done / self.total, 1.0)
        if self.tty:
            if now - self.shown >= REDRAW_SECONDS:
                self.shown = now
                bar = "#" * int(share * 30)
                self._write(f"\r{self.label} [{bar:<30}] {done:,}/{self.total:,} {self.unit} {share:4.0%}")
        elif share >= self.next_step:
            self.next_step = (int(share / STEP) + 1) * STEP
            self._write(f"{self.label}: {done:,} of {self.total:,} {self.unit} ({share:.0%})\n")

    def finish(self) -> None:
        if self.tty and self.drawn:
            self._write("\n")

    def _write(self, text: str) -> None:
        self.drawn = True
        self.stream.write(text)
        self.stream.flush()

    def track(self, items: Iterable[tuple[int, T]]) -> Iterator[tuple[int, T]]:
        """Pass (line number, item) pairs through, counting the lines."""
        for line, item in items:
            self.update(line)
            yield line, item


def count_lines(path: str) -> int:
    """The lines of a file, read in large blocks (a fraction of the time the import takes)."""
    count = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")
