"""`python -m model classify`: the JSON schema, several files, and exit codes for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from model.artifact import read_metadata
from tests.conftest import REPO

GENRES = set(read_metadata().genres)  # the committed model's
TAGS = read_metadata().tags


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "model", "classify", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_json_schema_on_gtzan_clips(full_clip, snippet_clip):
    completed = run_cli("--json", str(full_clip), str(snippet_clip))
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, [full_clip, snippet_clip]):
        record = json.loads(line)
        assert record["file"] == str(path)
        assert record["genre"] in GENRES
        assert set(record["probabilities"]) == GENRES
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert set(record["tags"]) == set(TAGS)  # the committed model has a tag head
        assert all(0.0 <= p <= 1.0 for p in record["tags"].values())
        assert record["segments"] and record["segments"][0]["start"] == 0.0
        for segment in record["segments"]:
            assert set(segment) == {"start", "end", "genre", "probabilities", "tags"}
            assert segment["end"] > segment["start"]
            assert set(segment["probabilities"]) == GENRES and set(segment["tags"]) == set(TAGS)


@pytest.mark.slow
def test_text_file_fails_with_one_line_and_others_still_run(tmp_path, snippet_clip):
    text = tmp_path / "notes.txt"
    text.write_text("definitely not music\n")
    completed = run_cli("--json", str(text), str(snippet_clip))
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines() == [
        f"{text}: This file could not be read as audio. Please use WAV, FLAC, OGG/Opus, MP3 or AIFF."
    ]
    assert json.loads(completed.stdout)["file"] == str(snippet_clip)


@pytest.mark.slow
def test_plain_output_and_missing_file(tmp_path, snippet_clip):
    completed = run_cli(str(snippet_clip), str(tmp_path / "nope.flac"))
    assert completed.returncode == 1
    assert completed.stdout.startswith(f"{snippet_clip}: ")
    assert f"No such file: {tmp_path / 'nope.flac'}" in completed.stderr and "Traceback" not in completed.stderr


def test_usage_error_exit_code():
    completed = subprocess.run([sys.executable, "-m", "model"], cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == 2 and "usage" in completed.stderr
