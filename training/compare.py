"""Side by side on the same split and pipeline: the SVM baseline, the seed's CNN, and our model.

    python -m training.compare --data ../shared/gtzan

Trains (a) the MFCC mean/std SVM and (b) the seed project's CNN (13 MFCC, no augmentation,
epoch chosen on valid; once per random seed, its row the mean) from scratch, evaluates (t) the
teacher's genre head (musicnn's tags read by the committed logistic regression, training/teacher_head.json;
the teacher runs on valid and test audio for this row only, never for training) and (c) our committed
model (or retrains it with --train-ours), and prints one table of per-clip accuracy
on `valid` and `test` (all clips, long clips, snippets) with macro-F1 and counts. Writes the figures to
runs/compare.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from training.settings import add_arguments, from_arguments, setting


@dataclasses.dataclass(frozen=True)
class SeedCNNSettings:
    """How row (b) is trained; each field is a command-line option (``--field-name``)."""

    seed_epochs: int = setting(30, "the seed CNN converges well within this on the clean segments")
    seed_runs: tuple[int, ...] = setting(
        (1234, 777, 4242),
        "random seeds, one training each (one run's test figure swings by 5 points); row (b) is their mean",
    )


def mean_report(reports: list[dict]) -> dict:
    """The mean of several `clip_report`s' accuracies and macro-F1 (counts are the same in all)."""

    def mean(values):
        values = [value for value in values if value is not None]
        return round(sum(values) / len(values), 4) if values else None

    return {
        **{
            part: {
                "accuracy": mean([report[part]["accuracy"] for report in reports]),
                "clips": reports[0][part]["clips"],
            }
            for part in ("all", "long", "snippet")
        },
        "macro_f1": mean([report["macro_f1"] for report in reports]),
    }


def evaluate_on_splits(probabilities_for, clips_by_split, genres) -> dict:
    from training.evaluate import clip_report

    return {split: clip_report(probabilities_for(split), clips, genres) for split, clips in clips_by_split.items()}


def format_row(name: str, reports: dict) -> str:
    cells = []
    for split in ("valid", "test"):
        report = reports[split]
        for part in ("all", "long", "snippet"):
            entry = report[part]
            cells.append("   -  " if entry["accuracy"] is None else f"{entry['accuracy']:6.1%}")
        cells.append(f"{report['macro_f1']:.3f}")
    return f"{name:<34}" + "  ".join(f"{cell:>7}" for cell in cells)


TEACHER_ROW = "(t) teacher head (musicnn, 3-s patches)"


def teacher_rows(data: Path) -> dict:
    """The committed teacher head's `clip_report` on valid and test; the teacher pass runs on their clean audio
    where its cache lacks them."""
    from training.teacher_head import HEAD_FILE, TeacherHead, head_reports
    from training.teacher_pass import CACHE_DIR, gtzan_items, plan, run

    items = [item for item in gtzan_items(data) if item.split in ("valid", "test")]
    run(plan(items, train_views=(), music_views=()), cache=CACHE_DIR, log=lambda line: print(line, flush=True))
    head = TeacherHead.from_dict(json.loads(HEAD_FILE.read_text())["head"])
    return head_reports(head, CACHE_DIR, data)


