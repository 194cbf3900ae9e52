"""Self-supervised pre-training of the CNN's convolutions on unlabelled music.

    python -m training.pretrain --audio ~/free-music --out runs/pretrained.keras
    python -m training.train --data ../shared/gtzan --init runs/pretrained.keras --out runs/x.keras

Contrastive, in the manner of COLA (Saeed et al., 2021) and SimCLR: two MFCC segments drawn at
random from the same track are a positive pair, the segments of the other tracks in the batch
are its negatives, and the NT-Xent loss pulls each pair together in a small projection space.
What a network learns this way is what stays the same across one piece of music (its
instruments, timbre, production), without any genre label. The convolutions and batch norms
are then copied into `training.train`'s network (``--init``, `training.train.copy_matching_weights`); the
projection head is dropped.

The music needs no labels and must not be GTZAN: the experiments used the free music of Debian's
game-music packages (training/EXPERIMENTS.md lists them). Files shorter than MIN_SECONDS (sound
effects, jingles) are skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from training.settings import add_arguments, from_arguments, setting
from training.train import Settings, spec_augment

MIN_SECONDS = 20.0  # shorter files are not music tracks
TRACK_SECONDS = 300.0  # at most this much of each track is read


@dataclasses.dataclass(frozen=True)
class PretrainSettings:
    """Each field is a command-line option (``--field-name``); the network's and the masks' are training's."""

    seed: int = setting(Settings.seed, "every random choice: weights, batches, views, masks")
    epochs: int = setting(10, "passes of steps_per_epoch batches")
    steps_per_epoch: int = setting(150, "batches per epoch")
    tracks_per_batch: int = setting(64, "each gives a positive pair; the other tracks' segments are the negatives")
    learning_rate: float = setting(1e-3, "Adam, with cosine decay to 5 % of it")
    temperature: float = setting(0.1, "of the NT-Xent loss")
    projection: int = setting(64, "size of the projection space the loss works in")
    width: int = setting(Settings.width, "filters in the first conv block: the network the weights go to")
    time_masks: int = setting(Settings.time_masks, "SpecAugment time stripes on each view, as in training")
    coeff_masks: int = setting(Settings.coeff_masks, "SpecAugment coefficient stripes on each view, as in training")
    cell_masks: float = setting(Settings.cell_masks, "scattered cell masks on each view, as in training")


def find_tracks(folders: Sequence[Path]) -> list[Path]:
    """Audio files under ``folders`` (recursively), sorted."""
    from training.data import AUDIO_SUFFIXES

    paths = {
        path
        for folder in folders
        for path in Path(folder).rglob("*")
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES
    }
    return sorted(paths)


def track_mfcc(
    path: Path, *, config, min_seconds: float = MIN_SECONDS, max_seconds: float = TRACK_SECONDS
) -> np.ndarray | None:
    """MFCC of one track as inference computes it: (frames, n_mfcc) float32, or None when the
    file cannot be decoded or is shorter than ``min_seconds``."""
    from model.audio import load_audio
    from model.errors import AudioInputError
    from model.features import mfcc, normalise_loudness

    try:
        decoded = load_audio(str(path), max_seconds=max_seconds)
    except AudioInputError:
        return None
    if decoded.samples.shape[0] < min_seconds * config.sample_rate:
        return None
    samples = normalise_loudness(decoded.samples, target_rms_dbfs=config.target_rms_dbfs)
    return mfcc(samples, config=config).astype(np.float32)


