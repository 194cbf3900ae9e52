"""Feature maths on synthetic signals: shapes, derived constants, equality with librosa."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from model import features
from model.features import FeatureConfig, mfcc, mfcc_segments, segment_frame_starts


def tone(seconds: float, *, rate: int = features.SAMPLE_RATE, frequency: float = 440.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * time) + 0.01 * rng.standard_normal(time.size)).astype(np.float32)


def test_frames_per_segment_is_what_librosa_returns():
    segment = tone(features.SEGMENT_SECONDS)
    assert segment.shape[0] == features.SEGMENT_SAMPLES
    reference = librosa.feature.mfcc(
        y=segment,
        sr=features.SAMPLE_RATE,
        n_mfcc=features.N_MFCC,
        n_fft=features.N_FFT,
        hop_length=features.HOP_LENGTH,
        n_mels=features.N_MELS,
    )
    assert reference.shape == (features.N_MFCC, features.FRAMES_PER_SEGMENT)
    assert FeatureConfig().input_shape == (features.FRAMES_PER_SEGMENT, features.N_MFCC, 1)


def test_derived_constants_are_exact():
    assert features.SEGMENT_SAMPLES == features.SEGMENT_SECONDS * features.SAMPLE_RATE
    hop_seconds = features.SEGMENT_HOP_FRAMES * features.SECONDS_PER_FRAME
    assert abs(hop_seconds - features.SEGMENT_HOP_SECONDS) < features.SECONDS_PER_FRAME


@pytest.mark.parametrize("seconds", [3.0, 7.3, 30.0])
def test_mfcc_equals_librosa(seconds):
    y = tone(seconds, seed=int(seconds * 10))
    ours = mfcc(y)
    reference = librosa.feature.mfcc(
        y=y,
        sr=features.SAMPLE_RATE,
        n_mfcc=features.N_MFCC,
        n_fft=features.N_FFT,
        hop_length=features.HOP_LENGTH,
        n_mels=features.N_MELS,
    ).T
    assert ours.shape == reference.shape == (1 + y.size // features.HOP_LENGTH, features.N_MFCC)
    np.testing.assert_allclose(ours, reference, rtol=1e-3, atol=1e-2)


def grid_frame(k: int) -> int:
    """The frame at or just before k segment hops."""
    return (k * round(features.SEGMENT_HOP_SECONDS * features.SAMPLE_RATE)) // features.HOP_LENGTH


@pytest.mark.parametrize("n_frames", [130, 131, 195, 196, 259, 260, 261, 1291, 1292, 1293, 1336, 1337, 1594, 5000])
def test_segments_step_exactly_and_a_tail_covers_a_rest_of_about_a_second(n_frames):
    width = features.FRAMES_PER_SEGMENT
    starts = segment_frame_starts(n_frames)
    assert starts[0] == 0 and np.all(np.diff(starts) > 0) and starts[-1] + width <= n_frames
    tail = starts[-1] != grid_frame(starts.size - 1)
    grid = starts[:-1] if tail else starts
    assert list(grid) == [grid_frame(k) for k in range(grid.size)]  # k * 3 s, no drift
    assert grid[-1] + width <= n_frames < grid_frame(grid.size) + width  # every segment that fits
    longest_rest = (n_frames - grid[-1] - width + 1) * features.SECONDS_PER_FRAME  # the audio is up to a frame shorter
    assert tail == (longest_rest > features.MIN_SECONDS)
    if tail:
        assert starts[-1] + width == n_frames


def test_a_30_second_clip_is_ten_segments():
    for seconds in (30.0, 30.05, 30.9):  # an MP3 decodes a little longer than its source
        n_frames = 1 + round(seconds * features.SAMPLE_RATE) // features.HOP_LENGTH
        assert len(segment_frame_starts(n_frames)) == round(30.0 / features.SEGMENT_SECONDS)


def test_segment_frame_starts_rejects_too_few_frames():
    with pytest.raises(ValueError):
        segment_frame_starts(features.FRAMES_PER_SEGMENT - 1)


@pytest.mark.parametrize("seconds", [1.0, 2.5, 3.0, 4.2, 6.1, 30.0, 61.7])
def test_mfcc_segments_shapes_and_times(seconds):
    y = tone(seconds)
    segments = mfcc_segments(y)
    n = segments.features.shape[0]
    assert segments.features.shape == (n, features.FRAMES_PER_SEGMENT, features.N_MFCC, 1)
    assert segments.features.dtype == np.float32 and np.all(np.isfinite(segments.features))
    steps = np.arange(n) * features.SEGMENT_HOP_SECONDS
    if segments.starts[-1] != steps[-1]:  # a tail: the recording's last 3 s
        assert segments.starts[-1] == pytest.approx(seconds - features.SEGMENT_SECONDS)
        assert segments.ends[-1] == pytest.approx(seconds, abs=1e-6)
        steps = steps[:-1]
    else:  # a rest under a second is left out
        assert 0 <= seconds - segments.ends[-1] < features.MIN_SECONDS
    np.testing.assert_array_equal(segments.starts[: steps.size], steps)  # exactly 0, 3, 6 ... s
    assert np.all(segments.ends - segments.starts <= features.SEGMENT_SECONDS)
    # no gap between segments
    assert np.all(segments.starts[1:] <= segments.ends[:-1])
    assert segments.looped == (seconds < features.SEGMENT_SECONDS)


def test_loudness_does_not_change_features():
    y = tone(6.0)
    loud, quiet = mfcc_segments(y).features, mfcc_segments(y * 0.01).features
    np.testing.assert_allclose(loud, quiet, rtol=1e-3, atol=1e-2)


def test_feature_config_round_trip_and_unknown_keys():
    config = FeatureConfig(n_mfcc=40)
    assert FeatureConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        FeatureConfig.from_dict({**config.to_dict(), "window": "hann"})
    without_top_db = {name: value for name, value in config.to_dict().items() if name != "top_db"}
    with pytest.raises(ValueError, match="missing feature parameters: top_db"):
        FeatureConfig.from_dict(without_top_db)


def test_derived_constants_are_the_default_config_s():
    config = features.DEFAULT_CONFIG
    assert features.SEGMENT_SAMPLES == config.segment_samples
    assert features.FRAMES_PER_SEGMENT == config.frames_per_segment
    assert features.SEGMENT_HOP_FRAMES == config.segment_hop_frames
    assert features.SECONDS_PER_FRAME == config.seconds_per_frame
    assert FeatureConfig(segment_hop_seconds=0.001).segment_hop_frames == 1  # never 0, however short the hop
