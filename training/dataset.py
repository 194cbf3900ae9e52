"""Clips -> MFCC segments with labels, through the same decoding and features as inference.

Audio-level augmentations (pitch shift, time stretch, the real-world channels of `training.channels`,
snippet-like excerpts) are computed offline, once per clip, and cached under ``training/cache/`` with the features.
Splits are by clip: segments are cut after the split, so no clip has segments on both sides.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from model.audio import load_audio
from model.features import FeatureConfig, mfcc_segments
from training import channels
from training.data import Clip

CACHE_DIR = Path(__file__).resolve().parent / "cache"
CACHE_VERSION = 3  # bump when the segmentation changes without a FeatureConfig change (3: exact 3-s steps)
CHANNELS = ("noise", "lowpass", "mp3", "telephone")  # the real-world channels (also valid's degraded copies)
AUGMENTATIONS = ("pitch_up", "pitch_down", "stretch_fast", "stretch_slow", *CHANNELS, "excerpts")
EXCERPT_SECONDS = (2.0, 3.0)  # "excerpts": lengths of the snippet-like excerpts, like the data's 2-3 s snippets


@dataclasses.dataclass(frozen=True)
class SegmentSet:
    """Segments of many clips.

    Attributes
    ----------
    features : (n_segments, frames, n_mfcc, channels) float32, not normalised.
    labels : (n_segments,) int genre index.
    clip_index : (n_segments,) int index into ``clips``.
    clips : the clips, in the order ``clip_index`` refers to.
    """

    features: np.ndarray
    labels: np.ndarray
    clip_index: np.ndarray
    clips: tuple[Clip, ...]

    def clip_labels(self, genres: Sequence[str]) -> np.ndarray:
        """(n_clips,) genre index of each clip."""
        return np.array([genres.index(clip.genre) for clip in self.clips], dtype=np.int64)


def augment_audio(y: np.ndarray, *, kind: str, sample_rate: int, seed: int) -> np.ndarray:
    """One audio-level augmentation of mono audio (n_samples,) -> (m_samples,) float32."""
    import librosa

    rng = np.random.default_rng(seed)
    if kind == "pitch_up":
        return librosa.effects.pitch_shift(y, sr=sample_rate, n_steps=float(rng.uniform(1.0, 2.0)))
    if kind == "pitch_down":
        return librosa.effects.pitch_shift(y, sr=sample_rate, n_steps=-float(rng.uniform(1.0, 2.0)))
    if kind == "stretch_fast":
        return librosa.effects.time_stretch(y, rate=float(rng.uniform(1.08, 1.15)))
    if kind == "stretch_slow":
        return librosa.effects.time_stretch(y, rate=float(rng.uniform(0.87, 0.93)))
    if kind == "noise":
        return channels.add_noise(y, snr_db=float(rng.uniform(15.0, 30.0)), rng=rng)
    if kind == "lowpass":
        return channels.low_pass(y, cutoff_hz=float(rng.uniform(3000.0, 5000.0)), sample_rate=sample_rate, order=8)
    if kind == "mp3":
        level = float(rng.uniform(0.7, 1.0))
        coded, rate = channels.mp3_round_trip(y, sample_rate=sample_rate, compression_level=level)
        coded = coded if coded.ndim == 1 else coded.mean(axis=1)
        return librosa.resample(coded, orig_sr=rate, target_sr=sample_rate) if rate != sample_rate else coded
    if kind == "telephone":
        return channels.band_limit(y, narrow_rate=int(rng.choice([8000, 11025, 16000])), sample_rate=sample_rate)
    raise ValueError(f"unknown audio augmentation {kind!r}; expected one of {AUGMENTATIONS[:-1]}")


def excerpt_features(y: np.ndarray, *, config: FeatureConfig, seed: int) -> np.ndarray:
    """Snippet-like segments of one clip: random 2-3-s excerpts, each looped to one segment.

    Most test items are 2-3-s excerpts, which inference loops to fill a segment (see
    `model.features.fill_to_segment`); long clips otherwise only give the network whole 3-s windows.
    One excerpt per segment length of audio (at least one), at random offsets.

    Parameters
    ----------
    y : (n_samples,) mono audio at ``config.sample_rate``.

    Returns
    -------
    (n_excerpts, frames, n_mfcc, channels) float32, as `mfcc_segments` computes them.
    """
    rng = np.random.default_rng(seed)
    count = max(1, int(y.shape[0] // config.segment_samples))
    pieces = []
    for _ in range(count):
        length = min(y.shape[0], int(rng.uniform(*EXCERPT_SECONDS) * config.sample_rate))
        start = int(rng.integers(0, y.shape[0] - length + 1))
        pieces.append(mfcc_segments(y[start : start + length], config=config).features[:1])
    return np.concatenate(pieces)


def _config_key(config: FeatureConfig) -> str:
    key = {**config.to_dict(), "cache_version": CACHE_VERSION}
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]


def _clip_features(task: tuple[Clip, str, FeatureConfig, Path | None]) -> np.ndarray:
    """Features of one clip and variant ("clean" or an augmentation), cached on disk."""
    clip, variant, config, cache_dir = task
    cache_file = None
    if cache_dir is not None:
        cache_file = cache_dir / _config_key(config) / variant / f"{clip.clip_id}.npy"
        if cache_file.is_file():
            return np.load(cache_file)
    samples = load_audio(clip.path).samples
    seed = int(hashlib.sha1(f"{clip.clip_id}/{variant}".encode()).hexdigest()[:8], 16)
    if variant == "excerpts":
        features = excerpt_features(samples, config=config, seed=seed)
    else:
        if variant != "clean":
            samples = augment_audio(samples, kind=variant, sample_rate=config.sample_rate, seed=seed)
        features = mfcc_segments(samples, config=config).features
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, features)
    return features


def build_segments(
    clips: Sequence[Clip],
    *,
    genres: Sequence[str],
    config: FeatureConfig,
    variants: Sequence[str] = ("clean",),
    cache_dir: Path | None = CACHE_DIR,
    workers: int = 2,
) -> SegmentSet:
    """Decode every clip (and each augmented variant) and cut it into labelled segments.

    Parameters
    ----------
    clips : the clips of one split.
    genres : class order (index = label).
    variants : "clean" and/or names from AUGMENTATIONS; each adds a full copy of the clips.

    Returns
    -------
    SegmentSet; augmented segments keep their clip's index, so per-clip evaluation
    must use the clean variant alone.
    """
    tasks = [(clip, variant, config, cache_dir) for variant in variants for clip in clips]
    if workers > 1 and len(tasks) > 4:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            arrays = list(pool.map(_clip_features, tasks, chunksize=4))
    else:
        arrays = [_clip_features(task) for task in tasks]
    index_of = {clip.clip_id: position for position, clip in enumerate(clips)}
    labels, clip_index = [], []
    for (clip, _, _, _), array in zip(tasks, arrays):
        labels.append(np.full(array.shape[0], genres.index(clip.genre), dtype=np.int64))
        clip_index.append(np.full(array.shape[0], index_of[clip.clip_id], dtype=np.int64))
    return SegmentSet(
        features=np.concatenate(arrays).astype(np.float32),
        labels=np.concatenate(labels),
        clip_index=np.concatenate(clip_index),
        clips=tuple(clips),
    )


def per_clip_probabilities(
    segment_probabilities: np.ndarray, clip_index: np.ndarray, *, n_clips: int, method: str = "mean"
) -> np.ndarray:
    """Aggregate segment probabilities (n_segments, n_genres) into (n_clips, n_genres)."""
    from model.classifier import aggregate

    return np.stack([aggregate(segment_probabilities[clip_index == clip], method=method) for clip in range(n_clips)])
