"""Rank trained models on `valid` by clean and degraded accuracy together.

    python -m training.leaderboard --data ../shared/gtzan runs/*.keras

For each model: per-clip accuracy on the clean valid clips and on valid copies through each
channel augmentation of training (noise, low-pass, MP3, telephone band), with the model's own
clip-statistics fusion where it has one. The score is the mean of the clean accuracy and the
mean degraded accuracy (`training.train.robust_score`, the rule `--choose-on robust` uses for
epochs): a model for phone and laptop recordings must not fall apart off clean CD audio. The
committed model itself is chosen by clean accuracy among faithful models (EXPERIMENTS.md); this
ranking is the second view. `test` is not read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def clip_accuracy(classifier, segments, labels: np.ndarray) -> float:
    """Per-clip accuracy of ``classifier`` on ``segments`` of len(labels) clips, fused with clip statistics
    (each clip's from its own, possibly degraded, segments' frames) where the model has a clip model."""
    from model.features import clip_statistics
    from training.dataset import per_clip_probabilities

    n_clips, n_mfcc = len(labels), segments.features.shape[2]
    probabilities = per_clip_probabilities(
        classifier.predict_segments(segments.features), segments.clip_index, n_clips=n_clips
    )
    if classifier.clip_model is not None and n_mfcc >= 20:
        statistics = np.stack(
            [
                clip_statistics(segments.features[segments.clip_index == clip, :, :, 0].reshape(-1, n_mfcc))
                for clip in range(n_clips)
            ]
        )
        probabilities = classifier.clip_model.fuse(probabilities, statistics)
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.leaderboard", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("models", type=Path, nargs="+")
    args = parser.parse_args(argv)
    from model.artifact import load_artifact
    from model.classifier import GenreClassifier
    from training.data import discover_clips
    from training.dataset import CACHE_DIR, CHANNELS, build_segments
    from training.train import robust_score

    clips = [clip for clip in discover_clips(args.data) if clip.split == "valid"]
    rows = []
    cache: dict = {}
    for path in args.models:
        network, metadata = load_artifact(path, expected=None)
        classifier = GenreClassifier(network, metadata)
        config = metadata.features
        key = repr(config)
        if key not in cache:
            cache[key] = {
                variant: build_segments(
                    clips, genres=classifier.genres, config=config, variants=(variant,), cache_dir=CACHE_DIR
                )
                for variant in ("clean", *CHANNELS)
            }
        prepared = cache[key]
        labels = np.array([classifier.genres.index(clip.genre) for clip in clips])
        clean = clip_accuracy(classifier, prepared["clean"], labels)
        degraded = {variant: clip_accuracy(classifier, prepared[variant], labels) for variant in CHANNELS}
        score = robust_score(clean, list(degraded.values()))
        rows.append((score, path.stem, clean, degraded))
        print(f"  {path.stem}: score {score:.3f}", file=sys.stderr, flush=True)
    print(f"{'model':<36} {'score':>6} {'clean':>6} " + " ".join(f"{name:>9}" for name in CHANNELS))
    for score, name, clean, degraded in sorted(rows, reverse=True):
        print(f"{name:<36} {score:6.1%} {clean:6.1%} " + " ".join(f"{degraded[name]:9.1%}" for name in CHANNELS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
