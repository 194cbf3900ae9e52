"""Inference-time choices measured on `valid`: segment hop, aggregation, and small ensembles.

    python -m training.inference_options --data ../shared/gtzan --models runs/a.keras runs/b.keras

For each model: per-clip valid accuracy (CNN alone, and fused with its clip-statistics model
where it has one) with segments 0.75, 1.5 and 3 s apart, aggregated by the mean of the
probabilities, their geometric mean, or a majority vote. With two or more models, also their
ensemble (mean of the models' segment probabilities, then the mean over segments).
Nothing here is trained; `test` is not read.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

HOPS = (0.75, 1.5, 3.0)  # seconds between segment starts


def aggregate_clips(
    segment_probabilities: np.ndarray, clip_index: np.ndarray, *, n_clips: int, method: str
) -> np.ndarray:
    """(n_segments, n_genres) -> (n_clips, n_genres) by "mean", "geometric" or "vote".

    The mean and the geometric mean are `model.classifier.aggregate`'s "mean" and "log_mean";
    the vote counts each segment's top genre, ties broken by the mean probability.
    """
    from training.dataset import per_clip_probabilities

    if method in ("mean", "geometric"):
        return per_clip_probabilities(
            segment_probabilities, clip_index, n_clips=n_clips, method="mean" if method == "mean" else "log_mean"
        )
    if method != "vote":
        raise ValueError(f"unknown aggregation {method!r}")
    out = []
    for clip in range(n_clips):
        p = segment_probabilities[clip_index == clip]
        votes = np.bincount(p.argmax(axis=1), minlength=p.shape[1]).astype(np.float64)
        out.append((votes + 1e-3 * p.mean(axis=0)) / (votes.sum() + 1e-3))
    return np.stack(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.inference_options", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--models", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    from model.classifier import GenreClassifier
    from training.clipstats import audio_statistics
    from training.data import discover_clips
    from training.dataset import build_segments

    classifiers = [GenreClassifier.load(path) for path in args.models]
    genres = classifiers[0].genres
    config = classifiers[0].metadata.features
    clips = [clip for clip in discover_clips(args.data) if clip.split == "valid"]
    labels = np.array([genres.index(clip.genre) for clip in clips])
    statistics = audio_statistics(clips, config=config)

    def accuracy(probabilities: np.ndarray) -> float:
        return float(np.mean(probabilities.argmax(axis=1) == labels))

    print(f"per-clip accuracy on valid ({len(clips)} clips): CNN alone / fused with the clip statistics")
    for hop in HOPS:
        segments = build_segments(
            clips, genres=genres, config=dataclasses.replace(config, segment_hop_seconds=hop), cache_dir=None
        )
        members = [classifier.predict_segments(segments.features) for classifier in classifiers]
        rows = [(path.stem, classifier, p) for path, classifier, p in zip(args.models, classifiers, members)]
        if len(members) > 1:
            rows.append((f"ensemble of {len(members)}", classifiers[0], np.mean(members, axis=0)))
        for name, classifier, p in rows:
            cells = []
            for method in ("mean", "geometric", "vote"):
                cnn = aggregate_clips(p, segments.clip_index, n_clips=len(clips), method=method)
                fused = classifier.clip_model.fuse(cnn, statistics) if classifier.clip_model else cnn
                cells.append(f"{method} {accuracy(cnn):.1%} / {accuracy(fused):.1%}")
            print(f"  hop {hop:4.2f} s, {segments.features.shape[0]:4d} segments  {name:<34} " + "   ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
