"""In-process measures: the floor, our classifier with and without Grad-CAM, and the seed's pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.timing import Timing, measure_rounds
from model.audio import load_audio
from model.features import HOP_LENGTH, N_FFT, N_MFCC, SAMPLE_RATE, SEGMENT_SAMPLES, mfcc_segments


def floor(path: Path, *, config) -> int:
    """Decode + MFCC of every segment: the work no classifier can skip. Returns the segment count."""
    decoded = load_audio(str(path))
    return mfcc_segments(decoded.samples, config=config).features.shape[0]


def classify_and_explain(classifier, path: Path) -> np.ndarray:
    """What the app computes for one upload: the classification and a heatmap per segment."""
    return classifier.explain(classifier.classify(str(path)))


SEED_SEGMENT_SECONDS = 6.0  # the seed cut a 30-s clip into 5 segments of 6 s
SEED_N_MFCC = 13  # and kept 13 coefficients


def seed_pipeline(
    path: Path, *, model_path: Path, segment_seconds: float = SEED_SEGMENT_SECONDS, n_mfcc: int = SEED_N_MFCC
) -> np.ndarray:
    """The seed project's request, rebuilt faithfully as a baseline.

    ``librosa.load`` at 22050 Hz; one ``librosa.feature.mfcc`` call per non-overlapping slice
    (6 s, 13 coefficients, as the seed); the model read from disk on every request, then
    ``model.predict``. Its input is not normalised (the seed did not normalise); only its cost
    matters here. Returns the (n_genres,) mean of the slices' probabilities.
    """
    import keras
    import librosa

    signal, rate = librosa.load(str(path), sr=SAMPLE_RATE)
    length = round(segment_seconds * rate)
    slices = [signal[start : start + length] for start in range(0, len(signal) - length + 1, length)]
    segments = [
        librosa.feature.mfcc(y=piece, sr=rate, n_mfcc=n_mfcc, n_fft=N_FFT, hop_length=HOP_LENGTH).T for piece in slices
    ]
    model = keras.saving.load_model(model_path)
    outputs = model.predict(np.array(segments)[..., np.newaxis], verbose=0)
    genres = outputs[0] if len(model.outputs) > 1 else outputs  # a network with a tag head: its genre output
    return genres.mean(axis=0)


def save_seed_network(out: Path, *, n_genres: int) -> Path:
    """The seed's network (`training.baseline.build_seed_cnn`, 6-s slices of 13 MFCC) saved as .keras.

    Untrained: the benchmark times loading and running it, which its weights do not change.
    """
    from training.baseline import build_seed_cnn

    frames = 1 + round(SEED_SEGMENT_SECONDS * SAMPLE_RATE) // HOP_LENGTH
    build_seed_cnn(input_shape=(frames, SEED_N_MFCC, 1), n_genres=n_genres).save(out)
    return out


def measure_pipeline(
    classifier,
    recordings: dict[str, Path],
    *,
    model_path: Path,
    seed_model_path: Path,
    repeats: int,
    seed_repeats: int,
    floor_only: dict[str, Path] | None = None,
) -> dict[str, dict[str, Timing | int]]:
    """Every in-process measure on every recording, timed in rounds (see `measure_rounds`).

    ``seed_model_path`` is the seed's network (`save_seed_network`); ``model_path`` ours.

    ``floor_only`` recordings (other encodings of the same music) get the floor measure only.
    """
    config = classifier.metadata.features
    calls, results = {}, {}
    for key, path in (floor_only or {}).items():
        results[key] = {}
        calls[(key, "floor")] = lambda path=path: floor(path, config=config)
    for key, path in recordings.items():
        result = classifier.classify(str(path))
        results[key] = {"segments": int(result.starts.shape[0])}
        one = result.segment_range(0, 1)
        calls.update(
            {
                (key, "floor"): lambda path=path: floor(path, config=config),
                (key, "classify"): lambda path=path: classifier.classify(str(path)),
                (key, "classify_gradcam"): lambda path=path: classify_and_explain(classifier, path),
                # the call before this one classified the same recording, as in the app
                (key, "gradcam"): lambda result=result: classifier.explain(result),
                # a segment of the same recording: only tf-keras-vis's call and the expansion are timed
                (key, "gradcam_one_segment"): lambda one=one: classifier.explain(one),
            }
        )
    timings = measure_rounds(calls, repeats=repeats)
    # the seed's pipeline as it was, and (for information) the same steps with our network and slices
    seed_calls = {}
    for key, path in recordings.items():
        seed_calls[(key, "seed")] = lambda path=path: seed_pipeline(path, model_path=seed_model_path)
        seed_calls[(key, "seed_our_network")] = lambda path=path: seed_pipeline(
            path, model_path=model_path, segment_seconds=SEGMENT_SAMPLES / SAMPLE_RATE, n_mfcc=N_MFCC
        )
    timings.update(measure_rounds(seed_calls, repeats=seed_repeats))
    for (key, name), timing in timings.items():
        results[key][name] = timing
    return results
