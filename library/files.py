"""The files to tag and the model that tags them, described by what identifies them.

A file is its path, size and modification time; the model is a hash of its artifact (the
``.keras`` weights and the ``.json`` metadata beside them). A result is still valid while all
four agree, which is what lets a re-run skip finished work.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from model.artifact import metadata_path
from model.audio import AUDIO_SUFFIXES

KEY_COLUMNS = ("path", "size", "mtime_ns", "model")  # a result is reused only while all four agree


def find_audio(folders: Iterable[Path]) -> Iterator[dict]:
    """Audio files under the folders, each once, in a stable order.

    Hidden files and folders (names starting with ".") are left out; symbolic links to folders
    are not followed (a link loop cannot make the walk endless).

    Yields
    ------
    {"path": absolute path (str), "size": bytes (int), "mtime_ns": modification time (int, ns)}
    """
    seen: set[str] = set()
    for folder in folders:
        for root, folder_names, file_names in os.walk(Path(folder).resolve()):
            folder_names[:] = sorted(name for name in folder_names if not name.startswith("."))
            for name in sorted(file_names):
                path = os.path.join(root, name)
                if name.startswith(".") or Path(name).suffix.lower() not in AUDIO_SUFFIXES or path in seen:
                    continue
                try:
                    status = os.stat(path)
                except OSError:  # vanished or unreadable since the listing
                    continue
                seen.add(path)
                yield {"path": path, "size": status.st_size, "mtime_ns": status.st_mtime_ns}


def read_artifact(model_path: Path) -> dict[str, bytes]:
    """The model's files by suffix: ``{".keras": weights, ".json": metadata}`` (about 1 MB)."""
    return {path.suffix: path.read_bytes() for path in (Path(model_path), metadata_path(Path(model_path)))}


def model_identity(artifact: dict[str, bytes]) -> str:
    """A short hash of the artifact's bytes (weights, then metadata): changes whenever the model does."""
    digest = hashlib.sha256()
    for suffix in (".keras", ".json"):
        digest.update(hashlib.sha256(artifact[suffix]).digest())
    return digest.hexdigest()[:16]
