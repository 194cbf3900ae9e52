"""The fast paths equal the straightforward ones they replace.

Grad-CAM: tf-keras-vis's `Gradcam` on the whole network (clone, ``ReplaceToLinear``,
``CategoricalScore``, ``expand_cam`` and ``normalize_cam``), as the explainer first did it.
Probabilities: a plain call of the network. A randomly initialised network of the real
architecture is enough: equality does not depend on training, and these tests do not need
the committed model.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.artifact import ModelMetadata, read_metadata
from model.features import DEFAULT_CONFIG, SAMPLE_RATE, SEGMENT_HOP_SECONDS
from model.network import GRADCAM_LAYER, build_genre_cnn
from tests.model.networks import set_trained_batch_norm

GENRES = read_metadata().genres  # the committed model's, for a network of the same shape


def music(seconds: float, *, seed: int) -> np.ndarray:
    """Notes of random pitch and length over noise: segments that differ from each other."""
    rng = np.random.default_rng(seed)
    y = 0.02 * rng.standard_normal(int(seconds * SAMPLE_RATE))
    start = 0
    while start < y.size:
        length = int(rng.uniform(0.1, 0.6) * SAMPLE_RATE)
        time = np.arange(min(length, y.size - start)) / SAMPLE_RATE
        y[start : start + time.size] += 0.3 * np.sin(2 * np.pi * rng.uniform(80, 2000) * time)
        start += length
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def classifier():
    import keras

    from model.classifier import GenreClassifier

    keras.utils.set_random_seed(7)
    network = build_genre_cnn(input_shape=DEFAULT_CONFIG.input_shape, n_genres=len(GENRES))
    shape = (DEFAULT_CONFIG.n_mfcc, DEFAULT_CONFIG.n_channels)
    rng = np.random.default_rng(0)
    set_trained_batch_norm(network, rng=rng)
    metadata = ModelMetadata(
        genres=GENRES,
        features=DEFAULT_CONFIG,
        mean=rng.normal(0, 10, shape).astype(np.float32),
        std=rng.uniform(20, 60, shape).astype(np.float32),
    )
    return GenreClassifier(network, metadata)


@pytest.fixture(scope="module")
def reference_gradcam(classifier):
    """Grad-CAM computed the straightforward way: tf-keras-vis on the whole network."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    gradcam = Gradcam(classifier.network, model_modifier=ReplaceToLinear(), clone=True)

    def heatmaps(features: np.ndarray, class_indices: np.ndarray) -> np.ndarray:
        inputs = classifier.normalise(features)
        cam = gradcam(
            CategoricalScore([int(index) for index in class_indices]),
            inputs,
            penultimate_layer=GRADCAM_LAYER,
            seek_penultimate_conv_layer=False,
            expand_cam=True,
            normalize_cam=True,
        )
        cam = np.asarray(cam, dtype=np.float32).reshape(inputs.shape[:3])
        return np.clip(np.nan_to_num(cam, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)

    return heatmaps


@pytest.mark.parametrize("seconds", [1.2, 9.0, 31.0])
def test_explain_equals_gradcam_on_the_whole_network(classifier, reference_gradcam, seconds):
    result = classifier.classify((SAMPLE_RATE, music(seconds, seed=int(seconds * 10))))
    own = np.argmax(result.segment_probabilities, axis=1)
    np.testing.assert_allclose(classifier.explain(result), reference_gradcam(result.features, own), atol=1e-5)
    fixed = np.full(own.shape, GENRES.index("jazz"))
    np.testing.assert_allclose(
        classifier.explain(result, genre="jazz"), reference_gradcam(result.features, fixed), atol=1e-5
    )


def test_a_page_of_segments_equals_gradcam_on_the_whole_network(classifier, reference_gradcam):
    result = classifier.classify((SAMPLE_RATE, music(90.0, seed=8)))  # 30 segments
    page = result.segment_range(20, 40)  # as the app explains one page of segments at a time (here the last 10)
    assert page.features.shape[0] == 10
    np.testing.assert_array_equal(page.activations, result.activations[20:40])
    np.testing.assert_array_equal(page.features, result.features[20:40])
    own = np.argmax(page.segment_probabilities, axis=1)
    np.testing.assert_allclose(classifier.explain(page), reference_gradcam(page.features, own), atol=1e-5)
    indices = np.arange(page.features.shape[0]) % len(GENRES)
    np.testing.assert_allclose(
        classifier.heatmaps(page.features, class_indices=indices), reference_gradcam(page.features, indices), atol=1e-5
    )


def test_explain_of_an_earlier_result_is_its_own(classifier, reference_gradcam):
    first = classifier.classify((SAMPLE_RATE, music(6.0, seed=1)))
    classifier.classify((SAMPLE_RATE, music(6.0, seed=2)))
    own = np.argmax(first.segment_probabilities, axis=1)
    np.testing.assert_allclose(classifier.explain(first), reference_gradcam(first.features, own), atol=1e-5)


def test_a_classification_cannot_be_changed_in_place(classifier):
    result = classifier.classify((SAMPLE_RATE, music(6.0, seed=3)))
    for values in (result.features, result.activations, result.segment_probabilities):
        with pytest.raises(ValueError, match="read-only"):
            values[:1] = 0.0


def test_more_segments_than_one_batch(classifier, reference_gradcam):
    from model.classifier import BATCH_SIZE

    features = classifier.classify((SAMPLE_RATE, music(BATCH_SIZE * SEGMENT_HOP_SECONDS + 30.0, seed=4))).features
    assert features.shape[0] > BATCH_SIZE
    indices = np.arange(features.shape[0]) % len(GENRES)
    np.testing.assert_allclose(
        classifier.heatmaps(features, class_indices=indices), reference_gradcam(features, indices), atol=1e-5
    )


def test_bad_class_indices_are_rejected(classifier):
    result = classifier.classify((SAMPLE_RATE, music(6.0, seed=5)))
    n = result.features.shape[0]
    with pytest.raises(ValueError):
        classifier.heatmaps(result.features, class_indices=np.zeros(n - 1, dtype=np.int64))
    with pytest.raises(ValueError):
        classifier.heatmaps(result.features, class_indices=np.full(n, len(GENRES)))


def test_inference_runs_with_batch_norm_folded(classifier):
    import keras

    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in classifier.network.layers)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in classifier._inference_network.layers)
    assert GRADCAM_LAYER in {layer.name for layer in classifier._inference_network.layers}


