"""What a worker does: load the model once, then turn batches of files into rows.

Plain Python, no Ray: `library.job` hands `Tagger` to Ray Data as the class of an actor pool,
and the tests can call it directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from library.files import model_identity, read_artifact

TOP_TAGS = 5  # tags per file in the ``top_tags`` column, when the model has a tag head
INTEGER_COLUMNS = ("size", "mtime_ns")
FLOAT_COLUMNS = ("seconds",)
PROBABILITY_PREFIX = "p_"  # the probability of genre g is column "p_<g>"


def one_line(error: BaseException) -> str:
    """An error's message on one line (the status column of a file that could not be tagged)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def file_row(file: dict[str, Any], result, *, genres: tuple[str, ...], model_id: str) -> dict[str, Any]:
    """One output row: the file's identity, its status, and what the model says about it.

    Parameters
    ----------
    file : {"path", "size", "mtime_ns"} as `library.files.find_audio` gives.
    result : the file's Classification, or the exception that explains why there is none.
    genres : the model's genres, in the order of its probabilities.
    model_id : `library.files.model_identity` of the model.

    Returns
    -------
    {"path", "size", "mtime_ns", "model", "status" ("ok" or the reason), "seconds", "genre",
    "p_<genre>" for each genre} and "top_tags" ("tag=p; ...", most probable first) when the model
    has a tag head.
    """
    row = {"path": str(file["path"]), "size": int(file["size"]), "mtime_ns": int(file["mtime_ns"]), "model": model_id}
    if isinstance(result, BaseException):
        return {
            **row,
            "status": one_line(result),
            "seconds": None,
            "genre": None,
            **{PROBABILITY_PREFIX + genre: None for genre in genres},
        }
    row.update(status="ok", seconds=round(float(result.seconds), 3), genre=result.genre)
    row.update({PROBABILITY_PREFIX + genre: float(p) for genre, p in zip(genres, result.probabilities)})
    tags = result.top_tags(TOP_TAGS)  # empty without a tag head
    if tags:
        row["top_tags"] = "; ".join(f"{tag}={p:.3f}" for tag, p in tags)
    return row


def column_type(name: str) -> pa.DataType:
    """The Arrow type of an output column (every column may hold nulls)."""
    if name in INTEGER_COLUMNS:
        return pa.int64()
    if name in FLOAT_COLUMNS or name.startswith(PROBABILITY_PREFIX):
        return pa.float64()
    return pa.string()


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with fixed column types; a column missing from a row is null there."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    return pa.table({name: pa.array([row.get(name) for row in rows], type=column_type(name)) for name in names})


class Tagger:
    """Classifies batches of files with one model, loaded once (one per Ray Data actor).

    Parameters
    ----------
    model_path : the ``.keras`` artifact as this worker sees it; None for the committed model
        (on a cluster, the copy that came with the `model` package).
    model_id : the model's identity as the job computed it; a worker whose artifact differs
        refuses to start, so one output never mixes two models.
    threads : TensorFlow threads (the CPUs the worker was given).
    """

    def __init__(self, *, model_path: str | None, model_id: str, threads: int = 1) -> None:
        from model.artifact import DEFAULT_MODEL_PATH
        from model.runtime import import_tensorflow

        path = Path(model_path) if model_path else DEFAULT_MODEL_PATH
        found = model_identity(read_artifact(path))
        if found != model_id:
            raise RuntimeError(f"the model at {path} on this node is {found}, not the job's {model_id}")
        tf = import_tensorflow()
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow already started in this process: its threads stay as they are
            pass
        from model.classifier import GenreClassifier

        self.classifier = GenreClassifier.load(path)
        self.model_id = model_id

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        """{"path", "size", "mtime_ns"} columns of n files -> an n-row table of `file_row` rows."""
        files = [
            {"path": str(path), "size": int(size), "mtime_ns": int(mtime)}
            for path, size, mtime in zip(batch["path"], batch["size"], batch["mtime_ns"])
        ]
        paths = [file["path"] for file in files]
        try:
            results = self.classifier.classify_many(paths)
        except Exception:  # an unexpected failure on one file (not AudioInputError): find it, keep the others
            results = [self._classify_one(path) for path in paths]
        genres = self.classifier.genres
        return rows_table(
            [file_row(file, result, genres=genres, model_id=self.model_id) for file, result in zip(files, results)]
        )

    def _classify_one(self, path: str):
        try:
            return self.classifier.classify_many([path])[0]
        except Exception as error:  # a batch job loses nothing: the reason goes into the file's row
            return RuntimeError(f"{type(error).__name__}: {error}")
