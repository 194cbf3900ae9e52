"""Fit the clip-statistics model and choose its fusion weight on `valid`.

    python -m training.clipstats --data ../shared/gtzan [--model model/genre_cnn.keras]

Learns from the `train` rows of ``features_30_sec.csv`` (found in the data folder or its
parent, as in the Kaggle download) — every train clip, also those whose audio is missing —
or, without that file, from the train audio itself. The weight of the fusion
``(1 - w) * cnn + w * clip_stats`` is the one with the best per-clip accuracy on `valid`
(ties: the smaller weight). Writes the result into the model's metadata.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from model.clipstats import ClipStatsModel
from model.features import statistics_columns
from training.data import Clip, read_split_lists

WEIGHTS = tuple(round(w, 2) for w in np.arange(0.0, 0.81, 0.05))  # candidate fusion weights
REGULARISATION = 1.0  # logistic regression's C


def find_csv(data_dir: Path) -> Path | None:
    for candidate in (data_dir / "features_30_sec.csv", data_dir.parent / "features_30_sec.csv"):
        if candidate.is_file():
            return candidate
    return None


def csv_train_statistics(path: Path, *, genres: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(n_train_clips, 38) statistics and (n_train_clips,) labels from the CSV's train rows."""
    split = read_split_lists()
    columns = statistics_columns()
    rows = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if split.get(Path(row["filename"]).stem) == "train" and row["label"] in genres:
                rows.append(row)
    statistics = np.array([[float(row[column]) for column in columns] for row in rows])
    labels = np.array([genres.index(row["label"]) for row in rows])
    return statistics, labels


def audio_statistics(clips: list[Clip], *, config) -> np.ndarray:
    """(n_clips, 38) statistics computed from the audio exactly as at inference."""
    from model.audio import load_audio
    from model.features import mfcc_segments

    return np.stack([mfcc_segments(load_audio(clip.path).samples, config=config).statistics for clip in clips])


def fit(
    statistics: np.ndarray, labels: np.ndarray, *, n_genres: int, weight: float = 0.0, trained_on: str = ""
) -> ClipStatsModel:
    """Standardised multinomial logistic regression on (n, 38) statistics."""
    from sklearn.linear_model import LogisticRegression

    mean = statistics.mean(axis=0)
    scale = statistics.std(axis=0) + 1e-9
    regression = LogisticRegression(C=REGULARISATION, max_iter=5000).fit((statistics - mean) / scale, labels)
    coefficients = np.zeros((n_genres, statistics.shape[1]))
    intercept = np.full(n_genres, -1e3)  # genres absent from training are never predicted
    coefficients[regression.classes_] = regression.coef_
    intercept[regression.classes_] = regression.intercept_
    return ClipStatsModel(
        mean=mean, scale=scale, coefficients=coefficients, intercept=intercept, weight=weight, trained_on=trained_on
    )


def choose_weight(cnn: np.ndarray, clip: np.ndarray, labels: np.ndarray) -> tuple[float, dict[float, float]]:
    """Best fusion weight on per-clip accuracy; (weight, {weight: accuracy})."""
    scores = {w: float(np.mean(np.argmax((1 - w) * cnn + w * clip, axis=1) == labels)) for w in WEIGHTS}
    best = max(scores.values())
    return min(w for w, score in scores.items() if score == best), scores


def attach(model_path: Path, data_dir: Path, *, log=print) -> dict:
    """Fit, choose the weight on valid, and write clip_model and its figures into the metadata."""
    from model.artifact import load_artifact, update_metadata
    from training.data import discover_clips
    from training.dataset import build_segments
    from training.evaluate import model_clip_probabilities

    network, metadata = load_artifact(model_path, expected=None)
    genres = metadata.genres
    clips = discover_clips(data_dir)
    source = find_csv(data_dir)
    if source is not None:
        statistics, labels = csv_train_statistics(source, genres=genres)
        origin = f"{source.name}: {len(labels)} train rows"
    else:
        train_clips = [clip for clip in clips if clip.split == "train"]
        statistics = audio_statistics(train_clips, config=metadata.features)
        labels = np.array([genres.index(clip.genre) for clip in train_clips])
        origin = f"train audio: {len(labels)} clips"
    model = fit(statistics, labels, n_genres=len(genres))
    valid_clips = [clip for clip in clips if clip.split == "valid"]
    valid = build_segments(valid_clips, genres=genres, config=metadata.features)
    cnn = model_clip_probabilities(network, metadata, valid)
    clip_p = model.probabilities(audio_statistics(valid_clips, config=metadata.features))
    valid_labels = valid.clip_labels(genres)
    weight, scores = choose_weight(cnn, clip_p, valid_labels)
    alone = float(np.mean(np.argmax(clip_p, axis=1) == valid_labels))
    log(f"clip-statistics model from {origin}; valid per-clip accuracy alone {alone:.3f}")
    log("fusion weight -> valid accuracy: " + ", ".join(f"{w:.2f}: {a:.3f}" for w, a in scores.items()))
    log(f"chosen weight {weight:.2f} (valid {scores[weight]:.3f}; CNN alone {scores[0.0]:.3f})")
    update_metadata(
        model_path,
        clip_model=fit(statistics, labels, n_genres=len(genres), weight=weight, trained_on=origin),
        metrics={
            "valid": {
                "cnn_clip_accuracy": round(scores[0.0], 4),
                "clip_stats_accuracy": round(alone, 4),
                "clip_accuracy": round(scores[weight], 4),
                "fusion_weight": weight,
                "clips": len(valid_clips),
            }
        },
    )
    return {"weight": weight, "scores": scores}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.clipstats", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="default: the committed model")
    args = parser.parse_args(argv)
    from model.artifact import DEFAULT_MODEL_PATH

    attach(args.model or DEFAULT_MODEL_PATH, args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
