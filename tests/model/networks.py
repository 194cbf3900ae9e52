"""Test networks' helpers."""

from __future__ import annotations

import numpy as np


def set_trained_batch_norm(network, *, rng: np.random.Generator) -> None:
    """Give every batch norm of ``network`` statistics as after training (gamma, beta, mean, variance drawn from
    ``rng``), so that folding them into the convolutions is tested for real."""
    import keras

    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            filters = layer.get_weights()[0].shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, filters),
                    rng.normal(0, 0.3, filters),
                    rng.normal(0, 0.5, filters),
                    rng.uniform(0.3, 2.0, filters),
                ]
            )
