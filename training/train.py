"""Train the genre CNN on GTZAN's artist-filtered `train` split, choose the epoch on `valid`.

    python -m training.train --data ../shared/gtzan            # the committed model
    python -m training.train --data ~/GTZAN/genres_original    # a full GTZAN download
    python -m training.train --data ../shared/gtzan --smoke --out /tmp/smoke.keras

Writes ``<out>.keras`` and ``<out>.json`` (the metadata contract, see model/artifact.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from training.settings import add_arguments, as_dict, from_arguments, setting

if TYPE_CHECKING:
    from model.features import FeatureConfig

SMOKE_CLIPS_PER_GENRE = 1  # --smoke: clips per genre and split


@dataclasses.dataclass(frozen=True)
class Settings:
    """The committed model's recipe; each field is a command-line option (``--field-name``)."""

    seed: int = setting(1234, "every random choice: weights, batches, masks, mixup")
    epochs: int = setting(24, "upper bound; the epoch with the best valid score is kept")
    batch_size: int = setting(32, "segments per step")
    learning_rate: float = setting(1e-3, "Adam, with cosine decay to 5 % of it")
    width: int = setting(24, "filters in the first conv block (as accurate on valid as 32 or 48, half the work of 32)")
    dropout: float = setting(0.3, "before the output layer")
    l2: float = setting(1e-4, "weight decay on the last conv and the output layer")
    label_smoothing: float = setting(0.1, "softens one-hot targets: GTZAN labels are noisy")
    mixup_alpha: float = setting(0.2, "Beta(a, a) mixing of segment pairs; 0 turns mixup off")
    time_masks: int = setting(2, "SpecAugment: masked time stripes per segment, each up to 12 frames")
    coeff_masks: int = setting(1, "SpecAugment: masked coefficient stripes per segment, each up to 3 wide")
    cell_masks: float = setting(0.3, "each training segment loses a U(0, this) fraction of single cells")
    augment: tuple[str, ...] = setting(
        ("noise", "lowpass", "mp3", "telephone"), "offline copies of each training clip through real-world channels"
    )
    clip_balance: float = setting(0.5, "segment weight ~ 1 / segments_in_clip ** this: long clips don't drown snippets")
    class_balance: bool = setting(True, "every genre weighs the same in total")
    choose_on: Literal["clean", "robust"] = setting(
        "robust", "epoch choice: clean valid accuracy, or its mean with valid through augment's channels"
    )
    ema: float = setting(0.0, "> 0: choose from a moving average of the weights (this momentum per step)")
    train_hop_seconds: float = setting(1.5, "training segments start this far apart (half a segment): twice the data")
    architecture: Literal["genre_cnn", "seed"] = setting("genre_cnn", "our network, or the seed project's CNN")
    init: str = setting("", "a network of `python -m training.pretrain` whose conv and batch-norm weights start this")


def training_features(config: FeatureConfig, *, hop_seconds: float = Settings.train_hop_seconds) -> FeatureConfig:
    """The FeatureConfig that training segments are cut with: the model's, ``hop_seconds`` apart."""
    return dataclasses.replace(config, segment_hop_seconds=hop_seconds)


def robust_score(clean: float, degraded: Sequence[float]) -> float:
    """The `--choose-on robust` score: the mean of the clean accuracy and the mean accuracy over the
    degraded copies (the clean accuracy alone when there are none)."""
    return clean if len(degraded) == 0 else (clean + float(np.mean(degraded))) / 2


def copy_matching_weights(*, source, target, skip: Sequence[str] = ("genre",)) -> list[str]:
    """Copy the weights of layers with the same name and shapes from ``source`` to ``target``.

    Returns the names of the layers copied (the output layer ``genre`` is never copied).
    """
    copied = []
    for layer in target.layers:
        if layer.name in skip or not layer.weights:
            continue
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        weights = other.get_weights()
        if [w.shape for w in weights] == [w.shape for w in layer.get_weights()]:
            layer.set_weights(weights)
            copied.append(layer.name)
    return copied


def segment_weights(
    labels: np.ndarray, clip_index: np.ndarray, *, n_genres: int, clip_balance: float, class_balance: bool
) -> np.ndarray:
    """Per-segment weights (n_segments,), mean 1: down-weight segments of long clips, balance genres."""
    per_clip = np.bincount(clip_index)
    weights = 1.0 / per_clip[clip_index].astype(np.float64) ** clip_balance
    if class_balance:
        mass = np.bincount(labels, weights=weights, minlength=n_genres)
        weights = weights / np.maximum(mass[labels], 1e-9)
    return (weights / weights.mean()).astype(np.float32)


