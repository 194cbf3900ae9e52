"""The benchmark's audio: GTZAN clips read in place, and a long recording built from them.

GTZAN never enters the repository: the long recording is written to a temporary folder
and deleted when the benchmark ends.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GTZAN = REPO.parent / "shared" / "gtzan"


def full_clips(gtzan: Path) -> list[Path]:
    """Every whole (about 30-s) clip that MANIFEST.csv does not exclude, in manifest order."""
    manifest = gtzan / "MANIFEST.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"GTZAN not found: {manifest} is missing (use --gtzan DIR)")
    with open(manifest, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["kind"] == "full" and row["split"] != "excluded"]
    return [gtzan / row["file"] for row in rows]


def concatenate(paths: list[Path], *, seconds: float, out: Path) -> Path:
    """Write the first ``seconds`` of the clips played one after another to ``out`` (FLAC, 16-bit).

    The clips are GTZAN's own format (22050 Hz mono 16-bit FLAC), so the long recording decodes
    the same way as a single clip does.
    """
    parts, total, rate = [], 0, None
    for path in paths:
        data, clip_rate = soundfile.read(path, dtype="int16")
        if rate is None:
            rate = clip_rate
        if clip_rate != rate or data.ndim != 1:
            continue
        parts.append(data)
        total += data.shape[0]
        if total >= seconds * rate:
            break
    if rate is None or total < seconds * rate:
        raise ValueError(f"not enough audio for {seconds:g} s in {len(paths)} clips")
    samples = np.concatenate(parts)[: int(seconds * rate)]
    soundfile.write(out, samples, rate, format="FLAC", subtype="PCM_16")
    return out


def distinct_copies(path: Path, *, count: int, out: Path) -> list[Path]:
    """``count`` copies of a FLAC recording with the same audio but different bytes (a title tag).

    Gradio stores an upload under the hash of its bytes, and the app keeps recent results by
    file: a repeated identical upload could be answered without classifying. Distinct copies
    make every timed request do the whole work.
    """
    samples, rate = soundfile.read(path, dtype="int16")
    copies = []
    for index in range(count):
        copy = out / f"{path.stem}-{index}{path.suffix}"
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        with soundfile.SoundFile(copy, "w", rate, channels, subtype="PCM_16", format="FLAC") as handle:
            handle.title = f"genre-cam benchmark copy {index}"
            handle.write(samples)
        copies.append(copy)
    return copies


def as_mp3(path: Path, *, rate: int, out: Path) -> Path | None:
    """The recording as a stereo MP3 at ``rate`` Hz, as most uploads are; None without an MP3 encoder."""
    import librosa

    samples, clip_rate = soundfile.read(path, dtype="float32")
    resampled = librosa.resample(samples, orig_sr=clip_rate, target_sr=rate)
    stereo = np.stack([resampled, resampled], axis=1)
    try:
        soundfile.write(out, stereo, rate, format="MP3", subtype="MPEG_LAYER_III")
    except (soundfile.LibsndfileError, ValueError, TypeError):
        return None
    return out
