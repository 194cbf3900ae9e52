"""`training.pretrain`: contrastive pre-training on unlabelled music, and starting `training.train` from it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import EXAMPLES_DIR, REPO
from training.pretrain import PretrainSettings, find_tracks, nt_xent, sample_views
from training.train import copy_matching_weights


@pytest.mark.parametrize("n_tracks, frames", [(3, 5), (8, 130)])
def test_sample_views_pair_segments_of_one_track(n_tracks, frames):
    rng = np.random.default_rng(0)
    # track i holds the value i in every cell, at lengths from exactly one segment to several
    tracks = [np.full((frames + int(rng.integers(0, 400)), 20), float(index), np.float32) for index in range(10)]
    tracks[0] = tracks[0][:frames]
    first, second = sample_views(tracks, rng=rng, n_tracks=n_tracks, frames=frames)
    assert first.shape == second.shape == (n_tracks, frames, 20, 1)
    assert np.array_equal(first[:, 0, 0, 0], second[:, 0, 0, 0])  # row i of both views: the same track
    assert len(set(first[:, 0, 0, 0].tolist())) == n_tracks  # distinct tracks in one batch
    assert np.all(first == first[:, :1, :1]) and np.all(second == second[:, :1, :1])  # each window inside its track


def test_nt_xent_is_low_for_matching_pairs_and_high_for_mismatched_ones():
    rng = np.random.default_rng(1)
    anchors = rng.normal(size=(16, 8)).astype(np.float32)
    close = anchors + 0.01 * rng.normal(size=anchors.shape).astype(np.float32)
    matched = float(nt_xent(anchors, close, temperature=0.1))
    mismatched = float(nt_xent(anchors, close[::-1], temperature=0.1))
    assert matched < 0.5
    assert mismatched > np.log(31) - 1.0  # chance level over the 31 other segments is log(31)


@pytest.mark.slow
def test_pretrain_on_the_bundled_free_music_then_train_from_it(tmp_path, gtzan_dir):
    assert len(find_tracks([EXAMPLES_DIR])) >= 10
    out = tmp_path / "pretrained.keras"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.pretrain",
            "--audio",
            str(EXAMPLES_DIR),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "10 tracks of 10 files" in completed.stdout and "contrastive loss" in completed.stdout

    import keras

    from model.network import build_genre_cnn

    source = keras.saving.load_model(out, compile=False)
    target = build_genre_cnn(input_shape=source.input_shape[1:], n_genres=10, width=PretrainSettings.width)
    copied = copy_matching_weights(source=source, target=target)
    assert copied == [f"block{index}_{kind}" for index in range(1, 5) for kind in ("conv", "bn")]

    def kernel(network, name):
        return network.get_layer(name).get_weights()[0]

    assert np.array_equal(kernel(target, "block1_conv"), kernel(source, "block1_conv"))
    assert not np.array_equal(kernel(target, "genre"), kernel(source, "genre"))

    trained = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.train",
            "--data",
            str(gtzan_dir),
            "--smoke",
            "--no-cache",
            "--init",
            str(out),
            "--out",
            str(tmp_path / "fine_tuned.keras"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert f"started from {out}: 8 layers" in trained.stdout
