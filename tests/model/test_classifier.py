"""The committed model on real GTZAN clips: probabilities, segment times, aggregation, Grad-CAM."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from model.classifier import aggregate
from model.errors import AudioInputError
from model.features import (
    FRAMES_PER_SEGMENT,
    MIN_SECONDS,
    N_MFCC,
    SECONDS_PER_FRAME,
    SEGMENT_HOP_SECONDS,
    SEGMENT_SECONDS,
)


def check_result(result, *, seconds: float):
    n = result.starts.shape[0]
    assert result.probabilities.shape == (10,)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.segment_probabilities.shape == (n, 10)
    np.testing.assert_allclose(result.segment_probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert result.starts[0] == 0.0
    assert 0 <= seconds - result.ends[-1] < MIN_SECONDS  # a shorter rest is in no segment
    assert np.all(result.starts[1:] <= result.ends[:-1]), "segments leave a gap"
    assert np.all(result.ends - result.starts <= SEGMENT_SECONDS + SECONDS_PER_FRAME)
    assert result.genre == result.ranked()[0][0]


def test_full_clip(classifier, full_clip):
    seconds = sf.info(full_clip).duration
    result = classifier.classify(full_clip)
    check_result(result, seconds=seconds)
    assert result.starts.shape[0] >= (seconds - SEGMENT_SECONDS) / SEGMENT_HOP_SECONDS
    assert not result.truncated and not result.looped


def test_snippet_is_looped_into_one_segment(classifier, snippet_clip):
    seconds = sf.info(snippet_clip).duration
    result = classifier.classify(snippet_clip)
    check_result(result, seconds=seconds)
    assert result.starts.shape[0] == 1 and result.looped


def test_stereo_44k_array_matches_the_file(classifier, full_clip):
    import librosa

    y, rate = sf.read(full_clip, dtype="float32")
    stereo = np.stack([y, y], axis=1)
    upsampled = librosa.resample(stereo.T, orig_sr=rate, target_sr=44100).T
    from_file = classifier.classify(full_clip)
    from_array = classifier.classify((44100, upsampled))
    assert from_array.genre == from_file.genre
    np.testing.assert_allclose(from_array.probabilities, from_file.probabilities, atol=0.05)


def test_classify_many_equals_classify(classifier, full_clip, snippet_clip, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    results = classifier.classify_many([full_clip, bad, snippet_clip])
    assert isinstance(results[1], AudioInputError)
    for source, result in zip([full_clip, snippet_clip], [results[0], results[2]]):
        np.testing.assert_allclose(result.probabilities, classifier.classify(source).probabilities, atol=1e-5)


def test_truncation_is_reported(classifier, full_clip):
    result = classifier.classify(full_clip, max_seconds=10.0)
    assert result.truncated and result.seconds == pytest.approx(10.0, abs=0.01)
    assert result.source_seconds > 29.0


@pytest.mark.slow
def test_committed_model_reproduces_its_valid_figure(classifier, gtzan_dir, gtzan_manifest):
    """The accuracy in the metadata (and so in the README and the app) is what the model really does."""
    rows = [r for r in gtzan_manifest if r["split"] == "valid"]
    results = classifier.classify_many([gtzan_dir / r["file"] for r in rows])
    accuracy = np.mean([result.genre == row["genre"] for result, row in zip(results, rows)])
    recorded = classifier.metadata.metrics["valid"]
    assert recorded["clips"] == len(rows) == 106
    assert accuracy == pytest.approx(recorded["clip_accuracy"], abs=0.02)
    assert accuracy > 0.4  # chance is 0.1


def test_aggregate_averages_not_max_argmax():
    segment_p = np.array([[0.6, 0.4, 0.0], [0.0, 0.45, 0.55], [0.1, 0.5, 0.4]], dtype=np.float32)
    np.testing.assert_allclose(aggregate(segment_p, method="mean"), segment_p.mean(axis=0), rtol=1e-6)
    assert int(np.argmax(aggregate(segment_p, method="mean"))) == 1  # max(argmax) would say 2
    geometric = aggregate(segment_p, method="log_mean")
    assert geometric.sum() == pytest.approx(1.0) and int(np.argmax(geometric)) == 1


def test_gradcam_on_committed_model(classifier, full_clip):
    result = classifier.classify(full_clip)
    maps = classifier.explain(result)
    assert maps.shape == (result.starts.shape[0], FRAMES_PER_SEGMENT, N_MFCC)
    assert maps.dtype == np.float32 and np.all(np.isfinite(maps))
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert (maps.reshape(maps.shape[0], -1).max(axis=1) > 0.99).mean() > 0.5  # most maps reach their maximum
    other = classifier.explain(result, genre="classical")
    assert other.shape == maps.shape and not np.allclose(other, maps)


def test_gradcam_varies_along_the_coefficient_axis(classifier, full_clip):
    maps = classifier.explain(classifier.classify(full_clip))
    per_coefficient = maps.mean(axis=1)  # (n_segments, n_mfcc)
    assert per_coefficient.std(axis=1).mean() > 0.01, "heatmaps say nothing about which coefficients mattered"


def test_explain_rejects_unknown_genre(classifier, snippet_clip):
    with pytest.raises(ValueError, match="unknown genre"):
        classifier.explain(classifier.classify(snippet_clip), genre="polka")
