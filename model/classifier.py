"""Genre (and tag) probabilities for a recording, per segment and as a whole, and their explanation."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.artifact import DEFAULT_MODEL_PATH, ModelMetadata, load_artifact
from model.audio import AudioSource, DecodedAudio, load_audio
from model.errors import AudioInputError
from model.features import MAX_SECONDS, Segments, mfcc_segments
from model.runtime import import_tensorflow

BATCH_SIZE = 64  # segments per network call; bounds memory for long recordings


def _as_map(names: Sequence[str], vector: np.ndarray) -> dict[str, float]:
    return {name: round(float(p), 6) for name, p in zip(names, vector)}


@dataclasses.dataclass(frozen=True)
class Classification:
    """The result for one recording, with what explaining it needs.

    Attributes
    ----------
    genres : class names, in the order of every genre probability vector.
    probabilities : (n_genres,) the recording's probabilities, summing to 1: the CNN's
        segment average, fused with the clip-statistics model when the artifact has one.
    segment_probabilities : (n_segments, n_genres), each row summing to 1.
    starts, ends : (n_segments,) seconds within the recording.
    features : (n_segments, frames, n_mfcc, channels) MFCC as computed (not normalised).
    activations : (n_segments, rows, columns, filters) float32, the Grad-CAM layer's output for
        ``features``, from the same forward pass as the probabilities.
    seconds : seconds of audio analysed.
    source_seconds : length of the whole input (more than ``seconds`` when truncated).
    truncated : only the first ``seconds`` of a longer recording were analysed.
    looped : the recording was shorter than one segment and was repeated to fill it.
    cnn_probabilities : (n_genres,) the CNN's part alone (its segments aggregated).
    clip_probabilities : (n_genres,) the clip-statistics model's part, or None without one.
    fusion_weight : the clip-statistics model's share in ``probabilities`` (0 without one).
    tags : tag names of the model's tag head, in the order of every tag vector (empty without one).
    tag_probabilities : (n_tags,) independent probabilities, the mean over segments.
    segment_tag_probabilities : (n_segments, n_tags).

    Every array is read-only; `segment_range` gives a run of segments.
    """

    genres: tuple[str, ...]
    probabilities: np.ndarray
    segment_probabilities: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    features: np.ndarray
    activations: np.ndarray
    seconds: float
    source_seconds: float
    truncated: bool
    looped: bool
    cnn_probabilities: np.ndarray
    clip_probabilities: np.ndarray | None
    fusion_weight: float
    tags: tuple[str, ...]
    tag_probabilities: np.ndarray
    segment_tag_probabilities: np.ndarray

    def __post_init__(self) -> None:
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

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

    def top_tags(self, k: int) -> list[tuple[str, float]]:
        """The ``k`` most probable (tag, probability) pairs of the recording; empty without a tag head."""
        order = np.argsort(-self.tag_probabilities, kind="stable")[: max(0, k)]
        return [(self.tags[int(index)], float(self.tag_probabilities[index])) for index in order]

    def segment_range(self, first: int, last: int) -> Classification:
        """The same result restricted to segments first..last-1 (recording-level fields unchanged)."""
        window = slice(first, last)
        return dataclasses.replace(
            self,
            segment_probabilities=self.segment_probabilities[window],
            starts=self.starts[window],
            ends=self.ends[window],
            features=self.features[window],
            activations=self.activations[window],
            segment_tag_probabilities=self.segment_tag_probabilities[window],
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON schema of the CLI (without the file name); "tags" only when the model has a tag head."""
        record: dict[str, Any] = {"genre": self.genre, "probabilities": _as_map(self.genres, self.probabilities)}
        if self.tags:
            record["tags"] = _as_map(self.tags, self.tag_probabilities)
        record.update({"seconds": round(self.seconds, 3), "truncated": self.truncated, "segments": []})
        for index, genre in enumerate(self.segment_genres):
            segment = {
                "start": round(float(self.starts[index]), 3),
                "end": round(float(self.ends[index]), 3),
                "genre": genre,
                "probabilities": _as_map(self.genres, self.segment_probabilities[index]),
            }
            if self.tags:
                segment["tags"] = _as_map(self.tags, self.segment_tag_probabilities[index])
            record["segments"].append(segment)
        return record


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


@dataclasses.dataclass(frozen=True)
class ForwardPass:
    """The network's outputs for a batch of segments.

    Attributes
    ----------
    genres : (n_segments, n_genres) float32, rows summing to 1.
    tags : (n_segments, n_tags) float32 independent probabilities ((n_segments, 0) without a tag head).
    activations : (n_segments, rows, columns, filters) float32, the Grad-CAM layer's output.
    """

    genres: np.ndarray
    tags: np.ndarray
    activations: np.ndarray


