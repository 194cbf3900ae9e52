"""The job's parts without Ray: file listing, model identity, rows, the result store, progress, report."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="the library needs Ray Data: pip install -r requirements-library.txt")

from library.files import KEY_COLUMNS, find_audio, model_identity, read_artifact
from library.progress import Progress, Summary, progress_text
from library.report import report_html
from library.store import FORMATS, ResultStore, read_batches
from library.tagger import Tagger, file_row, rows_table
from model.artifact import DEFAULT_MODEL_PATH
from model.errors import AudioInputError
from tests.conftest import REPO
from tests.library.conftest import BROKEN


@pytest.fixture(scope="module")
def tagger():
    return Tagger(model_path=None, model_id=model_identity(read_artifact(DEFAULT_MODEL_PATH)))


def test_find_audio_lists_every_audio_file_once_with_its_size_and_time(library):
    root, files = library
    found = list(find_audio([root, root / "broken", root]))  # overlapping folders: still once each
    assert sorted(item["path"] for item in found) == sorted(str(path.resolve()) for path in files)
    for item in found:
        status = os.stat(item["path"])
        assert (item["size"], item["mtime_ns"]) == (status.st_size, status.st_mtime_ns)


def test_model_identity_changes_with_either_file(tmp_path):
    artifact = read_artifact(DEFAULT_MODEL_PATH)
    assert set(artifact) == {".keras", ".json"}
    identity = model_identity(artifact)
    assert len(identity) == 16 and identity == model_identity(read_artifact(DEFAULT_MODEL_PATH))
    for suffix in artifact:
        changed = dict(artifact, **{suffix: artifact[suffix] + b" "})
        assert model_identity(changed) != identity


def test_tagger_gives_the_classifier_s_result_or_the_reason_per_file(library, classifier, tagger):
    root, files = library
    chosen = [path for path in files if path.name in BROKEN] + [path for path in files if path.name not in BROKEN][:3]
    items = [item for item in find_audio([root]) if item["path"] in {str(path.resolve()) for path in chosen}]
    batch = {name: np.array([item[name] for item in items]) for name in ("path", "size", "mtime_ns")}
    table = tagger(batch)
    assert table.num_rows == len(items) and table.column_names[:7] == [*KEY_COLUMNS, "status", "seconds", "genre"]
    for row in table.to_pylist():
        result = classifier.classify_many([row["path"]])[0]
        if isinstance(result, AudioInputError):
            assert row["status"] == str(result) and row["genre"] is None and row["p_rock"] is None
        else:
            assert row["status"] == "ok" and row["genre"] == result.genre
            assert np.allclose([row["p_" + genre] for genre in classifier.genres], result.probabilities, atol=1e-5)


def test_a_failure_row_has_every_column_of_a_result_row_but_top_tags(classifier, full_clip):
    genres = classifier.genres
    result = classifier.classify(full_clip)
    file = {"path": str(full_clip), "size": 1, "mtime_ns": 2}
    good = file_row(file, result, genres=genres, model_id="m")
    bad = file_row(file, AudioInputError("The file is\nempty."), genres=genres, model_id="m")
    assert bad["status"] == "The file is empty." and bad["genre"] is None
    assert set(good) - {"top_tags"} == set(bad)
    assert ("top_tags" in good) == bool(getattr(result, "top_tags", lambda k: [])(5))
    table = rows_table([bad, good])
    assert table.schema.field("p_rock").type == pa.float64() and table.schema.field("mtime_ns").type == pa.int64()


def _rows(paths: list[str], *, model: str = "m", genre: str = "rock") -> pa.Table:
    rows = [
        file_row({"path": path, "size": 10, "mtime_ns": 20}, AudioInputError("-"), genres=("rock",), model_id=model)
        for path in paths
    ]
    for row in rows:
        row.update(status="ok", genre=genre, p_rock=1.0, seconds=3.0)
    return rows_table(rows)


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_store_keeps_parts_then_merges_one_row_per_current_file(tmp_path, suffix):
    store = ResultStore(tmp_path / f"tags{suffix}")
    paths = [f'/music/ä {index}, "x".ogg' for index in range(5)]
    store.write_part(_rows(paths[:2]))
    store.write_part(_rows(paths[1:3]))  # a repeated row (a retried chunk) is written once
    assert len(store.parts()) == 2 and not store.out.exists()
    assert store.done_keys() == {(path, 10, 20, "m") for path in paths[:3]}
    files = [{"path": path, "size": 10, "mtime_ns": 20} for path in paths[:4]]
    assert store.finalize(files, model_id="m") == [paths[3]]  # never tagged: reported missing
    assert not store.parts_dir.exists()
    rows = [row for table in read_batches(store.out) for row in table.to_pylist()]
    assert sorted(row["path"] for row in rows) == paths[:3]
    assert all(row["p_rock"] == 1.0 and row["size"] == 10 and row["seconds"] == 3.0 for row in rows)
    # the next run: one file changed on disk, a new model for another: their old rows go
    store.write_part(_rows([paths[3]]))
    files[0]["mtime_ns"] = 21
    store.write_part(_rows([paths[0]]).set_column(2, "mtime_ns", pa.array([21], pa.int64())))
    assert store.finalize(files, model_id="m") == []
    rows = [row for table in read_batches(store.out) for row in table.to_pylist()]
    assert sorted((row["path"], row["mtime_ns"]) for row in rows) == sorted((f["path"], f["mtime_ns"]) for f in files)
    before = store.out.stat().st_mtime_ns
    assert store.finalize(files, model_id="m") == [] and store.out.stat().st_mtime_ns == before  # nothing new
    assert store.finalize(files, model_id="other") == [f["path"] for f in sorted(files, key=lambda f: f["path"])]


def test_parts_left_by_a_killed_run_are_whole(tmp_path):
    store = ResultStore(tmp_path / "tags.parquet")
    store.write_part(_rows(["/a.ogg"]))
    (store.parts_dir / ".part-000001.parquet.tmp").write_bytes(b"half a part")  # killed while writing
    assert store.done_keys() == {("/a.ogg", 10, 20, "m")}
    store.write_part(_rows(["/b.ogg"]))
    assert store.finalize([{"path": p, "size": 10, "mtime_ns": 20} for p in ("/a.ogg", "/b.ogg")], model_id="m") == []


def test_progress_shows_files_rate_and_time_left():
    assert progress_text(done=0, total=200, elapsed=5, rate=None) == "tagged 0/200 files (0%) | 0:05"
    assert progress_text(done=120, total=200, elapsed=61, rate=4.0) == (
        "tagged 120/200 files (60%) | 1:01 | 4.0 files/s | 0:20 left"
    )
    now = [0.0]

    class Log(list):
        def write(self, text):
            self.append(text)

        def flush(self):
            pass

        def isatty(self):
            return False

    log = Log()
    progress = Progress(30, stream=log, interval=10, clock=lambda: now[0])
    for second, count in [(8, 10), (9, 10), (20, 10)]:  # the speed counts from the first chunk
        now[0] = second
        progress.update(count)
    assert log == ["tagged 10/30 files (33%) | 0:08\n", "tagged 30/30 files (100%) | 0:20 | 1.7 files/s | 0:00 left\n"]


def test_summary_and_report_show_genres_and_failed_files():
    summary = Summary(
        out="tags.parquet",
        ok=3,
        failed=(("/m/<b>.mp3", "This file could not be read as audio."),),
        genres=Counter({"rock": 2, "jazz": 1}),
        tagged=4,
        seconds=2.0,
    )
    assert summary.text().splitlines() == [
        "tags.parquet: 4 files, 3 ok, 1 failed; 4 tagged now, 0 already there; 0:02 (2.0 files/s)",
        "genres: rock 2, jazz 1",
        "failed: 1 (the status column says why)",
    ]
    page = report_html(summary)
    assert "<svg" in page and ">rock</text>" in page and "2 (67%)" in page
    assert "/m/&lt;b&gt;.mp3" in page and "could not be read as audio" in page


def test_without_ray_the_command_says_how_to_install_it(tmp_path, library):
    base = Path(getattr(sys, "_base_executable", sys.executable))
    if subprocess.run([str(base), "-c", "import ray"], capture_output=True).returncode == 0:
        pytest.skip(f"{base} has Ray: no Python without it here")
    root, _ = library
    finished = subprocess.run(
        [str(base), "-m", "library", "tag", str(root), "--out", str(tmp_path / "t.parquet")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2 and "pip install -r requirements-library.txt" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_the_benchmark_s_library_is_links_that_the_job_lists_once_each(tmp_path, gtzan_dir):
    from benchmarks.clips import full_clips
    from benchmarks.library import link_library, rate_after_start

    clips = full_clips(gtzan_dir)[:3]
    folder = link_library(clips, count=7, folder=tmp_path / "music")
    found = list(find_audio([folder]))
    assert len(found) == 7 and all(Path(item["path"]).is_symlink() for item in found)
    assert sorted(item["size"] for item in found) == sorted(clips[index % 3].stat().st_size for index in range(7))
    assert rate_after_start({"first_s": 6.0, "first_files": 1, "last_s": 16.0, "files": 201}) == 20.0
    assert rate_after_start({"first_s": 6.0, "first_files": 201, "last_s": 6.0, "files": 201}) is None


@pytest.mark.parametrize("case", ["bad suffix", "no audio", "not a folder"])
def test_usage_errors_are_one_clear_line(tmp_path, case):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no music here")
    folder, out, words = {
        "bad suffix": (tmp_path / "empty", "tags.xlsx", "the output must end in .parquet"),
        "no audio": (tmp_path / "empty", "tags.parquet", "no audio files under"),
        "not a folder": (tmp_path / "nowhere", "tags.parquet", "not a folder"),
    }[case]
    finished = subprocess.run(
        [sys.executable, "-m", "library", "tag", str(folder), "--out", str(tmp_path / out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2 and words in finished.stderr and "Traceback" not in finished.stderr
    assert not (tmp_path / out).exists()
