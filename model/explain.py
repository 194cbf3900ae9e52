"""Grad-CAM heatmaps over MFCC segments, computed with tf-keras-vis.

The network is split once at the Grad-CAM layer. The part before it (the conv trunk) runs in
the classifier's compiled forward pass, which hands over that layer's activations.
tf-keras-vis's `Gradcam` is built on the part after it, so its gradient tape covers only the
few layers between that activation and the class score: the gradients of the score with
respect to the activation are the same as through the whole network, but the convolutions
before it are neither recorded nor differentiated.
"""

from __future__ import annotations

import functools

import numpy as np
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.utils import normalize
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

from model.network import GRADCAM_LAYER
from model.runtime import import_tensorflow


class GradcamExplainer:
    """Grad-CAM for one network, built once and reused for every request.

    One tf-keras-vis `Gradcam` per network output (the genre head, and the tag head where
    there is one), each on the part of the network between the Grad-CAM layer and that
    output. Scores are pre-activation (``ReplaceToLinear`` on a clone, on every head): a
    genre's evidence is not confounded by the other genres' probabilities, and a tag's is its
    logit.
    """

    def __init__(self, network, *, layer: str = GRADCAM_LAYER) -> None:
        import_tensorflow()
        import keras

        self._layer = layer
        self._n_classes = [int(output.shape[-1]) for output in network.outputs]
        target = network.get_layer(layer)
        linear = keras.models.clone_model(network)
        linear.set_weights(network.get_weights())
        ReplaceToLinear()(linear)
        activation = keras.Input(shape=target.output.shape[1:], name="activation")
        marked = keras.layers.Identity(name=layer)(activation)  # the layer Gradcam reads
        self._gradcams = []
        for index, output in enumerate(linear.outputs):
            head = keras.Model(linear.get_layer(layer).output, output, name=f"gradcam_head_{index}")
            self._gradcams.append(Gradcam(keras.Model(activation, _compiled(head)(marked)), clone=False))

    def heatmaps_of_activations(
        self, activations: np.ndarray, *, class_indices: np.ndarray, grid: tuple[int, int], output: int = 0
    ) -> np.ndarray:
        """Heatmaps of the evidence for one class per segment, in one batched Gradcam call.

        Parameters
        ----------
        activations : (n_segments, rows, columns, filters) float32.
        class_indices : (n_segments,) int, the class of ``output`` to explain for each segment.
        grid : (frames, n_mfcc) of the network input the heatmaps are expanded to.
        output : which network output: 0 the genres, 1 the tags.

        Returns
        -------
        (n_segments, frames, n_mfcc) float32 in [0, 1], finite; each map is scaled to its
        own maximum (all zeros where no cell supports the class).
        """
        if activations.ndim != 4:
            raise ValueError(f"expected (n, rows, columns, filters), got {activations.shape}")
        indices = self._check_indices(class_indices, activations.shape[0])
        if not 0 <= output < len(self._gradcams):
            raise ValueError(f"the network has {len(self._gradcams)} outputs, not output {output}")
        cam = self._gradcams[output](
            self._score(indices, n_classes=self._n_classes[output]),
            activations.astype(np.float32, copy=False),
            penultimate_layer=self._layer,
            seek_penultimate_conv_layer=False,
            expand_cam=False,
            normalize_cam=False,
        )
        # Expanded to the input grid, then scaled, as Gradcam(expand_cam=True, normalize_cam=True)
        # does on a whole network (its scipy zoom, order 1, equals `expand`; tests compare them).
        cam = normalize(expand(np.asarray(cam, dtype=np.float32), grid=grid))
        cam = np.asarray(cam, dtype=np.float32).reshape((activations.shape[0], *grid))
        return np.clip(np.nan_to_num(cam, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)

    @staticmethod
    def _score(indices: list[int], *, n_classes: int):
        """Score of class ``indices[i]`` in row i of the output, as `CategoricalScore` gives it.

        CategoricalScore slices the output once per segment (and its gradient once more per
        segment), and a gather's gradient is costly too; a one-hot mask selects the same
        values exactly, and its gradient is the mask itself.
        """
        tf = import_tensorflow()
        if not indices:
            raise ValueError("`indices` is required: no segments to explain")
        if not all(-n_classes <= index < n_classes for index in indices):
            raise ValueError(f"Invalid index value. indices: {indices}, classes: {n_classes}")
        mask = tf.constant(np.eye(n_classes, dtype=np.float32)[indices])
        return lambda output: tf.reduce_sum(output * mask, axis=-1)

    @staticmethod
    def _check_indices(class_indices: np.ndarray, n_segments: int) -> list[int]:
        indices = [int(index) for index in np.asarray(class_indices).reshape(-1)]
        if len(indices) != n_segments:
            raise ValueError(f"{len(indices)} class indices for {n_segments} segments")
        return indices


@functools.lru_cache(maxsize=32)
def linear_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32 matrix of linear interpolation from n_in to n_out samples.

    Output sample i sits at input position i * (n_in - 1) / (n_out - 1), the end points
    aligned, as in ``scipy.ndimage.zoom(..., order=1)``; each row holds the two weights of
    its neighbours and sums to 1.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError(f"sizes must be positive, got {n_in} -> {n_out}")
    matrix = np.zeros((n_out, n_in), dtype=np.float64)
    if n_in == 1 or n_out == 1:
        matrix[:, 0] = 1.0
        return matrix.astype(np.float32)
    position = np.arange(n_out) * (n_in - 1) / (n_out - 1)
    below = np.clip(np.floor(position).astype(np.intp), 0, n_in - 2)
    fraction = position - below
    rows = np.arange(n_out)
    matrix[rows, below] = 1.0 - fraction
    matrix[rows, below + 1] = fraction
    return matrix.astype(np.float32)


def expand(cam: np.ndarray, *, grid: tuple[int, int]) -> np.ndarray:
    """Bilinear expansion of class activation maps to the input grid.

    Parameters
    ----------
    cam : (n_segments, rows, columns) float32.
    grid : (frames, n_mfcc) of the network input.

    Returns
    -------
    (n_segments, frames, n_mfcc) float32: two small matrix products, the same values as
    ``scipy.ndimage.zoom(cam, factors, order=1)`` (which tf-keras-vis uses) in a fiftieth of the time.
    """
    if cam.ndim != 3:
        raise ValueError(f"expected (n, rows, columns), got {cam.shape}")
    along_time = linear_resize_matrix(cam.shape[1], int(grid[0]))
    along_coefficients = linear_resize_matrix(cam.shape[2], int(grid[1]))
    return along_time @ cam.astype(np.float32, copy=False) @ along_coefficients.T


def _compiled(model):
    """``model`` as one Keras layer that runs it as a single compiled TensorFlow function.

    The gradient tape then records one differentiable call instead of every layer's
    operations, which on a few small layers is mostly Python overhead.
    """
    tf = import_tensorflow()
    import keras

    class Compiled(keras.layers.Layer):
        def __init__(self) -> None:
            super().__init__(name=f"{model.name}_compiled")
            self.model = model
            signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
            self._function = tf.function(lambda x: model(x, training=False), input_signature=signature)

        def call(self, inputs):
            return self._function(inputs)

        def compute_output_shape(self, input_shape):
            return model.compute_output_shape(input_shape)

    return Compiled()