def sample_views(
    tracks: Sequence[np.ndarray], *, rng: np.random.Generator, n_tracks: int, frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Two segments from each of ``n_tracks`` distinct random tracks.

    Parameters
    ----------
    tracks : each (track_frames, n_mfcc), track_frames >= frames.

    Returns
    -------
    (first, second), each (n_tracks, frames, n_mfcc, 1) float32: row i of both comes from the
    same track, at independent random offsets.
    """
    chosen = rng.choice(len(tracks), size=min(n_tracks, len(tracks)), replace=False)
    views = []
    for _ in range(2):
        rows = []
        for index in chosen:
            track = tracks[index]
            start = int(rng.integers(0, track.shape[0] - frames + 1))
            rows.append(track[start : start + frames])
        views.append(np.stack(rows)[..., np.newaxis].astype(np.float32))
    return views[0], views[1]


def nt_xent(first, second, *, temperature: float):
    """NT-Xent loss of SimCLR for (n, d) embeddings whose rows i are positive pairs (a tf scalar)."""
    import tensorflow as tf

    z = tf.math.l2_normalize(tf.concat([first, second], axis=0), axis=1)
    n = tf.shape(first)[0]
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits = logits - 1e9 * tf.eye(2 * n)  # a segment is not its own negative
    targets = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))


def pretrain(
    tracks: Sequence[np.ndarray],
    *,
    config,
    settings: PretrainSettings,
    n_genres: int,
    log: Callable[[str], None] = print,
):
    """Contrastive training of `model.network.build_genre_cnn`'s convolutions.

    Parameters
    ----------
    tracks : MFCC of each track, (track_frames, n_mfcc) with track_frames >= config.frames_per_segment.

    Returns
    -------
    The genre network (its output layer untrained) whose conv and batch-norm layers hold the
    pre-trained weights, ready for `training.train`'s ``--init``.
    """
    import keras
    import tensorflow as tf

    from model.network import build_genre_cnn

    keras.utils.set_random_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    frames = np.concatenate(tracks)
    mean, std = frames.mean(axis=0), frames.std(axis=0) + 1e-6  # (n_mfcc,)
    network = build_genre_cnn(input_shape=config.input_shape, n_genres=n_genres, width=settings.width)
    encoder = keras.Model(network.inputs, network.get_layer("pool").output)
    projected = keras.layers.Dense(4 * settings.width, activation="relu", name="projection_hidden")(encoder.output)
    projected = keras.layers.Dense(settings.projection, name="projection")(projected)
    model = keras.Model(encoder.inputs, projected)
    steps = settings.epochs * settings.steps_per_epoch
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(settings.learning_rate, steps, alpha=0.05))

    @tf.function
    def step(first, second):
        with tf.GradientTape() as tape:
            loss = nt_xent(model(first, training=True), model(second, training=True), temperature=settings.temperature)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    def view(batch: np.ndarray) -> np.ndarray:
        normalised = (batch - mean[:, None]) / std[:, None]
        return spec_augment(
            normalised,
            rng=rng,
            time_masks=settings.time_masks,
            coeff_masks=settings.coeff_masks,
            cell_masks=settings.cell_masks,
        )

    started = time.time()
    for epoch in range(settings.epochs):
        losses = []
        for _ in range(settings.steps_per_epoch):
            first, second = sample_views(
                tracks, rng=rng, n_tracks=settings.tracks_per_batch, frames=config.frames_per_segment
            )
            losses.append(float(step(view(first), view(second))))
        log(
            f"epoch {epoch + 1:3d}/{settings.epochs}  contrastive loss {np.mean(losses):.4f}  "
            f"({time.time() - started:.0f} s)"
        )
    return network


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.pretrain", description=__doc__.split("\n")[0])
    parser.add_argument("--audio", type=Path, nargs="+", required=True, help="folders of unlabelled music")
    parser.add_argument("--out", type=Path, required=True, help="network file to write (.keras)")
    parser.add_argument("--max-tracks", type=int, default=None, help="use at most this many tracks (smoke runs)")
    add_arguments(parser.add_argument_group("settings"), PretrainSettings)
    args = parser.parse_args(argv)

    from model.features import FeatureConfig
    from model.runtime import import_tensorflow

    import_tensorflow()
    config = FeatureConfig()
    settings = from_arguments(PretrainSettings, args)
    paths = find_tracks(args.audio)[: args.max_tracks]
    started = time.time()
    tracks = [matrix for matrix in (track_mfcc(path, config=config) for path in paths) if matrix is not None]
    if len(tracks) < 2:
        print(
            f"error: fewer than 2 tracks of {MIN_SECONDS:g} s or more under {', '.join(map(str, args.audio))}",
            file=sys.stderr,
        )
        return 2
    hours = sum(track.shape[0] for track in tracks) * config.seconds_per_frame / 3600
    print(
        f"{len(tracks)} tracks of {len(paths)} files, {hours:.1f} h of audio, MFCC in {time.time() - started:.0f} s",
        flush=True,
    )
    # the output layer is neither trained here nor copied by --init, so its size does not matter
    network = pretrain(tracks, config=config, settings=settings, n_genres=10, log=lambda line: print(line, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    network.save(args.out)
    print(f"wrote {args.out} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
