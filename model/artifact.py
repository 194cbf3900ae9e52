"""The trained model on disk: `<name>.keras` weights beside `<name>.json` metadata.

The metadata is the model's contract: genre (and tag) order, every feature parameter, the
normalisation statistics, the clip-statistics model, the data it was trained on and its
measured metrics. This module alone reads and writes it. Loading refuses a model whose
feature parameters disagree with the code's, or whose outputs disagree with its names.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from model.clipstats import ClipStatsModel
from model.features import DEFAULT_CONFIG, FeatureConfig

MODEL_DIR = Path(__file__).resolve().parent
DEFAULT_NAME = "genre_cnn"
DEFAULT_MODEL_PATH = MODEL_DIR / f"{DEFAULT_NAME}.keras"
AGGREGATIONS = ("mean", "log_mean")
# Every figure that ``metrics[split]`` may hold, with what it measures (the About panel's wording).
METRICS = {
    "clip_accuracy": "per-clip accuracy",
    "cnn_clip_accuracy": "per-clip accuracy of the CNN alone",
    "clip_stats_accuracy": "per-clip accuracy of the clip-statistics model alone",
    "fusion_weight": "share of the clip-statistics model",
    "segment_accuracy": "per-segment accuracy",
    "long_clip_accuracy": "per-clip accuracy on whole and trimmed clips",
    "snippet_accuracy": "per-clip accuracy on 2–3-s snippets",
    "svm_baseline_clip_accuracy": "per-clip accuracy of the SVM baseline (MFCC mean/std)",
    "seed_cnn_clip_accuracy": "per-clip accuracy of the seed project's CNN",
    "teacher_head_clip_accuracy": "per-clip accuracy of the teacher (musicnn's tags and a genre head; training only)",
    "epoch_score": "epoch chosen by",
    "score": "valid score (clean and degraded)",
    "macro_f1": "macro-F1",
    "clips": "clips",
    "chosen_on": "model chosen on",
}


class ArtifactError(RuntimeError):
    """The model file or its metadata is missing, unreadable or inconsistent with the code."""


def _default_gradcam_layer() -> str:
    """model.network's GRADCAM_LAYER, imported only when needed (that module imports Keras)."""
    from model.network import GRADCAM_LAYER

    return GRADCAM_LAYER


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """Everything needed to use a trained model, saved next to its weights.

    Attributes
    ----------
    genres : class names in the genre head's output order (sorted once at training time).
    features : the feature parameters the model was trained with.
    mean, std : (n_mfcc, n_channels) normalisation statistics from the training segments.
    aggregation : how segment probabilities become the recording's ("mean" or "log_mean").
    gradcam_layer : name of the layer Grad-CAM reads (its output is (rows, columns, filters)).
    architecture : the network's name (`model.network.build_genre_cnn` is "genre_cnn").
    training : data summary and settings (clips per split and kind, epochs, seed, ...).
    metrics : {split: {name: value}} measured figures; every name is a key of METRICS.
    clip_model : the clip-statistics model fused with the CNN, or None for the CNN alone.
    tags : names of the tag head's outputs, in order; empty when the network has no tag head.
    """

    genres: tuple[str, ...]
    features: FeatureConfig
    mean: np.ndarray
    std: np.ndarray
    aggregation: str = "mean"
    gradcam_layer: str = dataclasses.field(default_factory=_default_gradcam_layer)
    architecture: str = "genre_cnn"
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    clip_model: ClipStatsModel | None = None
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ArtifactError(f"unknown aggregation {self.aggregation!r}")
        for split, values in self.metrics.items():
            unknown = sorted(set(values) - set(METRICS))
            if unknown:
                raise ArtifactError(f"unknown metrics in {split!r}: {', '.join(unknown)} (model.artifact.METRICS)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "genres": list(self.genres),
            "tags": list(self.tags),
            "features": self.features.to_dict(),
            "normalisation": {"mean": self.mean.tolist(), "std": self.std.tolist()},
            "aggregation": self.aggregation,
            "gradcam_layer": self.gradcam_layer,
            "architecture": self.architecture,
            "training": self.training,
            "metrics": self.metrics,
            "clip_model": None if self.clip_model is None else self.clip_model.to_dict(),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelMetadata:
        """Parse `to_dict`'s output; every key is required (``clip_model`` may be null, ``tags`` empty)."""
        try:
            clip_model = values["clip_model"]
            return cls(
                genres=tuple(values["genres"]),
                tags=tuple(values["tags"]),
                features=FeatureConfig.from_dict(values["features"]),
                mean=np.asarray(values["normalisation"]["mean"], dtype=np.float32),
                std=np.asarray(values["normalisation"]["std"], dtype=np.float32),
                aggregation=values["aggregation"],
                gradcam_layer=values["gradcam_layer"],
                architecture=values["architecture"],
                training=dict(values["training"]),
                metrics={split: dict(figures) for split, figures in values["metrics"].items()},
                clip_model=None if clip_model is None else ClipStatsModel.from_dict(clip_model),
            )
        except KeyError as error:
            raise ArtifactError(f"model metadata is incomplete or malformed: missing key {error}") from error
        except (TypeError, ValueError, AttributeError) as error:
            raise ArtifactError(f"model metadata is incomplete or malformed: {error}") from error

    def check_statistics(self) -> None:
        """The normalisation statistics must fit the feature parameters."""
        expected = (self.features.n_mfcc, self.features.n_channels)
        if self.mean.shape != expected or self.std.shape != expected:
            raise ArtifactError(f"normalisation statistics have shape {self.mean.shape}, expected {expected}")


def metadata_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")


def save_artifact(model, metadata: ModelMetadata, *, path: Path) -> None:
    """Write ``path`` (a .keras file) and its metadata JSON beside it."""
    import keras

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if getattr(model, "optimizer", None) is not None:
        # an uncompiled copy: the artifact holds the weights, not the optimizer's state (3x smaller)
        weights = model.get_weights()
        model = keras.Model.from_config(model.get_config())  # clone_model would keep the optimizer
        model.set_weights(weights)
    model.save(path)
    write_metadata(path, metadata)


def write_metadata(model_path: Path, metadata: ModelMetadata) -> None:
    """Write the metadata JSON beside a model file."""
    metadata_path(model_path).write_text(json.dumps(metadata.to_dict(), indent=2) + "\n")


def update_metadata(
    model_path: Path,
    *,
    metrics: dict[str, dict[str, Any]] | None = None,
    clip_model: ClipStatsModel | None = None,
) -> ModelMetadata:
    """Record new figures (merged into ``metrics[split]``) and/or a new clip-statistics model.

    Parameters
    ----------
    model_path : the .keras file whose metadata JSON is rewritten.
    metrics : {split: {name: value}}; names must be keys of METRICS.
    clip_model : replaces the stored clip-statistics model when given.

    Returns
    -------
    The metadata as written.
    """
    metadata = read_metadata(model_path)
    merged = {split: dict(figures) for split, figures in metadata.metrics.items()}
    for split, figures in (metrics or {}).items():
        merged.setdefault(split, {}).update(figures)
    updated = dataclasses.replace(
        metadata, metrics=merged, clip_model=metadata.clip_model if clip_model is None else clip_model
    )
    write_metadata(model_path, updated)
    return updated


def read_metadata(path: Path = DEFAULT_MODEL_PATH) -> ModelMetadata:
    """Read the metadata beside a model file, without loading the network."""
    meta_file = metadata_path(Path(path))
    if not meta_file.is_file():
        raise ArtifactError(f"model metadata not found: {meta_file}")
    try:
        values = json.loads(meta_file.read_text())
    except json.JSONDecodeError as error:
        raise ArtifactError(f"model metadata is not valid JSON: {meta_file}: {error}") from error
    return ModelMetadata.from_dict(values)


def check_features(metadata: ModelMetadata, *, expected: FeatureConfig = DEFAULT_CONFIG) -> None:
    """Fail loudly when the model was trained with other feature parameters than the code uses."""
    if metadata.features != expected:
        trained = metadata.features.to_dict()
        differences = [
            f"{name}: model {trained[name]!r}, code {value!r}"
            for name, value in expected.to_dict().items()
            if trained[name] != value
        ]
        raise ArtifactError(
            "the model was trained with other feature parameters than model/features.py defines "
            f"({'; '.join(differences)}); retrain it or restore the parameters"
        )


def load_artifact(path: Path = DEFAULT_MODEL_PATH, *, expected: FeatureConfig | None = DEFAULT_CONFIG):
    """Load a trained model and its metadata, checking the feature contract.

    Parameters
    ----------
    path : the .keras file; its metadata is the .json beside it.
    expected : feature parameters the caller will compute; None skips the check
        (training experiments that vary the features).

    Returns
    -------
    (keras.Model, ModelMetadata)
    """
    from model.runtime import import_tensorflow

    import_tensorflow()  # here, so that reading metadata needs no TensorFlow
    import keras

    path = Path(path)
    metadata = read_metadata(path)
    if expected is not None:
        check_features(metadata, expected=expected)
    metadata.check_statistics()
    if not path.is_file():
        raise ArtifactError(f"model weights not found: {path}")
    network = keras.saving.load_model(path, compile=False)
    if tuple(network.input_shape[1:]) != metadata.features.input_shape:
        raise ArtifactError(
            f"network input {network.input_shape[1:]} does not match the features {metadata.features.input_shape}"
        )
    check_outputs(network, metadata)
    return network, metadata


def check_outputs(network, metadata: ModelMetadata) -> None:
    """The network's outputs must be the genre head, then the tag head where the metadata names tags."""
    heads = [int(output.shape[-1]) for output in network.outputs]
    if heads[0] != len(metadata.genres):
        raise ArtifactError(f"network has {heads[0]} outputs for {len(metadata.genres)} genres")
    if len(heads) != (2 if metadata.tags else 1):
        raise ArtifactError(
            f"network has {len(heads)} outputs, but the metadata names {len(metadata.tags)} tags "
            "(expected one output without tags, a genre and a tag output with them)"
        )
    if metadata.tags and heads[1] != len(metadata.tags):
        raise ArtifactError(f"network has {heads[1]} tag outputs for {len(metadata.tags)} tags")
    if metadata.gradcam_layer not in {layer.name for layer in network.layers}:
        raise ArtifactError(f"network has no layer {metadata.gradcam_layer!r} for Grad-CAM")
