"""Grad-CAM heatmaps over MFCC segments, computed with tf-keras-vis."""

from __future__ import annotations

import numpy as np
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
from tf_keras_vis.utils.scores import CategoricalScore

from model.network import GRADCAM_LAYER


class GradcamExplainer:
    """Grad-CAM for one network, built once and reused for every request.

    Scores are pre-softmax (``ReplaceToLinear`` on a clone), so a class's evidence is not
    confounded by the other classes' probabilities.
    """

    def __init__(self, network, *, layer: str = GRADCAM_LAYER) -> None:
        self._layer = layer
        self._gradcam = Gradcam(network, model_modifier=ReplaceToLinear(), clone=True)

    def heatmaps(self, inputs: np.ndarray, *, class_indices: np.ndarray) -> np.ndarray:
        """Heatmaps of the evidence for one class per segment, in one batched call.

        Parameters
        ----------
        inputs : (n_segments, frames, n_mfcc, channels) normalised network input.
        class_indices : (n_segments,) int, the genre to explain for each segment.

        Returns
        -------
        (n_segments, frames, n_mfcc) float32 in [0, 1], finite; each map is scaled to its
        own maximum (all zeros where no cell supports the class).
        """
        if inputs.ndim != 4:
            raise ValueError(f"expected (n, frames, n_mfcc, channels), got {inputs.shape}")
        indices = [int(index) for index in np.asarray(class_indices).reshape(-1)]
        if len(indices) != inputs.shape[0]:
            raise ValueError(f"{len(indices)} class indices for {inputs.shape[0]} segments")
        cam = self._gradcam(
            CategoricalScore(indices),
            inputs.astype(np.float32, copy=False),
            penultimate_layer=self._layer,
            seek_penultimate_conv_layer=False,
            expand_cam=True,
            normalize_cam=True,
        )
        cam = np.asarray(cam, dtype=np.float32).reshape(inputs.shape[:3])
        return np.clip(np.nan_to_num(cam, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
