"""Distillation end to end on a few clips: teacher pass, teacher head, student with genre and tag heads."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import EXAMPLES_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, gtzan_dir):
    """Teacher pass (one clip per genre and split, two transfer tracks), head, and a two-epoch student."""
    from training import distill, teacher_head, teacher_pass

    root = tmp_path_factory.mktemp("distill")
    music = root / "music" / "somegame-music" / "usr" / "share" / "games" / "somegame"
    music.mkdir(parents=True)
    for name in ("hyperrogue_caribbean.ogg", "singularity_awakening.ogg"):
        shutil.copy(EXAMPLES_DIR / name, music / name)
    cache = root / "cache"
    assert (
        teacher_pass.main(
            [
                *("--data", str(gtzan_dir), "--music", str(root / "music"), "--cache", str(cache)),
                *("--music-views", "clean,between", "--smoke"),
            ]
        )
        == 0
    )
    assert teacher_head.main(["--data", str(gtzan_dir), "--cache", str(cache), "--out", str(root / "head.json")]) == 0
    out = root / "student.keras"
    assert (
        distill.main(
            [
                "--data",
                str(gtzan_dir),
                "--cache",
                str(cache),
                "--head",
                str(root / "head.json"),
                "--out",
                str(out),
                "--smoke",
            ]
        )
        == 0
    )
    return cache, root / "head.json", out


def test_teacher_pass_pairs_each_student_segment_with_one_teacher_patch(smoke_run):
    cache, _, _ = smoke_run
    files = sorted(cache.glob("*/*/*.npz"))
    assert {file.parts[-3] for file in files} == {"train", "valid", "test", "transfer"}
    for file in files:
        with np.load(file) as values:
            n = values["mfcc"].shape[0]
            assert values["mfcc"].shape[1:] == (130, 40) and values["tags"].shape == (n, 50)
            assert values["penultimate"].shape == (n, 200) and values["starts"].shape == (n,)
            assert np.all((values["tags"] >= 0) & (values["tags"] <= 1))
    transfer = sorted(cache.glob("transfer/*/clean.npz"))
    assert len(transfer) == 2
    with np.load(transfer[0]) as values:  # every sixth 3-s segment of a 30-s track
        np.testing.assert_allclose(values["starts"], [0.0, 18.0], atol=0.05)
    with np.load(transfer[0].with_name("between.npz")) as values:  # and the segments halfway between
        assert values["starts"].shape[0] >= 1 and values["tags"].shape[0] == values["starts"].shape[0]
        np.testing.assert_allclose(values["starts"], [9.0, 27.0][: values["starts"].shape[0]], atol=0.05)
    train_views = {file.stem for file in cache.glob("train/*/*.npz")}
    assert train_views == {"clean", "noise", "lowpass", "mp3", "telephone"}


def test_head_is_chosen_on_valid_and_reported_on_test(smoke_run):
    _, head_file, _ = smoke_run
    values = json.loads(head_file.read_text())
    assert values["head"]["kind"] in ("tags", "penultimate", "both")
    assert set(values["report"]) == {"valid", "test"}
    assert values["report"]["valid"]["all"]["clips"] == 8  # one clip per genre; valid has no hip-hop or reggae


def test_the_student_is_an_artifact_with_genres_and_tags(smoke_run):
    from model.classifier import GenreClassifier
    from training.teacher import TAGS

    cache, _, out = smoke_run
    classifier = GenreClassifier.load(out)
    assert classifier.tags == TAGS
    result = classifier.classify(str(EXAMPLES_DIR / "muldjord_armygeddon.ogg"))
    assert result.tag_probabilities.shape == (len(TAGS),)
    assert result.segment_tag_probabilities.shape == (len(result.starts), len(TAGS))
    metadata = json.loads(out.with_suffix(".json").read_text())
    assert metadata["training"]["teacher"].startswith("musicnn")
    assert metadata["training"]["transfer_tracks"] == 2
    clean_segments = 0
    for file in cache.glob("transfer/*/clean.npz"):
        with np.load(file) as values:
            clean_segments += values["starts"].shape[0]
    assert metadata["training"]["transfer_segments"] == clean_segments  # the 'between' views only with --between


@pytest.mark.parametrize("ema", [0.9, 0.0])
def test_with_ema_what_is_read_at_an_epoch_s_end_is_the_average_of_the_weights(ema):
    import keras

    from training.train import adam_with_average

    keras.utils.set_random_seed(0)
    network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer, callbacks = adam_with_average(0.05, ema=ema)
    network.compile(optimizer=optimizer, loss="mse")
    seen = {}

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen["last step"] = network.trainable_weights[0].numpy().copy()

        def on_epoch_end(self, epoch, logs=None):
            seen["epoch end"] = network.trainable_weights[0].numpy().copy()

    x, y = np.ones((40, 3), np.float32), np.full((40, 2), 5.0, np.float32)
    network.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[*callbacks, Record()])
    if ema:  # the average lags behind weights that keep moving towards the target
        assert np.abs(seen["epoch end"] - seen["last step"]).max() > 1e-3
    else:
        np.testing.assert_array_equal(seen["epoch end"], seen["last step"])
