"""Repeated wall-clock measurement: warm-up calls, then the median of several.

On a shared machine other work comes and goes. `measure_rounds` therefore times its calls in
rounds (each call once per round, in turn), so that every measure sees the same background
load and the ratios between them stay fair even when the absolute figures move.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds of every timed call (after the warm-up) and their median."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def to_dict(self) -> dict:
        return {"median_s": self.median, "samples_s": list(self.samples)}


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(call: Callable[[], object], *, repeats: int, warmup: int = 1) -> Timing:
    """Time ``call()`` ``repeats`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    return Timing(tuple(_timed(call) for _ in range(repeats)))


def measure_rounds(calls: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 1) -> dict[str, Timing]:
    """Time every call ``repeats`` times, one round of all calls after another."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].append(_timed(call))
    return {name: Timing(tuple(values)) for name, values in samples.items()}
