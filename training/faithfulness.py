"""Does Grad-CAM point at what the network uses? A deletion test on `valid` segments.

    python -m training.faithfulness --data ../shared/gtzan [--model PATH]

For each segment: mask the 20 % of MFCC cells that Grad-CAM ranks highest for the
predicted genre, and separately 20 % of cells chosen at random; both masks set cells to
the training mean of their coefficient (0 after normalisation). Report the mean drop in
the predicted genre's probability for each. A faithful map drops it clearly more.
A model with a tag head gets the same test for each segment's most probable tag.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

FRACTION = 0.2
MAX_SEGMENTS = 400  # a fixed, evenly spaced sample of the valid segments keeps the run short


def deletion_drops(
    classifier, features: np.ndarray, *, fraction: float = FRACTION, seed: int = 0, tags: bool = False
) -> dict:
    """Mean probability drops for Grad-CAM-ranked and random masks.

    Parameters
    ----------
    features : (n, frames, n_mfcc, channels) raw MFCC segments.
    tags : test the tag head (each segment's most probable tag) instead of the genre head.

    Returns
    -------
    {"gradcam_drop", "random_drop", "ratio", "segments"}
    """
    rng = np.random.default_rng(seed)

    def probabilities(inputs: np.ndarray) -> np.ndarray:
        return classifier.forward(inputs).tags if tags else classifier.predict_segments(inputs)

    before = probabilities(features)
    predicted = np.argmax(before, axis=1)
    maps = classifier.heatmaps(features, class_indices=predicted, tags=tags)  # (n, frames, n_mfcc)
    n, frames, coeffs = maps.shape
    k = int(round(fraction * frames * coeffs))
    fill = classifier.metadata.mean  # (n_mfcc, channels): the value a cell has after normalising to 0

    def masked(order: np.ndarray) -> np.ndarray:
        out = features.copy()
        for item in range(n):
            rows, cols = np.unravel_index(order[item, :k], (frames, coeffs))
            out[item, rows, cols, :] = fill[cols]
        return out

    jitter = rng.random(maps.shape) * 1e-6  # breaks ties among equal cells at random
    by_gradcam = np.argsort(-(maps + jitter).reshape(n, -1), axis=1)
    at_random = np.argsort(rng.random((n, frames * coeffs)), axis=1)
    rows = np.arange(n)
    p = before[rows, predicted]
    gradcam_drop = float(np.mean(p - probabilities(masked(by_gradcam))[rows, predicted]))
    random_drop = float(np.mean(p - probabilities(masked(at_random))[rows, predicted]))
    return {
        "gradcam_drop": round(gradcam_drop, 4),
        "random_drop": round(random_drop, 4),
        "ratio": round(gradcam_drop / random_drop, 2) if random_drop > 0 else float("inf"),
        "segments": n,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.faithfulness", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/faithfulness.json"))
    args = parser.parse_args(argv)
    from model.artifact import DEFAULT_MODEL_PATH
    from model.classifier import GenreClassifier
    from training.data import discover_clips
    from training.dataset import build_segments

    classifier = GenreClassifier.load(args.model or DEFAULT_MODEL_PATH)
    clips = [clip for clip in discover_clips(args.data) if clip.split == "valid"]
    segments = build_segments(clips, genres=classifier.genres, config=classifier.metadata.features)
    chosen = np.linspace(0, segments.features.shape[0] - 1, min(MAX_SEGMENTS, segments.features.shape[0])).astype(int)
    results = {"genre": deletion_drops(classifier, segments.features[chosen])}
    if classifier.tags:
        results["tag"] = deletion_drops(classifier, segments.features[chosen], tags=True)
    for head, result in results.items():
        print(f"{head} head, deletion test on {result['segments']} valid segments, {FRACTION:.0%} of cells masked:")
        print(f"  Grad-CAM top cells: mean drop {result['gradcam_drop']:.3f}")
        print(f"  random cells:       mean drop {result['random_drop']:.3f}")
        print(f"  ratio {result['ratio']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
