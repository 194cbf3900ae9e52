"""The benchmark runs end to end, and its seed baseline is the seed's pipeline (not timed here)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def a_full_clip(gtzan_dir):
    from benchmarks.clips import full_clips

    return full_clips(gtzan_dir)[0]


def test_seed_pipeline_runs_the_seed_network_on_six_second_slices(tmp_path, a_full_clip):
    import keras

    from benchmarks.pipeline import SEED_N_MFCC, save_seed_network, seed_pipeline
    from model.artifact import DEFAULT_MODEL_PATH

    path = save_seed_network(tmp_path / "seed.keras", n_genres=10)
    network = keras.saving.load_model(path)
    assert network.name == "seed_cnn"
    assert network.input_shape[1:] == (259, SEED_N_MFCC, 1)  # 6 s of 512-sample hops, 13 coefficients
    probabilities = seed_pipeline(a_full_clip, model_path=path)
    assert probabilities.shape == (10,) and np.isclose(probabilities.sum(), 1.0, atol=1e-4)
    ours = seed_pipeline(a_full_clip, model_path=DEFAULT_MODEL_PATH, segment_seconds=3.0, n_mfcc=20)
    assert ours.shape == (10,) and np.isclose(ours.sum(), 1.0, atol=1e-4)


def test_benchmark_prints_every_in_process_measure(tmp_path, gtzan_dir, a_full_clip):
    from benchmarks.__main__ import LONG_SECONDS
    from model.audio import load_audio
    from model.features import DEFAULT_CONFIG, HOP_LENGTH, SAMPLE_RATE, mfcc_segments, segment_frame_starts

    short_segments = mfcc_segments(load_audio(a_full_clip).samples, config=DEFAULT_CONFIG).features.shape[0]
    long_segments = segment_frame_starts(1 + int(LONG_SECONDS * SAMPLE_RATE) // HOP_LENGTH).shape[0]
    out = tmp_path / "bench.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "--gtzan",
        str(gtzan_dir),
        "--repeats",
        "1",
        "--seed-repeats",
        "1",
        "--skip-app",
        "--skip-cli",
        "--json",
        str(out),
    ]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    for line in (
        "1 floor",
        "2 classify",
        "3 classify + Grad-CAM",
        "5 seed pipeline",
        "seed pipeline / classify, 30-s",
        "5-min / 30-s, classify + Grad-CAM",
    ):
        assert line in finished.stdout
    results = json.loads(out.read_text())
    assert (results["30s"]["segments"], results["5min"]["segments"]) == (short_segments, long_segments)
    for clip in ("30s", "5min"):
        for measure in ("floor", "classify", "classify_gradcam", "gradcam", "seed", "seed_our_network"):
            assert results[clip][measure]["median_s"] > 0
    assert results["app"] == {"skipped": "--skip-app"} and results["cli"] is None


@pytest.mark.slow
def test_serving_measure_times_the_app_and_its_ping(tmp_path, a_full_clip):
    """The app the benchmark starts has the benchmark's own /ping_upload (the app itself has none)."""
    from benchmarks.clips import distinct_copies
    from benchmarks.serving import measure_app, running_app
    from model.artifact import DEFAULT_MODEL_PATH

    copies = distinct_copies(a_full_clip, count=8, out=tmp_path)
    with running_app(model_path=DEFAULT_MODEL_PATH, first_clip=copies.pop(), scratch=tmp_path) as app:
        timings = measure_app(app, {"30s": copies}, repeats=1)
    assert timings["30s"]["app_request"].median > timings["30s"]["gradio_minimum"].median > 0
