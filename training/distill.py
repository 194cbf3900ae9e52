"""Distil the teacher (musicnn's MSD tagger with its genre head) into the MFCC CNN: genres and tags.

    python -m training.distill --data ../shared/gtzan                        # the committed model
    python -m training.distill --data ../shared/gtzan --smoke --out runs/smoke_distill.keras

Reads the teacher pass (`training.teacher_pass`) and the chosen teacher head
(`training.teacher_head`). Every student segment has the teacher's outputs for exactly its 3 s of
audio, in the same view (clean or through a real-world channel), so student and teacher see the
same input ("a good teacher is patient and consistent", Beyer et al., 2022). Targets:

- genres: the teacher head's calibrated probabilities (softened by ``temperature``), mixed with the true label
  (share ``label_weight``) for GTZAN `train` segments; the teacher alone for the transfer music;
- tags: the teacher's 50 tag probabilities (binary cross-entropy), weighted by ``tag_weight``.

Mixup mixes two segments' inputs and both of their targets; SpecAugment-style masks hide stripes and
cells of the student's input. The epoch is chosen on `valid` per clip (the student's genre head); with
``ema``, a moving average of the weights is what is evaluated and kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from training.dataset import CHANNELS
from training.settings import add_arguments, as_dict, from_arguments, setting
from training.teacher_head import HEAD_FILE, PassedSplit, TeacherHead, gtzan_clips, read_split, split_report
from training.teacher_pass import CACHE_DIR


@dataclasses.dataclass(frozen=True)
class DistillSettings:
    """The committed student's recipe; each field is a command-line option (``--field-name``)."""

    seed: int = setting(1234, "every random choice: weights, batches, masks, mixup")
    epochs: int = setting(16, "upper bound; the epoch with the best valid per-clip accuracy is kept")
    batch_size: int = setting(64, "segments per step")
    learning_rate: float = setting(2e-3, "Adam, with cosine decay to 5 % of it")
    width: int = setting(24, "filters in the first conv block (blocks: 1, 2, 4, 4 times it); 24 keeps requests fast")
    dropout: float = setting(0.2, "before the output layers")
    l2: float = setting(1e-4, "weight decay on the last conv and the output layers")
    n_mfcc: int = setting(20, "MFCC coefficients the student hears (the cache holds 40)")
    temperature: float = setting(1.0, "softens the calibrated teacher head's genre probabilities (logits / T)")
    label_weight: float = setting(0.5, "share of the true label in a GTZAN train segment's genre target")
    tag_weight: float = setting(1.0, "weight of the tag loss beside the genre loss")
    transfer_weight: float = setting(0.5, "total weight of the transfer music relative to GTZAN train's")
    mixup_alpha: float = setting(0.4, "Beta(a, a) mixing of segment pairs and their targets; 0 turns mixup off")
    time_masks: int = setting(2, "masked time stripes per segment, each up to 12 frames")
    coeff_masks: int = setting(1, "masked coefficient stripes per segment, each up to 3 coefficients")
    cell_masks: float = setting(0.3, "each segment loses a U(0, this) fraction of single cells")
    transfer: bool = setting(True, "train on the transfer music too (off: GTZAN train alone)")
    between: bool = setting(False, "also the transfer tracks' 'between' view (teacher_pass --music-views ...)")
    ema: float = setting(0.0, "> 0: evaluate and keep a moving average of the weights (this momentum per step)")


@dataclasses.dataclass(frozen=True)
class DistillData:
    """Training segments with their targets.

    Attributes
    ----------
    inputs : (n, frames, n_mfcc, 1) float32, not normalised.
    genre_targets : (n, n_genres) rows summing to 1; tag_targets : (n, n_tags) in [0, 1].
    weights : (n,) mean 1.
    """

    inputs: np.ndarray
    genre_targets: np.ndarray
    tag_targets: np.ndarray
    weights: np.ndarray


def student_inputs(passed: PassedSplit, *, n_mfcc: int) -> np.ndarray:
    """(n, frames, n_mfcc, 1) float32 from the cache's (n, frames, 40) float16."""
    return passed.mfcc[:, :, :n_mfcc, np.newaxis].astype(np.float32)


def item_weights(item_index: np.ndarray, *, total: float) -> np.ndarray:
    """(n,) weights ~ 1 / sqrt(segments in the item), summing to ``total``: long items do not drown short ones."""
    sizes = np.bincount(item_index)[item_index].astype(np.float64)
    weights = 1.0 / np.sqrt(sizes)
    return weights * total / weights.sum()


