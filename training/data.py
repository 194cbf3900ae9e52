"""GTZAN clips on disk, their genre, artist-filtered split and kind.

Two layouts are read:
- a full GTZAN download: ``DIR/<genre>/<genre>.000NN.wav`` (or ``.au``, ``.flac``); every clip is
  "full", and its split comes from the artist-filtered lists in ``training/splits/``;
- the recovered subset in ``../shared/gtzan``: ``DIR/MANIFEST.csv`` names each file, its split and
  kind (full, trimmed, snippet).

Clips in none of the split lists (known replicas and mislabels) are left out.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections import Counter
from pathlib import Path

from model.audio import AUDIO_SUFFIXES

SPLITS = ("train", "valid", "test")
SPLIT_DIR = Path(__file__).resolve().parent / "splits"
_CLIP_NAME = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})$")


@dataclasses.dataclass(frozen=True)
class Clip:
    """One audio item of the data set.

    Attributes
    ----------
    clip_id : "<genre>.000NN", GTZAN's own name.
    genre, split : labels; split is one of SPLITS.
    kind : "full" (about 30 s), "trimmed" (first 15-19 s) or "snippet" (2-3 s excerpt).
    path : the audio file.
    """

    clip_id: str
    genre: str
    split: str
    kind: str
    path: Path

    @property
    def is_long(self) -> bool:
        return self.kind in ("full", "trimmed")


def read_split_lists(directory: Path = SPLIT_DIR) -> dict[str, str]:
    """Map clip id -> split from ``<split>_filtered.txt`` files (lines like ``blues/blues.00029.wav``)."""
    assignment: dict[str, str] = {}
    for split in SPLITS:
        for line in (directory / f"{split}_filtered.txt").read_text().split():
            clip_id = Path(line).stem
            assignment[clip_id] = split
    return assignment


def _from_manifest(data_dir: Path) -> list[Clip]:
    clips = []
    with open(data_dir / "MANIFEST.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["split"] not in SPLITS:
                continue
            clips.append(
                Clip(
                    clip_id=row["clip"],
                    genre=row["genre"],
                    split=row["split"],
                    kind=row["kind"],
                    path=data_dir / row["file"],
                )
            )
    return clips


def _from_folders(data_dir: Path) -> list[Clip]:
    assignment = read_split_lists()
    clips = []
    for path in sorted(data_dir.glob("*/*")):
        match = _CLIP_NAME.match(path.stem)
        if path.suffix.lower() not in AUDIO_SUFFIXES or match is None:
            continue
        if match["genre"] != path.parent.name or path.stem not in assignment:
            continue
        clips.append(Clip(clip_id=path.stem, genre=match["genre"], split=assignment[path.stem], kind="full", path=path))
    return clips


def discover_clips(data_dir: Path) -> list[Clip]:
    """Every usable clip under ``data_dir``, sorted by id.

    Raises
    ------
    FileNotFoundError : the folder holds no GTZAN clips in either layout.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"no such data folder: {data_dir}")
    clips = _from_manifest(data_dir) if (data_dir / "MANIFEST.csv").is_file() else _from_folders(data_dir)
    if not clips:
        raise FileNotFoundError(
            f"no GTZAN clips found in {data_dir}: expected <genre>/<genre>.000NN.wav (or .au) or a MANIFEST.csv"
        )
    return sorted(clips, key=lambda clip: clip.clip_id)


def genre_names(clips: list[Clip]) -> tuple[str, ...]:
    """The class order: sorted genre names, decided once here and stored with the model."""
    return tuple(sorted({clip.genre for clip in clips}))


def data_summary(clips: list[Clip]) -> dict[str, dict[str, int]]:
    """Counts per split: by kind and by genre (stored in the model's metadata)."""
    summary: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        in_split = [clip for clip in clips if clip.split == split]
        kinds = Counter(clip.kind for clip in in_split)
        genres = Counter(clip.genre for clip in in_split)
        summary[split] = {
            "clips": len(in_split),
            **{f"kind:{k}": v for k, v in sorted(kinds.items())},
            **{f"genre:{g}": v for g, v in sorted(genres.items())},
        }
    return summary