def spec_augment(
    batch: np.ndarray, *, rng: np.random.Generator, time_masks: int, coeff_masks: int, cell_masks: float = 0.0
) -> np.ndarray:
    """SpecAugment-style masks on normalised inputs (n, frames, n_mfcc, channels): masked cells become 0 (the mean).

    Stripes: ``time_masks`` time stripes of up to 12 frames and ``coeff_masks`` coefficient stripes of
    up to 3 coefficients per segment. Scattered cells: each segment also loses a fraction drawn from
    U(0, ``cell_masks``) of single cells, so that a network does not read isolated missing cells as a
    signal (the random control of the deletion test in training/faithfulness.py masks such cells).
    """
    batch = batch.copy()
    n, frames, coeffs, _ = batch.shape
    if cell_masks > 0:
        rates = rng.uniform(0.0, cell_masks, size=(n, 1, 1))
        batch[rng.random((n, frames, coeffs)) < rates] = 0.0
    for item in range(n):
        for _ in range(time_masks):
            width = int(rng.integers(0, 13))
            start = int(rng.integers(0, max(1, frames - width)))
            batch[item, start : start + width] = 0.0
        for _ in range(coeff_masks):
            width = int(rng.integers(0, 4))
            start = int(rng.integers(1, max(2, coeffs - width)))
            batch[item, :, start : start + width] = 0.0
    return batch


def mixup(
    x: np.ndarray, targets: tuple[np.ndarray, ...], weights: np.ndarray, *, alpha: float, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray]:
    """Mix each segment of a batch with a random partner: inputs (n, ...), every (n, k) target and the (n,) weights
    by the same Beta(alpha, alpha) share, the first segment dominant. ``alpha`` 0 returns them unchanged."""
    if alpha <= 0:
        return x, targets, weights
    lam = rng.beta(alpha, alpha, size=(x.shape[0], 1)).astype(np.float32)
    lam = np.maximum(lam, 1.0 - lam)
    partner = rng.permutation(x.shape[0])
    x_lam = lam.reshape(-1, *([1] * (x.ndim - 1)))
    mixed = tuple(lam * target + (1.0 - lam) * target[partner] for target in targets)
    return x_lam * x + (1.0 - x_lam) * x[partner], mixed, lam[:, 0] * weights + (1.0 - lam[:, 0]) * weights[partner]


def make_batches(inputs, targets, weights, *, settings: Settings, n_genres: int):
    """A keras PyDataset that shuffles, masks and mixes the training segments every epoch."""
    import keras

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
            rows = self.order[index * settings.batch_size : (index + 1) * settings.batch_size]
            x = spec_augment(
                inputs[rows],
                rng=self.rng,
                time_masks=settings.time_masks,
                coeff_masks=settings.coeff_masks,
                cell_masks=settings.cell_masks,
            )
            y = np.eye(n_genres, dtype=np.float32)[targets[rows]]
            x, (y,), w = mixup(x, (y,), weights[rows], alpha=settings.mixup_alpha, rng=self.rng)
            return x, y, w

    return Batches()


