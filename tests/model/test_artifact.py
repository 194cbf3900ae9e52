"""The metadata contract: the committed model carries its parameters, and a mismatch fails loudly."""

from __future__ import annotations

import json
import shutil

import pytest

from model.artifact import DEFAULT_MODEL_PATH, ArtifactError, load_artifact, metadata_path, read_metadata
from model.features import DEFAULT_CONFIG


def test_committed_metadata_is_complete():
    metadata = read_metadata(DEFAULT_MODEL_PATH)
    assert metadata.genres == tuple(sorted(set(metadata.genres)))  # sorted genre names, stored once
    assert metadata.features == DEFAULT_CONFIG
    assert metadata.mean.shape == metadata.std.shape == (DEFAULT_CONFIG.n_mfcc, DEFAULT_CONFIG.n_channels)
    assert (metadata.std > 0).all()
    assert metadata.training["clips"]["train"]["clips"] > 0
    assert 0.0 <= metadata.metrics["valid"]["clip_accuracy"] <= 1.0
    assert not metadata.training.get("smoke", False)


def test_committed_genres_are_the_datasets(gtzan_manifest):
    assert read_metadata(DEFAULT_MODEL_PATH).genres == tuple(sorted({row["genre"] for row in gtzan_manifest}))


@pytest.fixture()
def artifact_copy(tmp_path):
    target = tmp_path / "copy.keras"
    shutil.copy(DEFAULT_MODEL_PATH, target)
    shutil.copy(metadata_path(DEFAULT_MODEL_PATH), metadata_path(target))
    return target


def _edit_metadata(path, change):
    values = json.loads(metadata_path(path).read_text())
    change(values)
    metadata_path(path).write_text(json.dumps(values))


@pytest.mark.parametrize(
    "field,value",
    [("n_mfcc", 13), ("hop_length", 256), ("sample_rate", 44100), ("segment_seconds", 6.0)],
)
def test_feature_mismatch_fails_loudly(artifact_copy, field, value):
    _edit_metadata(artifact_copy, lambda values: values["features"].__setitem__(field, value))
    with pytest.raises(ArtifactError, match=f"other feature parameters.*{field}"):
        load_artifact(artifact_copy)


def test_missing_metadata_fails(artifact_copy):
    metadata_path(artifact_copy).unlink()
    with pytest.raises(ArtifactError, match="metadata not found"):
        load_artifact(artifact_copy)


def test_malformed_metadata_fails(artifact_copy):
    _edit_metadata(artifact_copy, lambda values: values.pop("genres"))
    with pytest.raises(ArtifactError, match="incomplete or malformed"):
        load_artifact(artifact_copy)


def test_wrong_statistics_shape_fails(artifact_copy):
    _edit_metadata(artifact_copy, lambda values: values["normalisation"].__setitem__("mean", [0.0, 1.0]))
    with pytest.raises(ArtifactError, match="normalisation"):
        load_artifact(artifact_copy)


def test_genre_count_mismatch_fails(artifact_copy):
    _edit_metadata(artifact_copy, lambda values: values.__setitem__("genres", values["genres"][:9]))
    with pytest.raises(ArtifactError, match="outputs for 9 genres"):
        load_artifact(artifact_copy)