class GenreClassifier:
    """The trained network with its metadata: load once, then classify and explain many times.

    Every attribute is set in the constructor and never changes: a call depends on its
    arguments alone.
    """

    def __init__(self, network, metadata: ModelMetadata) -> None:
        from model.explain import GradcamExplainer
        from model.network import fold_batch_norm

        self.network = network
        self.metadata = metadata
        self.clip_model = metadata.clip_model
        # Inference and Grad-CAM run on a copy with batch norm folded into the convolutions
        # (same values within float rounding, up to a fifth less time); a network that cannot be
        # folded is used as it is.
        try:
            self._inference_network = fold_batch_norm(network)
        except ValueError:
            self._inference_network = network
        self._forward = _compiled_forward(self._inference_network, metadata)
        self._explainer = GradcamExplainer(self._inference_network, layer=metadata.gradcam_layer)

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH) -> GenreClassifier:
        """Load the committed model (or another artifact), checking its feature contract."""
        network, metadata = load_artifact(Path(path))
        return cls(network, metadata)

    @property
    def genres(self) -> tuple[str, ...]:
        return self.metadata.genres

    @property
    def tags(self) -> tuple[str, ...]:
        """The tag head's names; empty when the model has none."""
        return self.metadata.tags

    def normalise(self, features: np.ndarray) -> np.ndarray:
        """(n, frames, n_mfcc, channels) raw MFCC -> the network's standardised input."""
        return ((features - self.metadata.mean) / self.metadata.std).astype(np.float32)

    def predict_segments(self, features: np.ndarray) -> np.ndarray:
        """Genre probabilities for raw MFCC segments.

        Parameters
        ----------
        features : (n_segments, frames, n_mfcc, channels), not normalised.

        Returns
        -------
        (n_segments, n_genres) float32, rows summing to 1.
        """
        return self.forward(features).genres

    def forward(self, features: np.ndarray) -> ForwardPass:
        """The compiled forward pass over raw MFCC segments (n_segments, frames, n_mfcc, channels), in batches."""
        inputs = self.normalise(features)
        genres, tags, activations = [], [], []
        for first in range(0, inputs.shape[0], BATCH_SIZE):
            outputs = [output.numpy() for output in self._forward(inputs[first : first + BATCH_SIZE])]
            genres.append(outputs[0])
            tags.append(outputs[1] if self.tags else np.zeros((outputs[0].shape[0], 0), np.float32))
            activations.append(outputs[-1])
        if not genres:
            raise ValueError(f"expected (n > 0, frames, n_mfcc, channels), got {features.shape}")
        return ForwardPass(
            *(np.concatenate(part).astype(np.float32, copy=False) for part in (genres, tags, activations))
        )

    def segments(self, source: AudioSource, *, max_seconds: float = MAX_SECONDS) -> tuple[Segments, DecodedAudio]:
        """Decode and cut a recording: (Segments, DecodedAudio). Raises AudioInputError."""
        decoded = load_audio(source, max_seconds=max_seconds)
        return mfcc_segments(decoded.samples, config=self.metadata.features), decoded

    def _result(self, segments: Segments, decoded: DecodedAudio, outputs: ForwardPass) -> Classification:
        cnn = aggregate(outputs.genres, method=self.metadata.aggregation)
        clip = fused = None
        if self.clip_model is not None and segments.statistics.size:
            clip = self.clip_model.probabilities(segments.statistics)
            fused = self.clip_model.fuse(cnn, segments.statistics)
        return Classification(
            genres=self.genres,
            probabilities=cnn if fused is None else fused,
            segment_probabilities=outputs.genres,
            starts=segments.starts,
            ends=segments.ends,
            features=segments.features,
            activations=outputs.activations,
            seconds=segments.duration,
            source_seconds=decoded.source_seconds,
            truncated=decoded.truncated,
            looped=segments.looped,
            cnn_probabilities=cnn,
            clip_probabilities=clip,
            fusion_weight=0.0 if fused is None else self.clip_model.weight,
            tags=self.tags,
            tag_probabilities=outputs.tags.mean(axis=0, dtype=np.float64).astype(np.float32),
            segment_tag_probabilities=outputs.tags,
        )

    def classify(self, source: AudioSource, *, max_seconds: float = MAX_SECONDS) -> Classification:
        """Classify one recording (a path, bytes, or (sample_rate, samples)).

        Raises
        ------
        AudioInputError : the input cannot be classified; the message says why.
        """
        segments, decoded = self.segments(source, max_seconds=max_seconds)
        return self._result(segments, decoded, self.forward(segments.features))

    def classify_many(
        self, sources: Sequence[AudioSource], *, max_seconds: float = MAX_SECONDS
    ) -> list[Classification | AudioInputError]:
        """Classify several recordings with their segments batched into shared network calls.

        Returns one entry per source, in order: a Classification, or the AudioInputError
        that explains why that source could not be classified.
        """
        prepared: list[tuple[Segments, DecodedAudio] | AudioInputError] = []
        for source in sources:
            try:
                prepared.append(self.segments(source, max_seconds=max_seconds))
            except AudioInputError as error:
                prepared.append(error)
        good = [item for item in prepared if not isinstance(item, AudioInputError)]
        if not good:
            return list(prepared)
        outputs = self.forward(np.concatenate([segments.features for segments, _ in good]))
        results: list[Classification | AudioInputError] = []
        offset = 0
        for item in prepared:
            if isinstance(item, AudioInputError):
                results.append(item)
                continue
            segments, decoded = item
            window = slice(offset, offset + segments.features.shape[0])
            part = ForwardPass(outputs.genres[window], outputs.tags[window], outputs.activations[window])
            results.append(self._result(segments, decoded, part))
            offset = window.stop
        return results

    def explain(
        self, classification: Classification, *, genre: str | None = None, tag: str | None = None
    ) -> np.ndarray:
        """Grad-CAM heatmaps for every segment of a classification (or of a `segment_range` of one).

        Parameters
        ----------
        classification : a result of `classify`.
        genre : the genre to explain in every segment.
        tag : instead, the tag to explain in every segment (its pre-sigmoid score).
            With neither, each segment's own top genre is explained.

        Returns
        -------
        (n_segments, frames, n_mfcc) float32 in [0, 1].
        """
        n_segments = classification.starts.shape[0]
        if genre is not None and tag is not None:
            raise ValueError("explain a genre or a tag, not both")
        if tag is not None:
            if tag not in self.tags:
                known = ", ".join(self.tags) if self.tags else "none: the model has no tag head"
                raise ValueError(f"unknown tag {tag!r}; expected one of {known}")
            indices = np.full(n_segments, self.tags.index(tag))
        elif genre is None:
            indices = np.argmax(classification.segment_probabilities, axis=1)
        elif genre in self.genres:
            indices = np.full(n_segments, self.genres.index(genre))
        else:
            raise ValueError(f"unknown genre {genre!r}; expected one of {', '.join(self.genres)}")
        grid = classification.features.shape[1:3]
        return self._heatmaps(classification.activations, indices, grid=grid, tags=tag is not None)

    def heatmaps(self, features: np.ndarray, *, class_indices: np.ndarray, tags: bool = False) -> np.ndarray:
        """Grad-CAM of raw MFCC segments (n, frames, n_mfcc, channels) -> (n, frames, n_mfcc).

        ``class_indices`` (n,) are genre indices, or tag indices with ``tags``. Runs the forward
        pass first: a classified recording is explained by `explain` without it.
        """
        if features.ndim != 4 or features.shape[0] == 0:
            raise ValueError(f"expected (n > 0, frames, n_mfcc, channels), got {features.shape}")
        if tags and not self.tags:
            raise ValueError("the model has no tag head")
        activations = self.forward(features).activations
        return self._heatmaps(activations, np.asarray(class_indices), grid=features.shape[1:3], tags=tags)

    def _heatmaps(
        self, activations: np.ndarray, indices: np.ndarray, *, grid: tuple[int, int], tags: bool
    ) -> np.ndarray:
        """Grad-CAM of Grad-CAM-layer activations, BATCH_SIZE segments per call."""
        if indices.shape[0] != activations.shape[0]:
            raise ValueError(f"{indices.shape[0]} class indices for {activations.shape[0]} segments")
        maps = [
            self._explainer.heatmaps_of_activations(
                activations[first : first + BATCH_SIZE],
                class_indices=indices[first : first + BATCH_SIZE],
                grid=grid,
                output=1 if tags else 0,
            )
            for first in range(0, activations.shape[0], BATCH_SIZE)
        ]
        return np.concatenate(maps) if maps else np.zeros((0, *grid), np.float32)

    def warm_up(self) -> None:
        """Pay one-time costs (tracing, resampler, filter banks) before serving."""
        rate = 44100
        time = np.arange(int(rate * 4.0)) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440.0 * time)).astype(np.float32)
        result = self.classify((rate, tone))
        self.explain(result)
        if self.tags:
            self.explain(result, tag=self.tags[0])


def _compiled_forward(network, metadata: ModelMetadata):
    """One compiled function: normalised input -> [genre probabilities, (tag probabilities,) activations]."""
    tf = import_tensorflow()
    import keras

    outputs = [*network.outputs, network.get_layer(metadata.gradcam_layer).output]
    forward = keras.Model(network.inputs, outputs)
    signature = [tf.TensorSpec((None, *metadata.features.input_shape), tf.float32)]
    return tf.function(lambda x: forward(x, training=False), input_signature=signature)
