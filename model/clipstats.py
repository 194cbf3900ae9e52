"""The clip-statistics model fused with the CNN: MFCC 2-20 mean and variance over the whole recording.

A multinomial logistic regression on the 38 summary numbers that GTZAN's widely shared
``features_30_sec.csv`` holds for every clip (``mfcc2_mean`` ... ``mfcc20_var``). It learns
from all 443 `train` clips, including those whose audio we lack. MFCC 1 is left out: it
follows the recording's gain, the other coefficients do not. Its parameters live in the
model's metadata; inference is plain numpy.

The CNN's probabilities and this model's are mixed linearly,
``(1 - weight) * cnn + weight * clip_stats``, with ``weight`` chosen on `valid`. Grad-CAM
explains the CNN part only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

FIRST_COEFFICIENT = 1  # 0-based index of MFCC 2: MFCC 1 (index 0) follows the gain
N_STATISTICS_COEFFICIENTS = 19  # MFCC 2..20


def clip_statistics(coefficients: np.ndarray) -> np.ndarray:
    """Summary of a whole recording's MFCC.

    Parameters
    ----------
    coefficients : (n_frames, n_mfcc >= 20) MFCC of the recording (time first).

    Returns
    -------
    (38,) float64: means of MFCC 2-20, then their variances (the CSV's column order).
    """
    kept = coefficients[:, FIRST_COEFFICIENT : FIRST_COEFFICIENT + N_STATISTICS_COEFFICIENTS].astype(np.float64)
    return np.concatenate([kept.mean(axis=0), kept.var(axis=0)])


def csv_columns() -> list[str]:
    """Names of the 38 statistics in ``features_30_sec.csv``, in `clip_statistics` order."""
    numbers = range(FIRST_COEFFICIENT + 1, FIRST_COEFFICIENT + N_STATISTICS_COEFFICIENTS + 1)
    return [f"mfcc{k}_mean" for k in numbers] + [f"mfcc{k}_var" for k in numbers]


@dataclasses.dataclass(frozen=True)
class ClipStatsModel:
    """Standardise, then a linear layer and softmax.

    Attributes
    ----------
    mean, scale : (38,) standardisation.
    coefficients : (n_genres, 38); intercept : (n_genres,).
    weight : share of this model in the fused probabilities, in [0, 1].
    """

    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    intercept: np.ndarray
    weight: float

    def probabilities(self, statistics: np.ndarray) -> np.ndarray:
        """(38,) or (n, 38) statistics -> (n_genres,) or (n, n_genres) probabilities."""
        logits = ((statistics - self.mean) / self.scale) @ self.coefficients.T + self.intercept
        logits = logits - logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)

    def fuse(self, cnn_probabilities: np.ndarray, statistics: np.ndarray) -> np.ndarray:
        """(n_genres,) CNN probabilities of a recording -> the fused (n_genres,), summing to 1."""
        fused = (1.0 - self.weight) * cnn_probabilities + self.weight * self.probabilities(statistics)
        return (fused / fused.sum()).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": csv_columns(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept.tolist(),
            "weight": self.weight,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ClipStatsModel":
        return cls(
            mean=np.asarray(values["mean"], dtype=np.float64),
            scale=np.asarray(values["scale"], dtype=np.float64),
            coefficients=np.asarray(values["coefficients"], dtype=np.float64),
            intercept=np.asarray(values["intercept"], dtype=np.float64),
            weight=float(values["weight"]),
        )