def distill_data(
    train: PassedSplit, transfer: PassedSplit | None, *, head: TeacherHead, settings: DistillSettings
) -> DistillData:
    """Inputs, targets and weights of GTZAN train (labelled) and the transfer music (teacher only)."""
    genres = head.genres
    labels = np.array([genres.index(train.genres[i]) for i in train.item_index])
    teacher = head.probabilities(train.tags, train.penultimate, temperature=settings.temperature)
    genre_targets = [
        settings.label_weight * np.eye(len(genres), dtype=np.float32)[labels] + (1.0 - settings.label_weight) * teacher
    ]
    class_mass = np.bincount(labels, weights=item_weights(train.item_index, total=1.0), minlength=len(genres))
    train_weights = item_weights(train.item_index, total=1.0) / np.maximum(class_mass[labels], 1e-9) / len(genres)
    weights = [train_weights * train_weights.size]  # GTZAN train: total weight = its segment count
    inputs, tags = [student_inputs(train, n_mfcc=settings.n_mfcc)], [train.tags.astype(np.float32)]
    if transfer is not None:
        inputs.append(student_inputs(transfer, n_mfcc=settings.n_mfcc))
        tags.append(transfer.tags.astype(np.float32))
        genre_targets.append(head.probabilities(transfer.tags, transfer.penultimate, temperature=settings.temperature))
        weights.append(item_weights(transfer.item_index, total=settings.transfer_weight * train_weights.size))
    weights = np.concatenate(weights)
    return DistillData(
        inputs=np.concatenate(inputs),
        genre_targets=np.concatenate(genre_targets).astype(np.float32),
        tag_targets=np.concatenate(tags),
        weights=(weights / weights.mean()).astype(np.float32),
    )


def make_batches(inputs: np.ndarray, data: DistillData, *, settings: DistillSettings):
    """A keras PyDataset: shuffled, masked, mixed batches of (input, (genre target, tag target), weights)."""
    import keras

    from training.train import mixup, spec_augment

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(settings.seed)
            self.order = self.rng.permutation(inputs.shape[0])

        def __len__(self):
            return int(np.ceil(inputs.shape[0] / settings.batch_size))

        def on_epoch_end(self):
            self.order = self.rng.permutation(inputs.shape[0])

        def __getitem__(self, index):
            rows = np.sort(self.order[index * settings.batch_size : (index + 1) * settings.batch_size])
            x = spec_augment(
                inputs[rows],
                rng=self.rng,
                time_masks=settings.time_masks,
                coeff_masks=settings.coeff_masks,
                cell_masks=settings.cell_masks,
            )
            targets = (data.genre_targets[rows], data.tag_targets[rows])
            x, targets, w = mixup(x, targets, data.weights[rows], alpha=settings.mixup_alpha, rng=self.rng)
            return x, targets, (w, w)

    return Batches()


