"""Experiment-only pieces kept in training/: MFCC deltas and the seed project's CNN."""

from __future__ import annotations

import numpy as np

from model import features
from model.features import mfcc
from training.baseline import add_deltas, build_seed_cnn


def test_deltas_add_two_channels():
    rng = np.random.default_rng(0)
    time = np.arange(int(5.0 * features.SAMPLE_RATE)) / features.SAMPLE_RATE
    y = (0.3 * np.sin(2 * np.pi * 440.0 * time) + 0.01 * rng.standard_normal(time.size)).astype(np.float32)
    coefficients = mfcc(y)
    stacked = add_deltas(coefficients)
    assert stacked.shape == (*coefficients.shape, 3)
    np.testing.assert_array_equal(stacked[..., 0], coefficients)


def test_seed_cnn_has_the_gradcam_layer_and_one_genre_output():
    from model.network import GENRE_OUTPUT, GRADCAM_LAYER

    network = build_seed_cnn(input_shape=(259, 13, 1), n_genres=10)
    assert network.output_shape == (None, 10)
    assert {GRADCAM_LAYER, GENRE_OUTPUT} <= {layer.name for layer in network.layers}
