"""A model with a tag head beside the genre head: the artifact, the classification, Grad-CAM of a tag, folding.

The network is untrained (random weights, batch norm statistics as after training): these tests
check the plumbing, which does not depend on training.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from model.artifact import ArtifactError, ModelMetadata, load_artifact, metadata_path, read_metadata, save_artifact
from model.features import DEFAULT_CONFIG, SAMPLE_RATE
from model.network import GRADCAM_LAYER, build_genre_cnn
from tests.conftest import EXAMPLES_DIR, REPO
from tests.model.networks import set_trained_batch_norm
from tests.model.test_equivalence import GENRES, music

TAGS = ("rock", "electronic", "guitar", "female vocalists", "80s")


def two_head_network(*, seed: int = 11, n_tags: int = len(TAGS)):
    import keras

    keras.utils.set_random_seed(seed)
    network = build_genre_cnn(input_shape=DEFAULT_CONFIG.input_shape, n_genres=len(GENRES), n_tags=n_tags, width=16)
    rng = np.random.default_rng(seed)
    set_trained_batch_norm(network, rng=rng)
    return network


def tag_metadata(*, tags=TAGS) -> ModelMetadata:
    rng = np.random.default_rng(0)
    shape = (DEFAULT_CONFIG.n_mfcc, DEFAULT_CONFIG.n_channels)
    return ModelMetadata(
        genres=GENRES,
        features=DEFAULT_CONFIG,
        mean=rng.normal(0, 10, shape).astype(np.float32),
        std=rng.uniform(20, 60, shape).astype(np.float32),
        tags=tuple(tags),
    )


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    path = tmp_path_factory.mktemp("tagged") / "tagged.keras"
    save_artifact(two_head_network(), tag_metadata(), path=path)
    return path


@pytest.fixture(scope="module")
def tagged(artifact):
    from model.classifier import GenreClassifier

    return GenreClassifier.load(artifact)


@pytest.fixture(scope="module")
def result(tagged):
    return tagged.classify((SAMPLE_RATE, music(14.0, seed=21)))


def test_artifact_round_trip(artifact):
    metadata = read_metadata(artifact)
    assert metadata.tags == TAGS and metadata.genres == GENRES
    assert json.loads(metadata_path(artifact).read_text())["tags"] == list(TAGS)
    network, loaded = load_artifact(artifact)
    assert loaded.tags == TAGS
    assert [int(output.shape[-1]) for output in network.outputs] == [len(GENRES), len(TAGS)]


def _with_tags(artifact, tmp_path, tags):
    import shutil

    copy = tmp_path / "copy.keras"
    shutil.copy(artifact, copy)
    values = json.loads(metadata_path(artifact).read_text())
    values["tags"] = list(tags)
    metadata_path(copy).write_text(json.dumps(values))
    return copy


def test_tag_count_mismatch_fails(artifact, tmp_path):
    with pytest.raises(ArtifactError, match="5 tag outputs for 4 tags"):
        load_artifact(_with_tags(artifact, tmp_path, TAGS[:4]))


def test_tag_head_without_tag_names_fails(artifact, tmp_path):
    with pytest.raises(ArtifactError, match="names 0 tags"):
        load_artifact(_with_tags(artifact, tmp_path, []))


def test_tag_names_without_tag_head_fail(tmp_path):
    path = tmp_path / "genres_only.keras"
    save_artifact(
        build_genre_cnn(input_shape=DEFAULT_CONFIG.input_shape, n_genres=len(GENRES), width=8),
        tag_metadata(),
        path=path,
    )
    with pytest.raises(ArtifactError, match="1 outputs, but the metadata names 5 tags"):
        load_artifact(path)


def test_missing_tags_key_fails(artifact, tmp_path):
    copy = _with_tags(artifact, tmp_path, TAGS)
    values = json.loads(metadata_path(copy).read_text())
    del values["tags"]
    metadata_path(copy).write_text(json.dumps(values))
    with pytest.raises(ArtifactError, match="missing key 'tags'"):
        read_metadata(copy)


def test_tag_probabilities_per_segment_and_recording(tagged, result):
    n = result.starts.shape[0]
    assert tagged.tags == result.tags == TAGS
    assert result.segment_tag_probabilities.shape == (n, len(TAGS))
    assert np.all((result.segment_tag_probabilities > 0) & (result.segment_tag_probabilities < 1))
    np.testing.assert_allclose(result.tag_probabilities, result.segment_tag_probabilities.mean(axis=0), atol=1e-6)
    plain = tagged.network(tagged.normalise(result.features), training=False)
    np.testing.assert_allclose(result.segment_probabilities, plain[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(result.segment_tag_probabilities, plain[1].numpy(), atol=1e-6)
    top = result.top_tags(3)
    assert len(top) == 3 and [p for _, p in top] == sorted([p for _, p in top], reverse=True)
    assert top[0] == (TAGS[int(np.argmax(result.tag_probabilities))], pytest.approx(result.tag_probabilities.max()))


def test_tags_in_the_json(result):
    record = result.to_dict()
    assert set(record["tags"]) == set(TAGS)
    assert record["tags"][TAGS[0]] == pytest.approx(float(result.tag_probabilities[0]), abs=1e-6)
    for index, segment in enumerate(record["segments"]):
        assert set(segment) == {"start", "end", "genre", "probabilities", "tags"}
        assert segment["tags"][TAGS[1]] == pytest.approx(float(result.segment_tag_probabilities[index, 1]), abs=1e-6)


def test_a_page_keeps_its_tags(result):
    page = result.segment_range(1, 3)
    np.testing.assert_array_equal(page.segment_tag_probabilities, result.segment_tag_probabilities[1:3])
    np.testing.assert_array_equal(page.tag_probabilities, result.tag_probabilities)


@pytest.mark.slow
def test_cli_json_and_plain_output_show_tags(artifact):
    example = min(EXAMPLES_DIR.glob("*.ogg"))
    completed = subprocess.run(
        [sys.executable, "-m", "model", "classify", "--model", str(artifact), "--json", str(example)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    record = json.loads(completed.stdout)
    assert set(record["tags"]) == set(TAGS) and all(set(s["tags"]) == set(TAGS) for s in record["segments"])


def test_plain_summary_shows_the_top_three_tags(result):
    from model.__main__ import _summary

    line = _summary("x.wav", result, top=3)
    shown = line.split("sounds like: ")[1].split("  ")[0]
    assert [item.rsplit(" ", 1)[0] for item in shown.split(", ")] == [tag for tag, _ in result.top_tags(3)]


def test_gradcam_of_a_tag(tagged, result):
    n = result.starts.shape[0]
    maps = tagged.explain(result, tag="guitar")
    assert maps.shape == (n, *result.features.shape[1:3]) and maps.dtype == np.float32
    assert np.all(np.isfinite(maps)) and maps.min() >= 0.0 and maps.max() == pytest.approx(1.0, abs=1e-3)
    genre = tagged.explain(result, genre="jazz")
    assert not np.allclose(maps, genre, atol=1e-3)
    np.testing.assert_allclose(
        maps, tagged.heatmaps(result.features, class_indices=np.full(n, TAGS.index("guitar")), tags=True), atol=1e-6
    )


def test_gradcam_of_a_tag_equals_gradcam_on_the_whole_network(tagged, result):
    """tf-keras-vis on the whole two-output network, with the tag logit as the score."""
    import tensorflow as tf
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    index = TAGS.index("electronic")
    gradcam = Gradcam(tagged.network, model_modifier=ReplaceToLinear(), clone=True)
    cam = gradcam(
        [lambda output: tf.zeros_like(output[:, 0]), CategoricalScore([index] * result.starts.shape[0])],
        tagged.normalise(result.features),
        penultimate_layer=GRADCAM_LAYER,
        seek_penultimate_conv_layer=False,
        expand_cam=True,
        normalize_cam=True,
    )
    reference = np.clip(np.nan_to_num(np.asarray(cam, dtype=np.float32), nan=0.0), 0.0, 1.0)
    np.testing.assert_allclose(tagged.explain(result, tag="electronic"), reference, atol=1e-5)


def test_explain_rejects_bad_requests(tagged, result, classifier_without_tags):
    with pytest.raises(ValueError, match="unknown tag 'polka'"):
        tagged.explain(result, tag="polka")
    with pytest.raises(ValueError, match="not both"):
        tagged.explain(result, genre="rock", tag="rock")
    plain = classifier_without_tags.classify((SAMPLE_RATE, music(4.0, seed=2)))
    assert plain.top_tags(3) == [] and "tags" not in plain.to_dict()
    with pytest.raises(ValueError, match="no tag head"):
        classifier_without_tags.explain(plain, tag="guitar")


@pytest.fixture(scope="module")
def classifier_without_tags():
    from model.classifier import GenreClassifier

    network = build_genre_cnn(input_shape=DEFAULT_CONFIG.input_shape, n_genres=len(GENRES), width=8)
    return GenreClassifier(network, tag_metadata(tags=()))


def test_folded_two_head_network_equals_the_network():
    import keras

    from model.network import fold_batch_norm

    network = two_head_network(seed=5)
    folded = fold_batch_norm(network)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert GRADCAM_LAYER in {layer.name for layer in folded.layers}
    inputs = np.random.default_rng(1).standard_normal((6, *DEFAULT_CONFIG.input_shape)).astype(np.float32)
    for plain, merged in zip(network(inputs, training=False), folded(inputs, training=False)):
        np.testing.assert_allclose(merged.numpy(), plain.numpy(), atol=1e-5)
