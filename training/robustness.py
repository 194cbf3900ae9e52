"""Per-clip accuracy on `valid` under degradations a real recording meets, next to the clean figure.

    python -m training.robustness --data ../shared/gtzan [--model PATH]

Each clip goes through the whole inference path (`GenreClassifier.classify`), fused
probabilities included, after one degradation:
- noise: white noise at 20 dB SNR;
- band-limit 8 kHz: resampled to an 8 kHz sample rate and back (nothing above 4 kHz survives);
- low-pass 8 kHz: nothing above 8 kHz (the milder reading of "8 kHz band-limiting");
- mp3: re-encoded as MP3 at about 32 kbit/s (libsndfile's LAME at compression level 0.95, constant bitrate);
- gain -20 dB.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SNR_DB = 20.0
GAIN_DB = -20.0


def degrade(y: np.ndarray, *, kind: str, sample_rate: int, seed: int = 0) -> tuple[int, np.ndarray]:
    """One degradation of mono audio (n,) float32 -> (sample_rate, samples)."""
    from training import channels

    if kind == "clean":
        return sample_rate, y
    if kind == "noise_20db":
        return sample_rate, channels.add_noise(y, snr_db=SNR_DB, rng=np.random.default_rng(seed))
    if kind == "bandlimit_8khz_rate":
        return sample_rate, channels.band_limit(y, narrow_rate=8000, sample_rate=sample_rate)
    if kind == "lowpass_8khz":
        return sample_rate, channels.low_pass(y, cutoff_hz=8000.0, sample_rate=sample_rate, order=10)
    if kind == "mp3_32kbps":
        data, rate = channels.mp3_round_trip(y, sample_rate=sample_rate, compression_level=0.95)
        return rate, data
    if kind == "gain_minus_20db":
        return sample_rate, (y * 10 ** (GAIN_DB / 20)).astype(np.float32)
    raise ValueError(f"unknown degradation {kind!r}")


DEGRADATIONS = ("clean", "noise_20db", "bandlimit_8khz_rate", "lowpass_8khz", "mp3_32kbps", "gain_minus_20db")


def robustness(classifier, clips, *, kinds=DEGRADATIONS) -> dict[str, dict]:
    """{degradation: {"all", "long", "snippet": accuracy, "clips": n}} through `classifier.classify`."""
    from model.audio import load_audio
    from model.features import SAMPLE_RATE

    genres = classifier.genres
    results = {}
    decoded = [load_audio(clip.path).samples for clip in clips]
    labels = np.array([genres.index(clip.genre) for clip in clips])
    long_mask = np.array([clip.is_long for clip in clips])
    for kind in kinds:
        predicted = np.array(
            [
                genres.index(classifier.classify(degrade(y, kind=kind, sample_rate=SAMPLE_RATE, seed=index)).genre)
                for index, y in enumerate(decoded)
            ]
        )
        correct = predicted == labels
        results[kind] = {
            "all": round(float(correct.mean()), 4),
            "long": round(float(correct[long_mask].mean()), 4),
            "snippet": round(float(correct[~long_mask].mean()), 4),
            "clips": int(labels.size),
        }
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.robustness", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--split", default="valid", choices=("valid", "test"))
    parser.add_argument("--out", type=Path, default=Path("runs/robustness.json"))
    args = parser.parse_args(argv)
    from model.artifact import DEFAULT_MODEL_PATH
    from model.classifier import GenreClassifier
    from training.data import discover_clips

    classifier = GenreClassifier.load(args.model or DEFAULT_MODEL_PATH)
    clips = [clip for clip in discover_clips(args.data) if clip.split == args.split]
    results = robustness(classifier, clips)
    clean = results["clean"]["all"]
    print(f"per-clip accuracy on {args.split} ({len(clips)} clips) under degradations:")
    for kind, row in results.items():
        print(
            f"  {kind:<22} all {row['all']:6.1%}  long {row['long']:6.1%}  snippets {row['snippet']:6.1%}"
            f"  ({(row['all'] - clean) * 100:+.1f} points)"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
