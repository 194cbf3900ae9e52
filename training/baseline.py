"""Baselines and experiment-only features.

The plain baseline: MFCC mean and standard deviation per segment, into an SVM. Same clips,
same segments and the same per-clip aggregation as the CNN, so the two figures differ only
by the model. The seed project's CNN, rebuilt as the second baseline. MFCC deltas as extra
channels, an experiment the served model does not use.
"""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def summary_features(features: np.ndarray) -> np.ndarray:
    """(n_segments, frames, n_mfcc, channels) -> (n_segments, 2 * n_mfcc): MFCC mean and std over time."""
    coefficients = features[..., 0]
    return np.concatenate([coefficients.mean(axis=1), coefficients.std(axis=1)], axis=1)


def train_svm(features: np.ndarray, labels: np.ndarray, *, kernel: str = "rbf", c: float = 10.0, seed: int = 0):
    """Fit a standardised SVM with probability outputs on segment summaries.

    Parameters
    ----------
    features : (n_segments, frames, n_mfcc, channels) raw MFCC segments.
    labels : (n_segments,) genre indices.

    Returns
    -------
    A fitted scikit-learn pipeline; `svm_probabilities` turns its one-vs-rest scores into probabilities.
    """
    svm = SVC(
        kernel=kernel, C=c, gamma="scale", class_weight="balanced", decision_function_shape="ovr", random_state=seed
    )
    pipeline = make_pipeline(StandardScaler(), svm)
    return pipeline.fit(summary_features(features), labels)


def svm_probabilities(pipeline, features: np.ndarray, *, n_genres: int) -> np.ndarray:
    """(n_segments, n_genres): softmax of the one-vs-rest decision scores; genres absent from training get 0.

    Scores rather than Platt-calibrated probabilities: calibration needs held-out folds,
    which cost the baseline 10 points on a training set this small.
    """
    scores = pipeline.decision_function(summary_features(features))
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities = np.zeros((features.shape[0], n_genres), dtype=np.float32)
    probabilities[:, pipeline.classes_] = scores / scores.sum(axis=1, keepdims=True)
    return probabilities


def build_seed_cnn(*, input_shape: tuple[int, int, int], n_genres: int):
    """The seed project's network, rebuilt faithfully as a baseline (Functional, for Grad-CAM).

    Three blocks of Conv2D (64 3x3, 64 3x3, 64 2x2), each followed by max-pooling and
    batch-norm; dense 128-64-32 with dropout 0.3; softmax. Input (frames, 13, 1) in the seed.
    """
    import keras
    from keras import layers

    from model.network import GENRE_OUTPUT, GRADCAM_LAYER

    inputs = keras.Input(shape=input_shape, name="mfcc")
    x = inputs
    for index, kernel in enumerate([(3, 3), (3, 3), (2, 2)], start=1):
        name = GRADCAM_LAYER if index == 3 else f"seed_conv{index}"
        x = layers.Conv2D(64, kernel, activation="relu", name=name)(x)
        x = layers.MaxPooling2D((3, 3) if index < 3 else (2, 2), strides=(2, 2), padding="same")(x)
        x = layers.BatchNormalization()(x)
    x = layers.Flatten()(x)
    for units in (128, 64, 32):
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_genres, activation="softmax", name=GENRE_OUTPUT)(x)
    return keras.Model(inputs, outputs, name="seed_cnn")


def add_deltas(coefficients: np.ndarray) -> np.ndarray:
    """Stack MFCC with its first and second time derivatives as channels.

    Parameters
    ----------
    coefficients : (n_frames, n_mfcc)

    Returns
    -------
    (n_frames, n_mfcc, 3)
    """
    import librosa

    width = min(9, coefficients.shape[0] - (1 - coefficients.shape[0] % 2))
    d1 = librosa.feature.delta(coefficients, width=width, order=1, axis=0)
    d2 = librosa.feature.delta(coefficients, width=width, order=2, axis=0)
    return np.stack([coefficients, d1, d2], axis=-1).astype(np.float32)