def clip_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of clips (n_clips, n_genres) whose top genre is the label (n_clips,)."""
    return float(np.mean(np.argmax(probabilities, axis=1) == labels)) if labels.size else float("nan")


def train_network(train, valid, *, genres, config, settings: Settings, degraded_valid=(), log=print):
    """Fit a network on ``train`` segments; keep the epoch with the best per-clip valid score.

    The score is the clean per-clip valid accuracy; with ``degraded_valid`` it is the mean of
    that and the mean accuracy over the degraded copies, so that the chosen epoch also holds
    up on recordings that went through a phone, a lossy codec or a noisy room.

    Parameters
    ----------
    train, valid : training.dataset.SegmentSet; ``valid`` holds the clean variant only.
    degraded_valid : SegmentSets of the same valid clips through one augmentation each.

    Returns
    -------
    (keras.Model with the chosen weights, mean (n_mfcc, channels), std (n_mfcc, channels), history dict)
    """
    import keras

    from model.network import build_genre_cnn
    from training.baseline import build_seed_cnn
    from training.dataset import per_clip_probabilities

    keras.utils.set_random_seed(settings.seed)
    mean = train.features.mean(axis=(0, 1)).astype(np.float32)
    std = (train.features.std(axis=(0, 1)) + 1e-6).astype(np.float32)
    train_x = (train.features - mean) / std
    valid_x = (valid.features - mean) / std
    degraded_x = [(copy.features - mean) / std for copy in degraded_valid]
    n_genres = len(genres)
    weights = segment_weights(
        train.labels,
        train.clip_index,
        n_genres=n_genres,
        clip_balance=settings.clip_balance,
        class_balance=settings.class_balance,
    )
    if settings.architecture == "seed":
        network = build_seed_cnn(input_shape=config.input_shape, n_genres=n_genres)
    else:
        network = build_genre_cnn(
            input_shape=config.input_shape,
            n_genres=n_genres,
            width=settings.width,
            dropout=settings.dropout,
            l2=settings.l2,
        )
    if settings.init:
        copied = copy_matching_weights(source=keras.saving.load_model(settings.init, compile=False), target=network)
        log(f"started from {settings.init}: {len(copied)} layers ({', '.join(copied)})")
    batches = make_batches(train_x, train.labels, weights, settings=settings, n_genres=n_genres)
    steps = max(1, len(batches) * settings.epochs)
    schedule = keras.optimizers.schedules.CosineDecay(settings.learning_rate, steps, alpha=0.05)
    optimizer, swap = adam_with_average(schedule, ema=settings.ema)
    network.compile(
        optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing)
    )
    valid_labels = valid.clip_labels(genres)
    history = {"valid_clip_accuracy": [], "degraded_valid_clip_accuracy": [], "loss": []}
    best = {"score": -1.0, "accuracy": -1.0, "epoch": 0, "weights": None}

    def accuracy_of(inputs, segments) -> float:
        segment_p = network.predict(inputs, batch_size=256, verbose=0)
        return clip_accuracy(
            per_clip_probabilities(segment_p, segments.clip_index, n_clips=len(segments.clips)), valid_labels
        )

    class ChooseOnValid(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            accuracy = accuracy_of(valid_x, valid)
            degraded = [accuracy_of(inputs, copy) for inputs, copy in zip(degraded_x, degraded_valid)]
            score = robust_score(accuracy, degraded)
            history["valid_clip_accuracy"].append(accuracy)
            history["degraded_valid_clip_accuracy"].append(float(np.mean(degraded)) if degraded else None)
            history["loss"].append(float(logs.get("loss", float("nan"))))
            if score > best["score"]:
                best.update(score=score, accuracy=accuracy, epoch=epoch + 1, weights=network.get_weights())
            robust = f"  degraded {np.mean(degraded):.3f}  score {score:.3f}" if degraded else ""
            log(
                f"epoch {epoch + 1:3d}/{settings.epochs}  loss {logs.get('loss', float('nan')):.4f}  "
                f"valid per-clip accuracy {accuracy:.3f}{robust}  (best {best['score']:.3f} @ {best['epoch']})"
            )

    network.fit(batches, epochs=settings.epochs, verbose=0, callbacks=[*swap, ChooseOnValid()])
    network.set_weights(best["weights"])
    history["best_epoch"] = best["epoch"]
    history["best_valid_clip_accuracy"] = best["accuracy"]
    history["best_valid_score"] = best["score"]
    return network, mean, std, history


def adam_with_average(schedule, *, ema: float):
    """Adam on ``schedule`` and the callbacks that go first in ``fit``.

    With ``ema`` > 0 the optimizer keeps a moving average of the weights (this momentum per step), and the
    callback swaps it in at each epoch's end, before the callbacks after it read the network (and back
    at the next epoch's start): what is evaluated on valid, and kept, is the average. With 0: plain Adam.

    Returns
    -------
    (keras.optimizers.Adam, list of callbacks)
    """
    import keras

    if ema <= 0:
        return keras.optimizers.Adam(schedule), []
    return keras.optimizers.Adam(schedule, use_ema=True, ema_momentum=ema), [
        keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
    ]


def smoke_subset(clips, *, per_genre: int = SMOKE_CLIPS_PER_GENRE):
    """A few clips per genre and split, shortest kinds first, for a run of seconds."""
    chosen, seen = [], {}
    for clip in sorted(clips, key=lambda c: (c.kind != "snippet", c.clip_id)):
        key = (clip.split, clip.genre)
        if seen.get(key, 0) < per_genre:
            chosen.append(clip)
            seen[key] = seen.get(key, 0) + 1
    return chosen


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="GTZAN folder (full download or ../shared/gtzan)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="model file to write (default: model/genre_cnn.keras; with --smoke: runs/smoke.keras)",
    )
    parser.add_argument("--smoke", action="store_true", help="whole path on a few clips, one epoch, no augmentation")
    parser.add_argument("--no-cache", action="store_true", help="recompute features instead of reading training/cache")
    add_arguments(parser.add_argument_group("settings (the committed model's recipe by default)"), Settings)
    features = parser.add_argument_group("feature experiments (default: model/features.py)")
    features.add_argument("--n-mfcc", type=int, default=None)
    features.add_argument("--segment-seconds", type=float, default=None)
    features.add_argument("--hop-seconds", type=float, default=None, help="between segment starts at inference")
    return parser.parse_args(argv)


def config_from_args(args):
    from model.features import FeatureConfig

    overrides = {
        "n_mfcc": args.n_mfcc,
        "segment_seconds": args.segment_seconds,
        "segment_hop_seconds": args.hop_seconds,
    }
    return FeatureConfig(**{name: value for name, value in overrides.items() if value is not None})


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    from model.artifact import DEFAULT_MODEL_PATH, ModelMetadata, save_artifact
    from training.data import data_summary, discover_clips, genre_names
    from training.dataset import AUGMENTATIONS, CACHE_DIR, CHANNELS, build_segments

    settings = from_arguments(Settings, args)
    unknown = [name for name in settings.augment if name not in AUGMENTATIONS]
    if unknown:
        print(f"error: unknown augmentation {', '.join(unknown)}; known: {', '.join(AUGMENTATIONS)}", file=sys.stderr)
        return 2
    config = config_from_args(args)
    clips = discover_clips(args.data)
    genres = genre_names(clips)
    if args.smoke:
        clips = smoke_subset(clips)
        settings = dataclasses.replace(settings, epochs=1, augment=())
    out = args.out or (Path("runs/smoke.keras") if args.smoke else DEFAULT_MODEL_PATH)
    train_clips = [clip for clip in clips if clip.split == "train"]
    valid_clips = [clip for clip in clips if clip.split == "valid"]
    if not train_clips or not valid_clips:
        print(f"error: {args.data} has no train or no valid clips", file=sys.stderr)
        return 2
    print(f"{len(train_clips)} train clips, {len(valid_clips)} valid clips, genres: {', '.join(genres)}", flush=True)
    cache = None if args.no_cache else CACHE_DIR
    train = build_segments(
        train_clips,
        genres=genres,
        config=training_features(config, hop_seconds=settings.train_hop_seconds),
        variants=("clean", *settings.augment),
        cache_dir=cache,
    )
    valid = build_segments(valid_clips, genres=genres, config=config, cache_dir=cache)
    degraded_valid = []
    if settings.choose_on == "robust":
        degraded_valid = [
            build_segments(valid_clips, genres=genres, config=config, variants=(variant,), cache_dir=cache)
            for variant in settings.augment
            if variant in CHANNELS
        ]
    print(
        f"features ready in {time.time() - started:.0f} s: {train.features.shape[0]} train segments "
        f"({len(settings.augment)} augmented copies), {valid.features.shape[0]} valid segments",
        flush=True,
    )
    network, mean, std, history = train_network(
        train,
        valid,
        genres=genres,
        config=config,
        settings=settings,
        degraded_valid=degraded_valid,
        log=lambda line: print(line, flush=True),
    )
    metadata = ModelMetadata(
        genres=genres,
        features=config,
        mean=mean,
        std=std,
        architecture=settings.architecture,
        training={
            "data": str(args.data.name),
            "clips": data_summary(clips),
            "settings": as_dict(settings),
            "best_epoch": history["best_epoch"],
            "seconds": round(time.time() - started, 1),
            "smoke": bool(args.smoke),
        },
        metrics={
            "valid": {
                "clip_accuracy": round(history["best_valid_clip_accuracy"], 4),
                "clips": len(valid_clips),
                "chosen_on": "valid",
                "epoch_score": settings.choose_on,
                "score": round(history["best_valid_score"], 4),
            }
        },
    )
    save_artifact(network, metadata, path=out)
    print(
        f"best valid per-clip accuracy {history['best_valid_clip_accuracy']:.3f} at epoch "
        f"{history['best_epoch']}; wrote {out} and {out.with_suffix('.json')} "
        f"in {time.time() - started:.0f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
