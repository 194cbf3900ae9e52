"""Keras 3 Functional networks over MFCC segments.

Input: (frames, n_mfcc, channels), time along the first axis. The layer that Grad-CAM
reads is named GRADCAM_LAYER. In our network it is the last block's rectified feature
maps, the input of global average pooling: with the linear score of a dense layer on
top, Grad-CAM there equals the class activation map (CAM) of the network exactly. The
network pools the coefficient axis at most twice, so with 20 MFCCs that layer keeps 5
cells along it: the heatmap can say which coefficients mattered, not only when.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

GRADCAM_LAYER = "gradcam_features"
GENRE_OUTPUT = "genre"  # softmax over genres
TAG_OUTPUT = "tags"  # independent sigmoids over tags (the teacher's vocabulary), when the network has them


def _conv_block(x, *, filters: int, kernel: tuple[int, int], name: str):
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def build_genre_cnn(
    *,
    input_shape: tuple[int, int, int],
    n_genres: int,
    width: int = 32,
    n_tags: int = 0,
    dropout: float = 0.3,
    l2: float = 1e-4,
) -> keras.Model:
    """Our CNN: four conv blocks, global average pooling, a softmax genre head and an optional sigmoid tag head.

    Parameters
    ----------
    input_shape : (frames, n_mfcc, channels)
    n_genres : number of output classes
    n_tags : number of tags of a second head (0: genres only)
    width : filters in the first block; blocks use width, 2*width, 4*width, 4*width.

    Returns
    -------
    A Functional model mapping (batch, frames, n_mfcc, channels) to (batch, n_genres)
    probabilities (output GENRE_OUTPUT), and with ``n_tags`` also to (batch, n_tags) tag
    probabilities (output TAG_OUTPUT, second). Both heads are dense layers on the pooled
    last block, whose ReLU output (named GRADCAM_LAYER) has 1/4 of the input's time
    resolution and 1/4 of its coefficient resolution.
    """
    regulariser = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = keras.Input(shape=input_shape, name="mfcc")
    x = _conv_block(inputs, filters=width, kernel=(3, 3), name="block1")
    x = layers.MaxPooling2D((2, 2), name="block1_pool")(x)
    x = _conv_block(x, filters=2 * width, kernel=(3, 3), name="block2")
    x = layers.MaxPooling2D((2, 2), name="block2_pool")(x)
    x = _conv_block(x, filters=4 * width, kernel=(3, 3), name="block3")
    x = layers.Conv2D(4 * width, (3, 3), padding="same", kernel_regularizer=regulariser, name="block4_conv")(x)
    x = layers.BatchNormalization(name="block4_bn")(x)
    x = layers.Activation("relu", name=GRADCAM_LAYER)(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = [layers.Dense(n_genres, activation="softmax", kernel_regularizer=regulariser, name=GENRE_OUTPUT)(x)]
    if n_tags:
        outputs.append(layers.Dense(n_tags, activation="sigmoid", kernel_regularizer=regulariser, name=TAG_OUTPUT)(x))
    return keras.Model(inputs, outputs if n_tags else outputs[0], name="genre_cnn")


def fold_batch_norm(network: keras.Model) -> keras.Model:
    """An inference copy of a network with each batch norm merged into the convolution before it.

    A Conv2D followed directly by a BatchNormalization computes, at inference,
    ``gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta``: one Conv2D with its kernel scaled by
    ``s = gamma / sqrt(var + eps)`` per filter and bias ``(b - mean) * s + beta``. The copy runs
    those as one op (TensorFlow then fuses convolution, bias and ReLU) instead of a convolution
    and four element-wise passes over its output. Dropout, the identity at inference, is left
    out; every other layer is copied with its name and weights, so GRADCAM_LAYER's output and
    every output are the same tensor values (within float rounding).

    Parameters
    ----------
    network : a Functional model with one input whose layers each take one tensor and are called
        once: a chain, or a trunk that branches into several heads (outputs).

    Returns
    -------
    A new Functional model with the same input shape and outputs (in order), for inference only.

    Raises
    ------
    ValueError : a layer merges tensors or is called more than once (e.g. a skip connection).
    """
    steps = [layer for layer in network.layers if not isinstance(layer, layers.InputLayer)]
    consumers: dict[int, list] = {}
    for layer in steps:
        if len(layer._inbound_nodes) != 1 or isinstance(layer.input, (list, tuple, dict)):
            raise ValueError(f"{network.name} is not a chain or a tree of single-input layers (at {layer.name!r})")
        consumers.setdefault(id(layer.input), []).append(layer)
    inputs = keras.Input(shape=network.input_shape[1:], name=network.inputs[0].name)
    copies = {id(network.inputs[0]): inputs}  # id of a tensor of `network` -> the copy's tensor
    folded = set()
    for layer in steps:
        if id(layer) in folded:
            continue
        x = copies[id(layer.input)]
        following = consumers.get(id(layer.output), [])
        if isinstance(layer, layers.Dropout):
            copies[id(layer.output)] = x
        elif (
            isinstance(layer, layers.Conv2D)
            and len(following) == 1
            and isinstance(following[0], layers.BatchNormalization)
        ):
            copies[id(following[0].output)] = _merged_conv(layer, following[0])(x)
            folded.add(id(following[0]))
        else:
            copy = layer.__class__.from_config(layer.get_config())
            copies[id(layer.output)] = copy(x)
            copy.set_weights(layer.get_weights())
    outputs = [copies[id(output)] for output in network.outputs]
    return keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=f"{network.name}_folded")


def _merged_conv(conv, norm) -> layers.Conv2D:
    """A Conv2D (built, with weights) that computes ``norm(conv(x))`` at inference."""
    weights = conv.get_weights()
    kernel = weights[0]
    bias = weights[1] if conv.use_bias else np.zeros(kernel.shape[-1], dtype=kernel.dtype)
    gamma, beta, mean, variance = _batch_norm_weights(norm)
    scale = gamma / np.sqrt(variance + norm.epsilon)
    config = {
        **conv.get_config(),
        "use_bias": True,
        "bias_initializer": "zeros",
        "kernel_regularizer": None,
        "bias_regularizer": None,
    }
    merged = layers.Conv2D.from_config(config)
    merged.build(conv.input.shape)
    merged.set_weights([kernel * scale, (bias - mean) * scale + beta])
    return merged


def _batch_norm_weights(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(gamma, beta, moving mean, moving variance) of a BatchNormalization, ones/zeros where it has none."""
    weights = {weight.path.rsplit("/", 1)[-1]: np.asarray(weight.numpy()) for weight in layer.weights}
    mean, variance = weights["moving_mean"], weights["moving_variance"]
    gamma = weights.get("gamma", np.ones_like(mean))
    beta = weights.get("beta", np.zeros_like(mean))
    return gamma, beta, mean, variance
