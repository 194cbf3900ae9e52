"""The progress line while a job runs and the summary when it ends."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO


def clock_text(seconds: float) -> str:
    """Seconds as h:mm:ss or m:ss."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_text(*, done: int, total: int, elapsed: float, rate: float | None) -> str:
    """``"tagged 120/200 files (60%) | 4.1 files/s | 0:19 left"``; before a rate is known, no speed."""
    share = f" ({done / total:.0%})" if total else ""
    text = f"tagged {done}/{total} files{share} | {clock_text(elapsed)}"
    if rate:
        text += f" | {rate:.1f} files/s | {clock_text((total - done) / rate)} left"
    return text


class Progress:
    """Files done, files/s and time left, on one line (a terminal) or, in a log, a line at the first
    chunk, every ``interval`` s after it and at the end.

    The speed is measured from the first finished chunk on, so that start-up does not count as work.
    """

    def __init__(
        self, total: int, *, stream: TextIO, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total, self.stream, self.interval, self.clock = total, stream, interval, clock
        self.start = clock()
        self.done = 0
        self.first: tuple[float, int] | None = None  # (time, files done) at the first chunk
        self.shown = self.start
        self.terminal = stream.isatty()

    @property
    def rate(self) -> float | None:
        if self.first is None or self.clock() <= self.first[0] or self.done <= self.first[1]:
            return None
        return (self.done - self.first[1]) / (self.clock() - self.first[0])

    def text(self) -> str:
        return progress_text(done=self.done, total=self.total, elapsed=self.clock() - self.start, rate=self.rate)

    def update(self, count: int) -> None:
        self.done += count
        now = self.clock()
        first_chunk = self.first is None
        if first_chunk:
            self.first = (now, self.done)
        if self.terminal:
            self.stream.write("\r" + self.text().ljust(79))
            self.stream.flush()
        elif first_chunk or now - self.shown >= self.interval or self.done == self.total:
            self.stream.write(self.text() + "\n")
            self.stream.flush()
            self.shown = now

    def close(self) -> None:
        if self.terminal and self.done:
            self.stream.write("\n")
            self.stream.flush()


@dataclasses.dataclass(frozen=True)
class Summary:
    """What the output holds at the end of a job, and what this run did.

    Attributes
    ----------
    out : the output file.
    ok : files with a genre.
    failed : (path, reason) of every file that could not be tagged.
    genres : files per top genre.
    tagged : files classified by this run; the others were already in the output.
    seconds : the run's wall-clock time.
    missing : files with no row (none, unless results were lost; a re-run tags them).
    """

    out: str
    ok: int
    failed: tuple[tuple[str, str], ...]
    genres: Counter
    tagged: int
    seconds: float
    missing: tuple[str, ...] = ()

    @property
    def files(self) -> int:
        return self.ok + len(self.failed)

    def text(self) -> str:
        lines = [
            f"{self.out}: {self.files} files, {self.ok} ok, {len(self.failed)} failed; "
            f"{self.tagged} tagged now, {self.files - self.tagged} already there; {clock_text(self.seconds)}"
        ]
        if self.tagged and self.seconds > 0:
            lines[0] += f" ({self.tagged / self.seconds:.1f} files/s)"
        if self.genres:
            lines.append("genres: " + ", ".join(f"{genre} {count}" for genre, count in self.genres.most_common()))
        if self.failed:
            lines.append(f"failed: {len(self.failed)} (the status column says why)")
        if self.missing:
            lines.append(f"missing: {len(self.missing)} files have no row; run the same command again to tag them")
        return "\n".join(lines)
