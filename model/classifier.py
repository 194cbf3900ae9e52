"""Genre probabilities for a recording, per segment and as a whole, and their explanation."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from model.artifact import DEFAULT_MODEL_PATH, ModelMetadata, load_artifact
from model.audio import AudioSource, load_audio
from model.clipstats import ClipStatsModel
from model.errors import AudioInputError
from model.features import MAX_SECONDS, Segments, mfcc_segments
from model.runtime import import_tensorflow

BATCH_SIZE = 64  # segments per network call; bounds memory for long recordings


@dataclasses.dataclass(frozen=True)
class Classification:
    """The result for one recording.

    Attributes
    ----------
    genres : class names, in the order of every probability vector.
    probabilities : (n_genres,) the recording's probabilities, summing to 1: the CNN's
        segment average, fused with the clip-statistics model when the artifact has one.
    cnn_probabilities : (n_genres,) the CNN's part alone (its segments aggregated).
    clip_probabilities : (n_genres,) the clip-statistics model's part, or None without one.
    fusion_weight : the clip-statistics model's share in ``probabilities`` (0 without one).
    segment_probabilities : (n_segments, n_genres), each row summing to 1.
    starts, ends : (n_segments,) seconds within the recording.
    features : (n_segments, frames, n_mfcc, channels) MFCC as computed (not normalised).
    seconds : seconds of audio analysed.
    source_seconds : length of the whole input (more than ``seconds`` when truncated).
    truncated : only the first ``seconds`` of a longer recording were analysed.
    looped : the recording was shorter than one segment and was repeated to fill it.
    """

    genres: tuple[str, ...]
    probabilities: np.ndarray
    segment_probabilities: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    features: np.ndarray
    seconds: float
    source_seconds: float
    truncated: bool
    looped: bool
    cnn_probabilities: np.ndarray | None = None
    clip_probabilities: np.ndarray | None = None
    fusion_weight: float = 0.0

    @property
    def genre(self) -> str:
        """The most probable genre of the whole recording."""
        return self.genres[int(np.argmax(self.probabilities))]

    @property
    def segment_genres(self) -> list[str]:
        return [self.genres[int(index)] for index in np.argmax(self.segment_probabilities, axis=1)]

    def ranked(self) -> list[tuple[str, float]]:
        """(genre, probability) pairs, most probable first."""
        order = np.argsort(-self.probabilities, kind="stable")
        return [(self.genres[int(index)], float(self.probabilities[index])) for index in order]

    def to_dict(self) -> dict[str, Any]:
        """The JSON schema of the CLI (without the file name)."""

        def as_map(vector: np.ndarray) -> dict[str, float]:
            return {genre: round(float(p), 6) for genre, p in zip(self.genres, vector)}

        return {
            "genre": self.genre,
            "probabilities": as_map(self.probabilities),
            "seconds": round(self.seconds, 3),
            "truncated": self.truncated,
            "segments": [
                {
                    "start": round(float(start), 3),
                    "end": round(float(end), 3),
                    "genre": genre,
                    "probabilities": as_map(row),
                }
                for start, end, genre, row in zip(
                    self.starts, self.ends, self.segment_genres, self.segment_probabilities
                )
            ],
        }


def aggregate(segment_probabilities: np.ndarray, *, method: str = "mean") -> np.ndarray:
    """Combine segment probabilities into the recording's.

    Parameters
    ----------
    segment_probabilities : (n_segments, n_genres), rows summing to 1.
    method : "mean" (average the probabilities) or "log_mean" (geometric mean, renormalised).

    Returns
    -------
    (n_genres,) summing to 1.
    """
    if method == "mean":
        combined = segment_probabilities.mean(axis=0, dtype=np.float64)
    elif method == "log_mean":
        logs = np.log(np.clip(segment_probabilities.astype(np.float64), 1e-7, 1.0)).mean(axis=0)
        combined = np.exp(logs - logs.max())
    else:
        raise ValueError(f"unknown aggregation {method!r}")
    return (combined / combined.sum()).astype(np.float32)


class GenreClassifier:
    """The trained network with its metadata: load once, then classify and explain many times.

    Calls are serialised by a lock: on a small CPU, parallel TensorFlow calls only compete.
    """

    def __init__(self, network, metadata: ModelMetadata) -> None:
        tf = import_tensorflow()
        import keras

        from model.network import fold_batch_norm

        self.network = network
        self.metadata = metadata
        self._lock = threading.Lock()
        self._explainer = None
        self.clip_model = ClipStatsModel.from_dict(metadata.clip_model) if metadata.clip_model else None
        # Inference and Grad-CAM run on a copy with batch norm folded into the convolutions
        # (same values within float rounding, up to a fifth less time); a network that is not a
        # chain of layers is used as it is.
        try:
            self._inference_network = fold_batch_norm(network)
        except ValueError:
            self._inference_network = network
        inference = self._inference_network
        # One compiled forward pass gives the probabilities and the Grad-CAM layer's output;
        # `classify` keeps the latter for `explain`, which then needs no second pass.
        outputs = list(inference.outputs[:1])
        if metadata.gradcam_layer in {layer.name for layer in inference.layers}:
            outputs.append(inference.get_layer(metadata.gradcam_layer).output)
        forward = keras.Model(inference.inputs, outputs)
        signature = [tf.TensorSpec((None, *metadata.features.input_shape), tf.float32)]
        self._forward = tf.function(lambda x: forward(x, training=False), input_signature=signature)
        # (features, Grad-CAM layer activations) of the last `classify`: 80 kB per segment,
        # about 32 MB for a recording of MAX_SECONDS
        self._recent: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH) -> "GenreClassifier":
        """Load the committed model (or another artifact), checking its feature contract."""
        network, metadata = load_artifact(Path(path))
        return cls(network, metadata)

    @property
    def genres(self) -> tuple[str, ...]:
        return self.metadata.genres

    def normalise(self, features: np.ndarray) -> np.ndarray:
        """(n, frames, n_mfcc, channels) raw MFCC -> the network's standardised input."""
        return ((features - self.metadata.mean) / self.metadata.std).astype(np.float32)

    def predict_segments(self, features: np.ndarray) -> np.ndarray:
        """Probabilities for raw MFCC segments.

        Parameters
        ----------
        features : (n_segments, frames, n_mfcc, channels), not normalised.

        Returns
        -------
        (n_segments, n_genres) float32, rows summing to 1.
        """
        return self._predict(features, remember=False)

    def _predict(self, features: np.ndarray, *, remember: bool) -> np.ndarray:
        """`predict_segments`; with ``remember`` the Grad-CAM layer's output is kept for `heatmaps`."""
        with self._lock:
            probabilities, activations = self._run_forward(features, activations=remember)
            if activations is not None:
                self._recent = (features.copy(), activations)
        return probabilities

    def _run_forward(self, features: np.ndarray, *, activations: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The compiled forward pass in batches of BATCH_SIZE (the caller holds the lock).

        Parameters
        ----------
        features : (n_segments, frames, n_mfcc, channels) raw MFCC.
        activations : also return the Grad-CAM layer's output, where the network has that layer.

        Returns
        -------
        (probabilities (n_segments, n_genres) float32, activations (n_segments, rows, columns, filters) or None)
        """
        inputs = self.normalise(features)
        outputs, maps = [], []
        for first in range(0, inputs.shape[0], BATCH_SIZE):
            probabilities, *rest = self._forward(inputs[first : first + BATCH_SIZE])
            outputs.append(probabilities.numpy())
            if activations and rest:
                maps.append(rest[0].numpy())
        probabilities = (np.concatenate(outputs).astype(np.float32) if outputs
                         else np.zeros((0, len(self.genres)), np.float32))
        return probabilities, (np.concatenate(maps) if maps else None)

    def segments(self, source: AudioSource, *, max_seconds: float = MAX_SECONDS) -> tuple[Segments, Any]:
        """Decode and cut a recording: (Segments, DecodedAudio). Raises AudioInputError."""
        decoded = load_audio(source, max_seconds=max_seconds)
        return mfcc_segments(decoded.samples, config=self.metadata.features), decoded

    def _result(self, segments: Segments, decoded, probabilities: np.ndarray) -> Classification:
        cnn = aggregate(probabilities, method=self.metadata.aggregation)
        clip = fused = None
        if self.clip_model is not None and segments.statistics.size:
            clip = self.clip_model.probabilities(segments.statistics)
            fused = self.clip_model.fuse(cnn, segments.statistics)
        return Classification(
            genres=self.genres,
            probabilities=cnn if fused is None else fused,
            cnn_probabilities=cnn,
            clip_probabilities=clip,
            fusion_weight=0.0 if fused is None else self.clip_model.weight,
            segment_probabilities=probabilities,
            starts=segments.starts,
            ends=segments.ends,
            features=segments.features,
            seconds=segments.duration,
            source_seconds=decoded.source_seconds,
            truncated=decoded.truncated,
            looped=segments.looped,
        )

    def classify(self, source: AudioSource, *, max_seconds: float = MAX_SECONDS) -> Classification:
        """Classify one recording (a path, bytes, or (sample_rate, samples)).

        Raises
        ------
        AudioInputError : the input cannot be classified; the message says why.
        """
        segments, decoded = self.segments(source, max_seconds=max_seconds)
        return self._result(segments, decoded, self._predict(segments.features, remember=True))

    def classify_many(
        self, sources: Sequence[AudioSource], *, max_seconds: float = MAX_SECONDS
    ) -> list[Classification | AudioInputError]:
        """Classify several recordings with their segments batched into shared network calls.

        Returns one entry per source, in order: a Classification, or the AudioInputError
        that explains why that source could not be classified.
        """
        prepared: list[tuple[Segments, Any] | AudioInputError] = []
        for source in sources:
            try:
                prepared.append(self.segments(source, max_seconds=max_seconds))
            except AudioInputError as error:
                prepared.append(error)
        good = [item for item in prepared if not isinstance(item, AudioInputError)]
        if not good:
            return list(prepared)
        probabilities = self.predict_segments(np.concatenate([segments.features for segments, _ in good]))
        results: list[Classification | AudioInputError] = []
        offset = 0
        for item in prepared:
            if isinstance(item, AudioInputError):
                results.append(item)
                continue
            segments, decoded = item
            count = segments.features.shape[0]
            results.append(self._result(segments, decoded, probabilities[offset : offset + count]))
            offset += count
        return results

    def explain(self, classification: Classification, *, genre: str | None = None) -> np.ndarray:
        """Grad-CAM heatmaps for every segment of a classified recording.

        Parameters
        ----------
        classification : a result of `classify`.
        genre : the genre to explain in every segment; None explains each segment's own top genre.

        Returns
        -------
        (n_segments, frames, n_mfcc) float32 in [0, 1].
        """
        if genre is None:
            indices = np.argmax(classification.segment_probabilities, axis=1)
        elif genre in self.genres:
            indices = np.full(classification.starts.shape[0], self.genres.index(genre))
        else:
            raise ValueError(f"unknown genre {genre!r}; expected one of {', '.join(self.genres)}")
        return self.heatmaps(classification.features, class_indices=indices)

    def heatmaps(self, features: np.ndarray, *, class_indices: np.ndarray) -> np.ndarray:
        """Grad-CAM of raw MFCC segments (n, frames, n_mfcc, channels) -> (n, frames, n_mfcc).

        Segments of the last `classify` (all of them or a run of them) reuse its forward pass.
        """
        from model.explain import GradcamExplainer

        maps = []
        with self._lock:
            if self._explainer is None:
                self._explainer = GradcamExplainer(self._inference_network, layer=self.metadata.gradcam_layer)
            activations = self._recent_activations(features)
            if activations is None:
                activations = self._activations(features)
            grid = features.shape[1:3]
            for first in range(0, features.shape[0], BATCH_SIZE):
                last = first + BATCH_SIZE
                maps.append(
                    self._explainer.heatmaps_of_activations(
                        activations[first:last], class_indices=class_indices[first:last], grid=grid
                    )
                )
        return np.concatenate(maps)

    def _activations(self, features: np.ndarray) -> np.ndarray:
        """The Grad-CAM layer's output for raw MFCC segments, from the compiled forward pass."""
        if features.ndim != 4 or features.shape[0] == 0:
            raise ValueError(f"expected (n > 0, frames, n_mfcc, channels), got {features.shape}")
        return self._run_forward(features, activations=True)[1]

    def _recent_activations(self, features: np.ndarray) -> np.ndarray | None:
        """The activations the last `classify` computed for these segments, or None.

        ``features`` may be all of that recording's segments or any run of them (a page of
        the app); they are compared by value, so segments changed since are recomputed.
        """
        if self._recent is None or features.ndim != 4 or features.shape[0] == 0:
            return None
        kept, activations = self._recent
        if features.shape[1:] != kept.shape[1:] or features.shape[0] > kept.shape[0]:
            return None
        count = features.shape[0]
        for start in np.flatnonzero(np.all(kept == features[0], axis=(1, 2, 3))):
            if start + count <= kept.shape[0] and np.array_equal(features, kept[start : start + count]):
                return activations[start : start + count]
        return None

    def warm_up(self) -> None:
        """Pay one-time costs (tracing, Grad-CAM clone, resampler, filter banks) before serving."""
        rate = 44100
        time = np.arange(int(rate * 4.0)) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440.0 * time)).astype(np.float32)
        result = self.classify((rate, tone))
        self.explain(result)