def train_student(
    data: DistillData,
    valid: PassedSplit,
    *,
    clips: dict,
    genres: tuple[str, ...],
    n_tags: int,
    settings: DistillSettings,
    log=print,
):
    """Fit the two-head student; keep the epoch with the best per-clip valid accuracy.

    Returns
    -------
    (keras.Model, mean (n_mfcc, 1), std (n_mfcc, 1), history dict)
    """
    import keras

    from model.network import GENRE_OUTPUT, TAG_OUTPUT, build_genre_cnn
    from training.train import adam_with_average

    keras.utils.set_random_seed(settings.seed)
    mean = data.inputs.mean(axis=(0, 1)).astype(np.float32)
    std = (data.inputs.std(axis=(0, 1)) + 1e-6).astype(np.float32)
    train_x = (data.inputs - mean) / std
    valid_x = (student_inputs(valid, n_mfcc=settings.n_mfcc) - mean) / std
    network = build_genre_cnn(
        input_shape=train_x.shape[1:],
        n_genres=len(genres),
        n_tags=n_tags,
        width=settings.width,
        dropout=settings.dropout,
        l2=settings.l2,
    )
    batches = make_batches(train_x, data, settings=settings)
    schedule = keras.optimizers.schedules.CosineDecay(
        settings.learning_rate, len(batches) * settings.epochs, alpha=0.05
    )
    optimizer, swap = adam_with_average(schedule, ema=settings.ema)
    network.compile(
        optimizer=optimizer,
        loss={GENRE_OUTPUT: keras.losses.CategoricalCrossentropy(), TAG_OUTPUT: keras.losses.BinaryCrossentropy()},
        loss_weights={GENRE_OUTPUT: 1.0, TAG_OUTPUT: settings.tag_weight},
    )
    history = {"valid_clip_accuracy": [], "loss": []}
    best = {"accuracy": -1.0, "epoch": 0, "weights": None}

    class ChooseOnValid(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            probabilities = network.predict(valid_x, batch_size=256, verbose=0)[0]
            accuracy = split_report(probabilities, valid, clips, genres)["all"]["accuracy"]
            history["valid_clip_accuracy"].append(accuracy)
            history["loss"].append(float(logs.get("loss", float("nan"))))
            if accuracy > best["accuracy"]:
                best.update(accuracy=accuracy, epoch=epoch + 1, weights=network.get_weights())
            log(
                f"epoch {epoch + 1:3d}/{settings.epochs}  loss {logs.get('loss', float('nan')):.4f}  "
                f"valid per-clip accuracy {accuracy:.3f}  (best {best['accuracy']:.3f} @ {best['epoch']})"
            )

    network.fit(batches, epochs=settings.epochs, verbose=0, callbacks=[*swap, ChooseOnValid()])
    network.set_weights(best["weights"])
    history["best_epoch"], history["best_valid_clip_accuracy"] = best["epoch"], best["accuracy"]
    return network, mean, std, history


def main(argv: list[str] | None = None) -> int:
    from model.artifact import DEFAULT_MODEL_PATH

    parser = argparse.ArgumentParser(prog="python -m training.distill", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="GTZAN folder (../shared/gtzan or a full download)")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="the teacher pass's outputs")
    parser.add_argument("--head", type=Path, default=HEAD_FILE, help="the teacher head from training.teacher_head")
    parser.add_argument("--out", type=Path, default=None, help="model file (default: the committed model)")
    parser.add_argument("--smoke", action="store_true", help="two epochs, for tests")
    add_arguments(parser, DistillSettings)
    args = parser.parse_args(argv)
    settings = from_arguments(DistillSettings, args)
    if args.smoke:
        settings = dataclasses.replace(settings, epochs=min(settings.epochs, 2), width=8)
    out = args.out or DEFAULT_MODEL_PATH
    started = time.time()
    head = TeacherHead.from_dict(json.loads(args.head.read_text())["head"])
    clips, kinds, genres = gtzan_clips(args.data)
    if genres != head.genres:
        print(f"error: the teacher head's genres {head.genres} differ from the data's {genres}", file=sys.stderr)
        return 2
    train = read_split(args.cache, "train", kinds=kinds)
    valid = read_split(args.cache, "valid", kinds=kinds, views=("clean",))
    transfer = None
    if settings.transfer:
        tracks = {folder.name: (None, "track") for folder in (args.cache / "transfer").glob("*")}
        views = None if settings.between else ("clean", *CHANNELS)
        transfer = read_split(args.cache, "transfer", kinds=tracks, views=views) if tracks else None
    data = distill_data(train, transfer, head=head, settings=settings)
    print(
        f"{len(train.item_ids)} train clips ({train.tags.shape[0]} segments), "
        f"{len(transfer.item_ids) if transfer else 0} transfer tracks "
        f"({transfer.tags.shape[0] if transfer else 0} segments), {len(valid.item_ids)} valid clips; "
        f"ready in {time.time() - started:.0f} s",
        flush=True,
    )
    from training.data import data_summary
    from training.teacher import CREDIT, TAGS

    network, mean, std, history = train_student(
        data,
        valid,
        clips=clips,
        genres=genres,
        n_tags=len(TAGS),
        settings=settings,
        log=lambda line: print(line, flush=True),
    )
    save_student(
        network,
        out=out,
        mean=mean,
        std=std,
        genres=genres,
        tags=TAGS,
        settings=settings,
        history=history,
        summary={
            "data": args.data.name,
            "clips": data_summary(list(clips.values())),
            "teacher": CREDIT,
            "teacher_head": f"{head.kind}, C={head.c}",
            "train_clips": len(train.item_ids),
            "train_segments": int(train.tags.shape[0]),
            "transfer_tracks": len(transfer.item_ids) if transfer else 0,
            "transfer_segments": int(transfer.tags.shape[0]) if transfer else 0,
            "seconds": round(time.time() - started, 1),
            "smoke": bool(args.smoke),
        },
    )
    print(
        f"best valid per-clip accuracy {history['best_valid_clip_accuracy']:.3f} at epoch {history['best_epoch']}; "
        f"wrote {out} in {time.time() - started:.0f} s",
        flush=True,
    )
    return 0


def save_student(network, *, out: Path, mean, std, genres, tags, settings: DistillSettings, history, summary) -> None:
    """Write the student as the model artifact (weights and metadata)."""
    from model.artifact import ModelMetadata, save_artifact
    from model.features import DEFAULT_CONFIG

    metadata = ModelMetadata(
        genres=genres,
        features=dataclasses.replace(DEFAULT_CONFIG, n_mfcc=settings.n_mfcc),
        mean=mean,
        std=std,
        tags=tuple(tags),
        architecture="genre_cnn",
        training={
            **summary,
            "recipe": "training.distill",
            "settings": as_dict(settings),
            "best_epoch": history["best_epoch"],
        },
        metrics={"valid": {"clip_accuracy": round(history["best_valid_clip_accuracy"], 4), "chosen_on": "valid"}},
    )
    save_artifact(network, metadata, path=out)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