def test_fold_batch_norm_refuses_a_network_that_is_not_a_chain():
    import keras

    from model.network import fold_batch_norm

    inputs = keras.Input(shape=(8, 4, 1))
    conv = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    merged = keras.layers.Add()([keras.layers.BatchNormalization()(conv), conv])  # a skip connection
    with pytest.raises(ValueError, match="not a chain"):
        fold_batch_norm(keras.Model(inputs, merged))


def test_probabilities_equal_a_plain_network_call(classifier):
    result = classifier.classify((SAMPLE_RATE, music(20.0, seed=6)))
    plain = classifier.network(classifier.normalise(result.features), training=False).numpy()
    np.testing.assert_allclose(result.segment_probabilities, plain, atol=1e-6)
    np.testing.assert_allclose(classifier.predict_segments(result.features), plain, atol=1e-6)


@pytest.mark.parametrize("shape", [(44100, 1), (44100, 2), (2, 44100), (30000, 6), (30000, 12)])
def test_downmix_equals_numpy_mean(shape):
    from model.audio import _to_mono

    data = np.random.default_rng(sum(shape)).uniform(-1, 1, shape).astype(np.float32)
    channels_last = data.T if shape[0] < shape[1] else data
    np.testing.assert_array_equal(_to_mono(data), channels_last.mean(axis=1, dtype=np.float64).astype(np.float32))


def test_mfcc_of_a_gtzan_clip_equals_librosa(full_clip):
    import librosa

    from model.audio import load_audio
    from model.features import HOP_LENGTH, N_FFT, N_MELS, N_MFCC, mfcc, normalise_loudness

    y = normalise_loudness(load_audio(full_clip).samples)
    reference = librosa.feature.mfcc(
        y=y, sr=SAMPLE_RATE, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS
    ).T
    np.testing.assert_allclose(mfcc(y), reference, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "shape, grid",
    [
        ((10, 32, 5), (130, 20)),
        ((3, 16, 5), (130, 20)),
        ((1, 32, 5), (130, 20)),
        ((4, 7, 3), (259, 13)),
        ((2, 1, 5), (130, 20)),
        ((2, 32, 1), (130, 20)),
        ((2, 32, 5), (32, 5)),
    ],
)
def test_expand_equals_scipy_zoom(shape, grid):
    """The Grad-CAM expansion gives what tf-keras-vis's own (scipy zoom, order 1) gives."""
    from scipy.ndimage import zoom
    from tf_keras_vis.utils import zoom_factor

    from model.explain import expand

    cam = np.random.default_rng(sum(shape)).random(shape).astype(np.float32)
    reference = zoom(cam, zoom_factor(cam.shape, (shape[0], *grid)), order=1)
    np.testing.assert_allclose(expand(cam, grid=grid), reference, atol=1e-6)
