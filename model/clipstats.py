"""The clip-statistics model fused with the CNN: MFCC 2-20 mean and variance over the whole recording.

A multinomial logistic regression on the 38 summary numbers (`model.features.clip_statistics`)
that GTZAN's widely shared ``features_30_sec.csv`` holds for every clip (``mfcc2_mean`` ...
``mfcc20_var``). It learns from all 443 `train` clips, including those whose audio we lack.
Its parameters live in the model's metadata; inference is plain numpy.

The CNN's probabilities and this model's are mixed linearly,
``(1 - weight) * cnn + weight * clip_stats``, with ``weight`` chosen on `valid`. Grad-CAM
explains the CNN part only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from model.features import statistics_columns


@dataclasses.dataclass(frozen=True)
class ClipStatsModel:
    """Standardise, then a linear layer and softmax.

    Attributes
    ----------
    mean, scale : (38,) standardisation.
    coefficients : (n_genres, 38); intercept : (n_genres,).
    weight : share of this model in the fused probabilities, in [0, 1].
    trained_on : what it learnt from (e.g. "features_30_sec.csv: 443 train rows").
    """

    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    intercept: np.ndarray
    weight: float
    trained_on: str

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
            "features": statistics_columns(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept.tolist(),
            "weight": self.weight,
            "trained_on": self.trained_on,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ClipStatsModel:
        """Parse `to_dict`'s output. Raises KeyError naming a missing key, ValueError for other statistics."""
        if values["features"] != statistics_columns():
            raise ValueError(f"clip_model features {values['features']} are not the statistics the code computes")
        return cls(
            mean=np.asarray(values["mean"], dtype=np.float64),
            scale=np.asarray(values["scale"], dtype=np.float64),
            coefficients=np.asarray(values["coefficients"], dtype=np.float64),
            intercept=np.asarray(values["intercept"], dtype=np.float64),
            weight=float(values["weight"]),
            trained_on=str(values["trained_on"]),
        )
