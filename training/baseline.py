"""The plain baseline: MFCC mean and standard deviation per segment, into an SVM.

Same clips, same segments and the same per-clip aggregation as the CNN, so the two
figures differ only by the model.
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
    svm = SVC(kernel=kernel, C=c, gamma="scale", class_weight="balanced", decision_function_shape="ovr",
              random_state=seed)
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
