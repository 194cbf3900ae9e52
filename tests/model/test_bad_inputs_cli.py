"""Bad and awkward input through ``python -m model classify --json`` (cases: tests/badinputs.py).

One invocation takes every quick case and the oversize WAV, each followed by a good file, so a
failure cannot poison what comes after it; the hour-long MP3 runs alone so that its peak memory
(``ru_maxrss`` of that one child, from ``os.wait4``) is its own. Every invocation has a time limit.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from model.features import MAX_SECONDS, SEGMENT_HOP_SECONDS, SEGMENT_SECONDS
from tests import badinputs
from tests.conftest import REPO

pytestmark = pytest.mark.slow

CALL_TIMEOUT = 240.0  # seconds per invocation: TensorFlow start-up (~10 s) plus the files, on a busy 2-core machine
PEAK_RSS_LIMIT = 2.5 * 2**30  # bytes; the hour-long MP3 measured 0.97 GB (TensorFlow itself is most of it)
# libmpg123 (inside libsndfile) writes notes straight to file descriptor 2 for MP3-like bytes
DECODER_CHATTER = re.compile(r"^(\[src/libmpg123/|Note: |Warning: )")


@dataclasses.dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int  # bytes, the child's own maximum resident set size
    timed_out: bool

    def records(self) -> dict[str, dict]:
        """The JSON lines on stdout, by file."""
        records = [json.loads(line) for line in self.stdout.splitlines() if line.strip()]
        return {record["file"]: record for record in records}

    def reasons(self, path: Path) -> list[str]:
        """Lines of stderr about ``path`` (the CLI prefixes each with the file's name)."""
        return [line for line in self.stderr.splitlines() if line.startswith(f"{path}: ")]


def run_cli(*files: Path, timeout: float = CALL_TIMEOUT) -> CliRun:
    """``python -m model classify --json FILES``, killed after ``timeout`` s; with the child's peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "model", "classify", "--json", *map(str, files)],
            cwd=REPO,
            stdout=out,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)  # reaps this child and gives its own rusage
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return CliRun(
            returncode=process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            seconds=seconds,
            peak_rss=usage.ru_maxrss * 1024,  # kilobytes on Linux
            timed_out=seconds >= timeout,
        )


def assert_valid_record(record: dict, *, truncated: bool) -> None:
    probabilities = record["probabilities"]
    assert record["genre"] == max(probabilities, key=probabilities.get)
    assert all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in probabilities.values())
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert record["segments"] and record["seconds"] > 0
    assert record["truncated"] is truncated
    if truncated:
        assert record["seconds"] == pytest.approx(MAX_SECONDS, abs=0.1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return badinputs.session_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def cases(folder) -> dict[str, badinputs.Case]:
    every = [*badinputs.write_cases(folder), badinputs.write_oversize(folder, limit=badinputs.app_max_file_size())]
    return {case.name: case for case in every}


@pytest.fixture(scope="module")
def goods(cases, folder) -> dict[str, Path]:
    """The good file classified right after each case, by case name (distinct files)."""
    return {name: badinputs.write_good(folder, index=100 + index) for index, name in enumerate(cases)}


@pytest.fixture(scope="module")
def batch(cases, goods) -> CliRun:
    """One invocation: case, good file, case, good file, ..."""
    files = [path for name, case in cases.items() for path in (case.path, goods[name])]
    return run_cli(*files)


def test_the_batch_finishes_in_time_and_exits_1(batch):
    assert not batch.timed_out, f"killed after {batch.seconds:.0f} s; stderr:\n{batch.stderr}"
    assert batch.returncode == 1, batch.stderr  # some files failed, none crashed the process
    assert "Traceback" not in batch.stderr


def check_case(run: CliRun, case: badinputs.Case, good: Path) -> None:
    records, reasons = run.records(), run.reasons(case.path)
    if case.cli.valid:
        assert str(case.path) in records, f"no result for {case.what}; stderr:\n{run.stderr}"
        assert reasons == []
        assert_valid_record(records[str(case.path)], truncated=case.cli.truncated)
    else:
        assert str(case.path) not in records
        assert len(reasons) == 1, f"expected one line about {case.path.name}; stderr:\n{run.stderr}"
        message = reasons[0].removeprefix(f"{case.path}: ").lower()
        for word in case.cli.words:
            assert word in message, f"{word!r} not in {message!r}"
    assert str(good) in records, f"the good file after {case.path.name} was not classified; stderr:\n{run.stderr}"
    assert_valid_record(records[str(good)], truncated=False)


@pytest.mark.parametrize("name", [*badinputs.QUICK_NAMES, "oversize"])
def test_each_case_gets_a_result_or_one_clear_line(name, cases, goods, batch):
    check_case(batch, cases[name], goods[name])


def test_stderr_holds_only_the_reasons(cases, batch):
    expected = {str(case.path) for case in cases.values() if not case.cli.valid}
    lines = [line for line in batch.stderr.splitlines() if not DECODER_CHATTER.match(line)]
    assert sorted(line.partition(": ")[0] for line in lines) == sorted(expected), batch.stderr


def test_no_decoder_chatter_on_stderr(batch):
    assert [line for line in batch.stderr.splitlines() if DECODER_CHATTER.match(line)] == []


def test_an_hour_is_capped_and_memory_stays_bounded(folder):
    hour = badinputs.write_hour_long(folder)
    good = badinputs.write_good(folder, index=99)
    run = run_cli(hour.path, good)
    assert not run.timed_out, f"killed after {run.seconds:.0f} s"
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    records = run.records()
    assert_valid_record(records[str(hour.path)], truncated=True)
    assert len(records[str(hour.path)]["segments"]) >= (MAX_SECONDS - SEGMENT_SECONDS) / SEGMENT_HOP_SECONDS
    assert_valid_record(records[str(good)], truncated=False)
    assert run.peak_rss < PEAK_RSS_LIMIT, f"peak RSS {run.peak_rss / 2**30:.2f} GiB"
