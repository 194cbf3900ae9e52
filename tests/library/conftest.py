"""A music library written at test time: GTZAN excerpts and bundled examples under folders with odd
names, in several formats, with broken files among them; and what ``python -m model classify`` says
about each file, the reference every library run is held to."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile

from tests.conftest import EXAMPLES_DIR, REPO

SNIPPETS_PER_GENRE = 2  # 2-3 s GTZAN excerpts per genre
FOLDERS = ("Müsic Lïbrary/Jazz & Blues/d'été (live)", "Müsic Lïbrary/雨の日", "a  b/ spaced out ")
EXAMPLES = ("lincity_architectural_contemplations.flac", "nexuiz_brainsukker.mp3", "supertux_chipdisko.ogg")
BROKEN = ("empty.wav", "a text file.mp3", "truncated.flac")


def write_library(root: Path, *, gtzan: Path, manifest: list[dict[str, str]]) -> list[Path]:
    """Write the library under ``root``; returns every audio file in it, broken ones included.

    Snippets are copied as FLAC or re-encoded as WAV or OGG (alternately), spread over FOLDERS;
    three bundled examples keep their format; the broken files sit at the top and in a subfolder.
    A hidden file and a non-audio file are written too: the job must not list them.
    """
    files = []
    genres: dict[str, int] = {}
    snippets = [row for row in manifest if row["kind"] == "snippet"]
    for row in snippets:
        if genres.get(row["genre"], 0) >= SNIPPETS_PER_GENRE:
            continue
        genres[row["genre"]] = genres.get(row["genre"], 0) + 1
        index = len(files)
        folder = root / FOLDERS[index % len(FOLDERS)]
        folder.mkdir(parents=True, exist_ok=True)
        suffix = (".flac", ".wav", ".ogg")[index % 3]
        target = folder / f"{index:02d} {row['clip']} – ♪{suffix}"
        samples, rate = soundfile.read(gtzan / row["file"], dtype="float32")
        soundfile.write(target, samples, rate)
        files.append(target)
    for index, name in enumerate(EXAMPLES):
        target = root / FOLDERS[index % len(FOLDERS)] / name
        target.write_bytes((EXAMPLES_DIR / name).read_bytes())
        files.append(target)
    (root / "broken").mkdir()
    empty, text, truncated = root / BROKEN[0], root / "broken" / BROKEN[1], root / "broken" / BROKEN[2]
    empty.write_bytes(b"")
    text.write_text("These are my notes, not music.\n" * 20)
    whole = files[0].read_bytes()  # a FLAC excerpt
    truncated.write_bytes(whole[: len(whole) // 40])
    files += [empty, text, truncated]
    (root / ".hidden.mp3").write_bytes(b"not listed")
    (root / "cover.jpg").write_bytes(b"not audio")
    return files


@pytest.fixture(scope="session")
def library(tmp_path_factory, gtzan_dir, gtzan_manifest) -> tuple[Path, list[Path]]:
    """(the library's folder, its audio files); written once per test session, never modified."""
    root = tmp_path_factory.mktemp("library") / "My Music"
    return root, write_library(root, gtzan=gtzan_dir, manifest=gtzan_manifest)


@pytest.fixture(scope="session")
def reference(library) -> dict[str, dict]:
    """What ``python -m model classify --json`` says of each file: {path: {"genre": ...} or {"reason": ...}}."""
    _, files = library
    finished = subprocess.run(
        [sys.executable, "-m", "model", "classify", "--json", *map(str, files)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = {}
    for line in finished.stdout.splitlines():
        record = json.loads(line)
        results[record["file"]] = {"genre": record["genre"], "probabilities": record["probabilities"]}
    for line in finished.stderr.splitlines():
        path, _, reason = line.partition(": ")
        if path in map(str, files):
            results[path] = {"reason": reason}
    assert set(results) == set(map(str, files)), finished.stderr[-2000:]
    return results


def run_library(*arguments: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m library tag ...`` to the end."""
    return subprocess.run(
        [sys.executable, "-m", "library", "tag", *arguments], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


@contextlib.contextmanager
def started_library(*arguments: str) -> Iterator[subprocess.Popen]:
    """``python -m library tag ...`` in the background (its own session); killed if still running at the end."""
    job = subprocess.Popen(
        [sys.executable, "-m", "library", "tag", *arguments],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield job
    finally:
        if job.poll() is None:
            job.kill()
            job.communicate()


def wait_for_parts(parts: Path, *, count: int, process: subprocess.Popen, timeout: float = 300) -> None:
    """Until ``count`` finished parts exist in ``parts``; fails if the job ends first."""
    deadline = time.monotonic() + timeout
    while len(list(parts.glob("part-*.parquet"))) < count:
        assert process.poll() is None, f"the job ended before {count} parts: {process.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"no {count} parts after {timeout} s"
        time.sleep(0.2)


def descendants(pid: int) -> list[int]:
    """The process ids below ``pid`` (Ray's processes started by a job)."""
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def end_processes(pids: list[int]) -> None:
    """SIGKILL each of these processes (started by a test) that is still alive."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
