"""Per-clip evaluation of a trained model and of the SVM baseline on one split.

    python -m training.evaluate --data ../shared/gtzan --split valid
    python -m training.evaluate --data ../shared/gtzan --split test --model model/genre_cnn.keras

Prints per-clip accuracy (all clips, long clips, snippets) with counts, macro-F1, a
per-genre table, the SVM baseline on the same split, and writes a confusion-matrix PNG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from training.data import Clip

RESULTS_DIR = Path("runs")


def clip_report(probabilities: np.ndarray, clips: list[Clip], genres: tuple[str, ...]) -> dict:
    """Per-clip figures.

    Parameters
    ----------
    probabilities : (n_clips, n_genres) aggregated per clip.
    clips : the clips, same order.

    Returns
    -------
    dict with accuracy for "all", "long" and "snippet" (each with its count), "macro_f1",
    "per_genre" {genre: {"clips", "correct", "accuracy"}} and "confusion" (true x predicted counts).
    """
    labels = np.array([genres.index(clip.genre) for clip in clips])
    predicted = np.argmax(probabilities, axis=1)
    correct = predicted == labels
    long_mask = np.array([clip.is_long for clip in clips], dtype=bool)

    def share(mask):
        return {"accuracy": round(float(correct[mask].mean()), 4) if mask.any() else None, "clips": int(mask.sum())}

    confusion = np.zeros((len(genres), len(genres)), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    f1_scores = []
    per_genre = {}
    for index, genre in enumerate(genres):
        true_positive = confusion[index, index]
        support = confusion[index].sum()
        predicted_count = confusion[:, index].sum()
        if support:
            precision = true_positive / predicted_count if predicted_count else 0.0
            recall = true_positive / support
            f1_scores.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
        per_genre[genre] = {
            "clips": int(support),
            "correct": int(true_positive),
            "accuracy": round(float(recall), 4) if support else None,
        }
    return {
        "all": share(np.ones_like(long_mask)),
        "long": share(long_mask),
        "snippet": share(~long_mask),
        "macro_f1": round(float(np.mean(f1_scores)), 4) if f1_scores else None,
        "per_genre": per_genre,
        "confusion": confusion.tolist(),
    }


def format_accuracy(entry: dict) -> str:
    return "  n/a (0)" if entry["accuracy"] is None else f"{entry['accuracy']:6.1%} ({entry['clips']})"


def print_report(name: str, report: dict, *, per_genre: bool = True) -> None:
    print(
        f"{name}: all {format_accuracy(report['all'])}  long {format_accuracy(report['long'])}  "
        f"snippets {format_accuracy(report['snippet'])}  macro-F1 {report['macro_f1']}"
    )
    if per_genre:
        print(f"  {'genre':<10} {'clips':>5} {'right':>5} {'accuracy':>8}")
        for genre, row in report["per_genre"].items():
            accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.0%}"
            print(f"  {genre:<10} {row['clips']:>5} {row['correct']:>5} {accuracy:>8}")


def plot_confusion(report: dict, genres: tuple[str, ...], *, title: str, path: Path) -> Path:
    """Write the confusion matrix (true genre x predicted genre, counts) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.array(report["confusion"])
    figure, axes = plt.subplots(figsize=(6.4, 5.6), dpi=110)
    axes.imshow(confusion, cmap="Blues")
    axes.set_xticks(range(len(genres)), genres, rotation=45, ha="right")
    axes.set_yticks(range(len(genres)), genres)
    axes.set_xlabel("predicted genre")
    axes.set_ylabel("true genre")
    axes.set_title(title)
    for (row, column), count in np.ndenumerate(confusion):
        if count:
            axes.text(
                column,
                row,
                str(count),
                ha="center",
                va="center",
                color="white" if count > confusion.max() / 2 else "black",
                fontsize=8,
            )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def model_clip_probabilities(network, metadata, segments) -> np.ndarray:
    """(n_clips, n_genres) for a SegmentSet, through the same normalisation and aggregation as inference."""
    from model.classifier import GenreClassifier
    from training.dataset import per_clip_probabilities

    segment_p = GenreClassifier(network, metadata).predict_segments(segments.features)
    return per_clip_probabilities(
        segment_p, segments.clip_index, n_clips=len(segments.clips), method=metadata.aggregation
    )


def baseline_clip_probabilities(train, target, *, genres) -> np.ndarray:
    """Train the SVM baseline on ``train`` segments (clean) and aggregate its probabilities on ``target``."""
    from training.baseline import svm_probabilities, train_svm
    from training.dataset import per_clip_probabilities

    svm = train_svm(train.features, train.labels)
    segment_p = svm_probabilities(svm, target.features, n_genres=len(genres))
    return per_clip_probabilities(segment_p, target.clip_index, n_clips=len(target.clips))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", choices=("valid", "test"), default="valid")
    parser.add_argument("--model", type=Path, default=None, help="default: the committed model")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the confusion PNGs go")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)

    from model.artifact import DEFAULT_MODEL_PATH, load_artifact
    from training.data import discover_clips
    from training.dataset import build_segments

    network, metadata = load_artifact(args.model or DEFAULT_MODEL_PATH, expected=None)
    genres = metadata.genres
    clips = discover_clips(args.data)
    target_clips = [clip for clip in clips if clip.split == args.split]
    if not target_clips:
        print(f"error: no {args.split} clips in {args.data}", file=sys.stderr)
        return 2
    target = build_segments(target_clips, genres=genres, config=metadata.features)
    report = clip_report(model_clip_probabilities(network, metadata, target), target_clips, genres)
    print_report(f"CNN ({metadata.architecture}) on {args.split}", report)
    path = plot_confusion(
        report, genres, title=f"CNN, {args.split} split, per clip", path=args.out_dir / f"confusion_{args.split}.png"
    )
    print(f"confusion matrix: {path}")
    if not args.no_baseline:
        from training.train import training_features

        train = build_segments(
            [clip for clip in clips if clip.split == "train"],
            genres=genres,
            config=training_features(metadata.features),
        )
        baseline = clip_report(baseline_clip_probabilities(train, target, genres=genres), target_clips, genres)
        print_report(f"SVM baseline (MFCC mean/std per segment) on {args.split}", baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
