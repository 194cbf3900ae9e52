"""Does the answer survive the way a file was saved? Top-genre agreement between a clip and its copies.

    python -m training.consistency --data ../shared/gtzan [--model PATH]

For every long clip (whole or trimmed) of `valid` and `test`, the committed model's top genre for the
clip is compared with its top genre for copies a listener would call the same recording: an MP3 at
about 128 kbit/s and an Ogg Vorbis file (both 44.1 kHz stereo, decoded from their bytes as an upload
is), a 48 kHz stereo copy and a copy 12 dB quieter. Reports how many of the clips keep their genre
under each copy. (Snippets are left out: 2-3 s are too short to encode meaningfully.)
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

COPIES = ("mp3_128k", "ogg_vorbis", "stereo_48khz", "gain_-12db")
MP3_LEVEL = 0.67  # libsndfile's LAME compression level for about 128 kbit/s at 44.1 kHz stereo (constant bitrate)


def copy_of(y: np.ndarray, *, kind: str, sample_rate: int):
    """One copy of mono audio (n,) float32 at ``sample_rate``: an `AudioSource` (encoded bytes or (rate, samples))."""
    import librosa
    import soundfile

    if kind == "gain_-12db":
        return sample_rate, (y * 10 ** (-12 / 20)).astype(np.float32)
    target = 48000 if kind == "stereo_48khz" else 44100
    stereo = np.stack([librosa.resample(y, orig_sr=sample_rate, target_sr=target)] * 2, axis=1)
    if kind == "stereo_48khz":
        return target, stereo.astype(np.float32)
    buffer = io.BytesIO()
    if kind == "mp3_128k":
        soundfile.write(
            buffer,
            stereo,
            target,
            format="MP3",
            subtype="MPEG_LAYER_III",
            compression_level=MP3_LEVEL,
            bitrate_mode="CONSTANT",
        )
    elif kind == "ogg_vorbis":
        soundfile.write(buffer, stereo, target, format="OGG", subtype="VORBIS")
    else:
        raise ValueError(f"unknown copy {kind!r}; expected one of {COPIES}")
    return buffer.getvalue()


def agreement(classifier, clips) -> dict:
    """{copy: {"same": n, "clips": n, "share": fraction}} over ``clips``."""
    from model.audio import load_audio
    from model.features import SAMPLE_RATE

    same = dict.fromkeys(COPIES, 0)
    for clip in clips:
        samples = load_audio(clip.path).samples
        genre = classifier.classify((SAMPLE_RATE, samples)).genre
        for kind in COPIES:
            same[kind] += classifier.classify(copy_of(samples, kind=kind, sample_rate=SAMPLE_RATE)).genre == genre
    return {
        kind: {"same": same[kind], "clips": len(clips), "share": round(same[kind] / len(clips), 4)} for kind in COPIES
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.consistency", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/consistency.json"))
    args = parser.parse_args(argv)
    from model.artifact import DEFAULT_MODEL_PATH
    from model.classifier import GenreClassifier
    from training.data import discover_clips

    classifier = GenreClassifier.load(args.model or DEFAULT_MODEL_PATH)
    clips = [clip for clip in discover_clips(args.data) if clip.split in ("valid", "test") and clip.is_long]
    result = agreement(classifier, clips)
    for kind, values in result.items():
        print(f"{kind:14s} same top genre on {values['same']}/{values['clips']} long clips ({values['share']:.1%})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
