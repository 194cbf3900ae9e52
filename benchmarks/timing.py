"""Repeated wall-clock measurement: a warm-up call, then the median of several."""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Callable


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds of every timed call (after the warm-up) and their median."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy the measure was."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median > 0 else 0.0

    def to_dict(self) -> dict:
        return {"median_s": self.median, "samples_s": list(self.samples)}


def measure(call: Callable[[], object], *, repeats: int, warmup: int = 1) -> Timing:
    """Time ``call()`` ``repeats`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return Timing(tuple(samples))