def record_test(model_path: Path, *, fused: dict, cnn: dict, baselines: dict) -> None:
    """Record ``metrics["test"]`` in a model's metadata: the figures the app's About panel leads with."""
    from model.artifact import update_metadata

    update_metadata(
        model_path,
        metrics={
            "test": {
                "clip_accuracy": fused["all"]["accuracy"],
                "clips": fused["all"]["clips"],
                "long_clip_accuracy": fused["long"]["accuracy"],
                "snippet_accuracy": fused["snippet"]["accuracy"],
                "macro_f1": fused["macro_f1"],
                "cnn_clip_accuracy": cnn["all"]["accuracy"],
                "svm_baseline_clip_accuracy": baselines["svm"],
                "seed_cnn_clip_accuracy": baselines["seed"],
                **(
                    {"teacher_head_clip_accuracy": baselines["teacher"]} if baselines.get("teacher") is not None else {}
                ),
                "chosen_on": "valid",
            }
        },
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="our model (default: the committed one)")
    parser.add_argument("--train-ours", action="store_true", help="retrain our model too (slow) instead of loading it")
    parser.add_argument("--out", type=Path, default=Path("runs/compare.json"))
    parser.add_argument(
        "--record",
        action="store_true",
        help="store our test figures in the model's metadata (do it once, for the finished model)",
    )
    parser.add_argument("--no-teacher", action="store_true", help="leave out the teacher head's row")
    add_arguments(parser.add_argument_group("seed CNN"), SeedCNNSettings)
    args = parser.parse_args(argv)
    seed_cnn = from_arguments(SeedCNNSettings, args)
    if not seed_cnn.seed_runs:
        parser.error("--seed-runs needs at least one seed")
    started = time.time()

    from model.artifact import DEFAULT_MODEL_PATH, ModelMetadata, load_artifact
    from model.classifier import GenreClassifier
    from model.features import FeatureConfig
    from training.clipstats import audio_statistics
    from training.data import discover_clips, genre_names
    from training.dataset import build_segments
    from training.evaluate import baseline_clip_probabilities, model_clip_probabilities
    from training.train import Settings, train_network, training_features

    clips = discover_clips(args.data)
    genres = genre_names(clips)
    by_split = {split: [clip for clip in clips if clip.split == split] for split in ("train", "valid", "test")}
    evaluated = {split: by_split[split] for split in ("valid", "test")}
    print("clips: " + ", ".join(f"{split} {len(items)}" for split, items in by_split.items()), flush=True)

    # (c) our model, with its own feature parameters
    if args.train_ours:
        from training.train import main as train_main

        ours_path = Path("runs/compare_ours.keras")
        train_main(["--data", str(args.data), "--out", str(ours_path)])
        from training.clipstats import attach

        attach(ours_path, args.data)
    else:
        ours_path = args.model or DEFAULT_MODEL_PATH
    network, metadata = load_artifact(ours_path, expected=None)
    ours = GenreClassifier(network, metadata)
    config = metadata.features

    def split_segments(feature_config):
        """Every split's segments; `train` sliced with the training hop, as training.train does."""
        return {
            split: build_segments(
                items, genres=genres, config=training_features(feature_config) if split == "train" else feature_config
            )
            for split, items in by_split.items()
        }

    segments = split_segments(config)

    def ours_probabilities(split):
        cnn = model_clip_probabilities(network, metadata, segments[split])
        if ours.clip_model is None:
            return cnn
        statistics = audio_statistics(by_split[split], config=config)
        return (1 - ours.clip_model.weight) * cnn + ours.clip_model.weight * ours.clip_model.probabilities(statistics)

    def ours_cnn_only(split):
        return model_clip_probabilities(network, metadata, segments[split])

    # (a) the SVM baseline on the same segments
    def svm_probabilities(split):
        return baseline_clip_probabilities(segments["train"], segments[split], genres=genres)

    # (b) the seed's CNN: 13 MFCC, its architecture, no augmentation, epoch chosen on valid
    seed_config = dataclasses.replace(FeatureConfig(), n_mfcc=13)
    seed_segments = split_segments(seed_config)
    seed_settings = Settings(
        architecture="seed",
        epochs=seed_cnn.seed_epochs,
        augment=(),
        mixup_alpha=0.0,
        time_masks=0,
        coeff_masks=0,
        cell_masks=0.0,
        label_smoothing=0.0,
        class_balance=False,
        clip_balance=0.0,
        choose_on="clean",
    )
    seed_rows = {}
    for run_seed in seed_cnn.seed_runs:
        print(f"training the seed CNN ({seed_cnn.seed_epochs} epochs, seed {run_seed}) ...", flush=True)
        seed_network, mean, std, _ = train_network(
            seed_segments["train"],
            seed_segments["valid"],
            genres=genres,
            config=seed_config,
            settings=dataclasses.replace(seed_settings, seed=run_seed),
            log=lambda line: None,
        )
        seed_metadata = ModelMetadata(genres=genres, features=seed_config, mean=mean, std=std, architecture="seed")
        seed_rows[f"    seed CNN, seed {run_seed}"] = evaluate_on_splits(
            lambda split, n=seed_network, m=seed_metadata: model_clip_probabilities(n, m, seed_segments[split]),
            evaluated,
            genres,
        )

    rows = {"(a) SVM on MFCC mean/std": evaluate_on_splits(svm_probabilities, evaluated, genres)}
    rows["(b) seed CNN, 13 MFCC" + (", mean" if len(seed_rows) > 1 else "")] = {
        split: mean_report([reports[split] for reports in seed_rows.values()]) for split in ("valid", "test")
    }
    if len(seed_rows) > 1:
        rows.update(seed_rows)
    if not args.no_teacher:
        rows[TEACHER_ROW] = teacher_rows(args.data)
    rows["(c) ours, CNN alone"] = evaluate_on_splits(ours_cnn_only, evaluated, genres)
    if ours.clip_model is not None:
        rows[f"(c) ours, CNN + clip stats (w={ours.clip_model.weight:.2f})"] = evaluate_on_splits(
            ours_probabilities, evaluated, genres
        )
    svm_row = rows["(a) SVM on MFCC mean/std"]
    counts = {
        split: {part: svm_row[split][part]["clips"] for part in ("all", "long", "snippet")}
        for split in ("valid", "test")
    }
    print()
    print(
        f"{'per-clip accuracy':<34}"
        + "  ".join(
            f"{name:>7}" for name in ["v.all", "v.long", "v.snip", "v.mF1", "t.all", "t.long", "t.snip", "t.mF1"]
        )
    )
    for name, reports in rows.items():
        print(format_row(name, reports))
    print(
        f"{'clips':<34}"
        + "  ".join(
            f"{cell:>7}"
            for cell in [
                counts["valid"]["all"],
                counts["valid"]["long"],
                counts["valid"]["snippet"],
                "",
                counts["test"]["all"],
                counts["test"]["long"],
                counts["test"]["snippet"],
                "",
            ]
        )
    )
    print(
        "v. = valid, t. = test; all / long clips / 2-3 s snippets, mF1 = macro-F1 over the genres present;"
        " test has no jazz and 2 disco clips, valid no hiphop or reggae"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "counts": counts, "model": str(ours_path)}, indent=2))
    if args.record:
        record_test(
            ours_path,
            fused=rows[list(rows)[-1]]["test"],
            cnn=rows["(c) ours, CNN alone"]["test"],
            baselines={
                "svm": rows["(a) SVM on MFCC mean/std"]["test"]["all"]["accuracy"],
                "seed": rows[list(rows)[1]]["test"]["all"]["accuracy"],
                "teacher": rows[TEACHER_ROW]["test"]["all"]["accuracy"] if TEACHER_ROW in rows else None,
            },
        )
        print(f"recorded the test figures in {ours_path.with_suffix('.json')}")
    print(f"\nwrote {args.out} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
