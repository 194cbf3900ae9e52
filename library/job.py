"""The batch job: find the files, skip those already tagged, tag the rest on Ray Data, merge.

Ray starts on this machine's cores unless an address is given; either way one actor per CPU
loads the model once and classifies batches of files that it reads itself, and the results
stream back to this process, which writes each finished chunk to disk as it arrives.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from library.files import find_audio, model_identity, read_artifact
from library.progress import Progress, Summary
from library.store import ResultStore, read_batches
from library.tagger import Tagger
from model.artifact import DEFAULT_MODEL_PATH

BATCH_FILES = 8  # files per actor call: their segments share network calls; also the chunk lost to a kill
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2  # rows are small and the audio never enters the object store
PACKAGES = [Path(__file__).resolve().parents[1] / name for name in ("model", "library")]


class LibraryError(RuntimeError):
    """The job cannot start (a folder is missing, no audio files); the message says what to do."""


def start_ray(*, address: str | None, cpus: int | None):
    """Connect to a cluster at ``address``, or start Ray on this machine with ``cpus`` CPUs (all by default).

    A cluster gets this checkout's `model` and `library` packages with the job (Ray's ``py_modules``);
    its nodes need the same Python packages installed. The local start-up is kept light: no
    dashboard, no usage statistics, a small object store, worker logs left in Ray's log folder.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    import ray.data

    options = {"log_to_driver": False, "logging_level": logging.ERROR}  # our progress line, not Ray's notes
    if address:
        ray.init(address=address, runtime_env={"py_modules": [str(path) for path in PACKAGES]}, **options)
    else:
        ray.init(
            address="local",
            num_cpus=cpus or os.cpu_count(),
            include_dashboard=False,  # never a running cluster
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            **options,
        )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours counts files, not blocks
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def tag_files(
    pending: list[dict],
    *,
    store: ResultStore,
    model_path: Path | None,
    model_id: str,
    address: str | None,
    cpus: int | None,
    batch_files: int,
    progress: Progress,
) -> int:
    """Classify the files on Ray Data and write each finished chunk as a part; returns the files written."""
    ray = start_ray(address=address, cpus=cpus)
    try:
        blocks = math.ceil(len(pending) / batch_files)
        workers = min(blocks, max(1, int(ray.cluster_resources().get("CPU", 1))))
        dataset = ray.data.from_items(pending, override_num_blocks=blocks).map_batches(
            Tagger,
            fn_constructor_kwargs={
                "model_path": str(Path(model_path).resolve()) if model_path else None,
                "model_id": model_id,
            },
            batch_size=batch_files,
            batch_format="numpy",
            num_cpus=1,
            # on a cluster the pool shrinks and grows with its nodes; locally it is one worker per CPU
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers)
            if address
            else ray.data.ActorPoolStrategy(size=workers),
        )
        written: set[str] = set()
        for table in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            paths = table.column("path").to_pylist()
            fresh = [path not in written for path in paths]  # a chunk retried after a fault may repeat rows
            if any(fresh):
                store.write_part(table.filter(fresh) if not all(fresh) else table)
                written.update(paths)
                progress.update(sum(fresh))
    finally:
        progress.close()
        ray.shutdown()
    return len(written)


def summarize(store: ResultStore, *, tagged: int, seconds: float, missing: list[str]) -> Summary:
    """Counts and failures read back from the output, a few thousand rows at a time."""
    ok, failed, genres = 0, [], Counter()
    for table in read_batches(store.out, columns=["path", "status", "genre"]):
        for path, status, genre in zip(*(table.column(name).to_pylist() for name in ("path", "status", "genre"))):
            if status == "ok":
                ok += 1
                genres[genre] += 1
            else:
                failed.append((path, status))
    return Summary(
        out=str(store.out),
        ok=ok,
        failed=tuple(failed),
        genres=genres,
        tagged=tagged,
        seconds=seconds,
        missing=tuple(missing),
    )


def tag_library(
    folders: Iterable[Path],
    *,
    out: Path,
    model_path: Path | None = None,
    address: str | None = None,
    cpus: int | None = None,
    batch_files: int = BATCH_FILES,
    stream: TextIO | None = None,
) -> Summary:
    """Tag every audio file under ``folders`` into ``out``, skipping those already there.

    Parameters
    ----------
    folders : where to look for audio (recursively).
    out : the output, ``.parquet``, ``.csv`` or ``.jsonl``: one row per file (`library.tagger.file_row`).
    model_path : the ``.keras`` artifact (its ``.json`` metadata beside it), at the same path on every
        node of a cluster; None for the committed model, which travels with the code.
    address : a Ray cluster ("auto", "ray://HOST:10001"); None starts Ray on this machine.
    cpus : CPUs of the local Ray (None: all of them); ignored with ``address``.
    batch_files : files per worker call.
    stream : where the progress goes (default: sys.stderr).

    Raises
    ------
    LibraryError : a folder is missing or has no audio files.
    ValueError : the output's suffix is not one of `library.store.FORMATS`.
    """
    started = time.monotonic()
    stream = stream or sys.stderr
    store = ResultStore(out)
    folders = [Path(folder) for folder in folders]
    for folder in folders:
        if not folder.is_dir():
            raise LibraryError(f"not a folder: {folder}")
    files = list(find_audio(folders))
    if not files:
        raise LibraryError(f"no audio files under {', '.join(map(str, folders))}")
    model_id = model_identity(read_artifact(model_path or DEFAULT_MODEL_PATH))
    done = store.done_keys()
    pending = [file for file in files if (file["path"], file["size"], file["mtime_ns"], model_id) not in done]
    print(
        f"{len(files)} audio files, {len(files) - len(pending)} already in {store.out.name}, {len(pending)} to tag",
        file=stream,
        flush=True,
    )
    tagged = 0
    if pending:
        tagged = tag_files(
            pending,
            store=store,
            model_path=model_path,
            model_id=model_id,
            address=address,
            cpus=cpus,
            batch_files=batch_files,
            progress=Progress(len(pending), stream=stream),
        )
    missing = store.finalize(files, model_id=model_id)
    return summarize(store, tagged=tagged, seconds=time.monotonic() - started, missing=missing)
