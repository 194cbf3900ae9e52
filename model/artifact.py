"""The trained model on disk: `<name>.keras` weights beside `<name>.json` metadata.

The metadata is the model's contract: genre order, every feature parameter, the
normalisation statistics, the data it was trained on and its measured metrics.
Loading refuses a model whose feature parameters disagree with the code's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from model.features import DEFAULT_CONFIG, FeatureConfig

MODEL_DIR = Path(__file__).resolve().parent
DEFAULT_NAME = "genre_cnn"
DEFAULT_MODEL_PATH = MODEL_DIR / f"{DEFAULT_NAME}.keras"
AGGREGATIONS = ("mean", "log_mean")


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
    genres : class names in output order (sorted once at training time).
    features : the feature parameters the model was trained with.
    mean, std : (n_mfcc, n_channels) normalisation statistics from the training segments.
    aggregation : how segment probabilities become the recording's ("mean" or "log_mean").
    gradcam_layer : name of the layer Grad-CAM reads (its output is (rows, columns, filters)).
    training : data summary and settings (clips per split and kind, epochs, seed, ...).
    metrics : measured figures, each with the split it was measured on.
    clip_model : parameters of the clip-statistics model fused with the CNN (`model.clipstats`),
        or None for the CNN alone.
    """

    genres: tuple[str, ...]
    features: FeatureConfig
    mean: np.ndarray
    std: np.ndarray
    aggregation: str = "mean"
    gradcam_layer: str = dataclasses.field(default_factory=_default_gradcam_layer)
    architecture: str = "genre_cnn"
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    clip_model: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "genres": list(self.genres),
            "features": self.features.to_dict(),
            "normalisation": {"mean": self.mean.tolist(), "std": self.std.tolist()},
            "aggregation": self.aggregation,
            "gradcam_layer": self.gradcam_layer,
            "architecture": self.architecture,
            "training": self.training,
            "metrics": self.metrics,
            "clip_model": self.clip_model,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelMetadata":
        try:
            features = FeatureConfig.from_dict(values["features"])
            metadata = cls(
                genres=tuple(values["genres"]),
                features=features,
                mean=np.asarray(values["normalisation"]["mean"], dtype=np.float32),
                std=np.asarray(values["normalisation"]["std"], dtype=np.float32),
                aggregation=values.get("aggregation", "mean"),
                gradcam_layer=values["gradcam_layer"] if "gradcam_layer" in values else _default_gradcam_layer(),
                architecture=values.get("architecture", "genre_cnn"),
                training=values.get("training", {}),
                metrics=values.get("metrics", {}),
                clip_model=values.get("clip_model"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(f"model metadata is incomplete or malformed: {error}") from error
        if metadata.aggregation not in AGGREGATIONS:
            raise ArtifactError(f"unknown aggregation {metadata.aggregation!r}")
        return metadata

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
    metadata_path(path).write_text(json.dumps(metadata.to_dict(), indent=2) + "\n")


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


def load_artifact(
    path: Path = DEFAULT_MODEL_PATH, *, expected: FeatureConfig | None = DEFAULT_CONFIG
):
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
    if network.output_shape[-1] != len(metadata.genres):
        raise ArtifactError(f"network has {network.output_shape[-1]} outputs for {len(metadata.genres)} genres")
    return network, metadata
