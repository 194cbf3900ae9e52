"""`training.train --smoke`: the whole path on a few clips, end to end, writing a loadable artifact."""

from __future__ import annotations

import subprocess
import sys

import pytest

from model.artifact import load_artifact, read_metadata
from model.classifier import GenreClassifier
from tests.conftest import REPO
from tests.training.test_data import make_full_layout


def train_smoke(data, out):
    completed = subprocess.run(
        [sys.executable, "-m", "training.train", "--data", str(data), "--smoke", "--no-cache", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.mark.slow
def test_smoke_on_shared_gtzan(tmp_path, gtzan_dir, snippet_clip):
    out = tmp_path / "smoke.keras"
    stdout = train_smoke(gtzan_dir, out)
    assert "epoch   1/1" in stdout and "wrote" in stdout
    network, metadata = load_artifact(out)
    assert metadata.training["smoke"] is True and len(metadata.genres) == 10
    result = GenreClassifier(network, metadata).classify(snippet_clip)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_smoke_on_a_full_download_layout(tmp_path, gtzan_dir):
    root = make_full_layout(tmp_path / "genres_original", gtzan_dir)
    out = tmp_path / "full.keras"
    train_smoke(root, out)
    assert read_metadata(out).training["clips"]["train"]["kind:full"] > 0
