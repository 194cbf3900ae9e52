"""The committed model's Grad-CAM passes the deletion test; the training choices behind it do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from training.compare import mean_report
from training.faithfulness import deletion_drops
from training.inference_options import aggregate_clips
from training.train import segment_weights, spec_augment

DELETION_TARGET = 1.5  # issue: Grad-CAM's top cells must matter at least this much more than random ones


@pytest.fixture(scope="module")
def valid_segments(classifier, gtzan_dir) -> np.ndarray:
    """120 evenly spaced valid segments of real GTZAN audio."""
    from training.data import discover_clips
    from training.dataset import build_segments

    clips = [clip for clip in discover_clips(gtzan_dir) if clip.split == "valid"]
    segments = build_segments(clips, genres=classifier.genres, config=classifier.metadata.features, cache_dir=None)
    return segments.features[np.linspace(0, segments.features.shape[0] - 1, 120).astype(int)]


@pytest.mark.slow
@pytest.mark.parametrize("head", ["genre", "tag"])
def test_committed_gradcam_passes_the_deletion_test(classifier, valid_segments, head):
    """Masking Grad-CAM's top 20 % of cells hurts the explained genre (or tag) far more than random cells."""
    assert classifier.tags, "the committed model has a tag head"
    result = deletion_drops(classifier, valid_segments, tags=head == "tag")
    assert result["segments"] == 120
    # a segment's top tag is rarely above 0.5 (tags are scored independently), so its drops are smaller
    assert result["gradcam_drop"] > {"genre": 0.05, "tag": 0.005}[head], result
    assert result["gradcam_drop"] >= DELETION_TARGET * result["random_drop"], result


def test_cell_masks_hide_scattered_single_cells_at_the_mean():
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(64, 130, 20, 1)).astype(np.float32) + 5.0  # nothing is 0 before masking
    masked = spec_augment(batch, rng=np.random.default_rng(1), time_masks=0, coeff_masks=0, cell_masks=0.3)
    hidden = masked[..., 0] == 0.0
    share = hidden.mean(axis=(1, 2))
    assert 0.0 <= share.min() and share.max() <= 0.36  # U(0, 0.3) per segment, plus sampling noise
    assert 0.1 < share.mean() < 0.2  # the mean of U(0, 0.3) is 0.15
    assert not np.any(hidden.all(axis=1)) and not np.any(hidden.all(axis=2))  # cells, not stripes
    np.testing.assert_array_equal(masked[~hidden], batch[~hidden])  # the rest untouched
    unmasked = spec_augment(batch, rng=np.random.default_rng(1), time_masks=0, coeff_masks=0, cell_masks=0.0)
    np.testing.assert_array_equal(unmasked, batch)


def test_class_balanced_weights_give_every_genre_the_same_mass():
    labels = np.array([0] * 30 + [1] * 5 + [2] * 10)
    clips = np.arange(labels.size) // 5  # five segments per clip
    weights = segment_weights(labels, clips, n_genres=3, clip_balance=0.5, class_balance=True)
    mass = np.bincount(labels, weights=weights)
    np.testing.assert_allclose(mass, mass[0])
    assert weights.mean() == pytest.approx(1.0)


def test_aggregations_agree_on_a_clear_case_and_differ_on_a_split_one():
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.45, 0.55], [0.45, 0.55]], dtype=np.float32)
    clip_index = np.array([0, 0, 1, 1, 1])
    for method in ("mean", "geometric", "vote"):
        out = aggregate_clips(p, clip_index, n_clips=2, method=method)
        assert out.shape == (2, 2) and np.allclose(out.sum(axis=1), 1.0)
        assert out[0].argmax() == 0 and out[1].argmax() == 1
    with pytest.raises(ValueError):
        aggregate_clips(p, clip_index, n_clips=2, method="max")


def test_mean_report_averages_accuracies_and_keeps_counts():
    def report(accuracy, f1):
        return {
            "all": {"accuracy": accuracy, "clips": 10},
            "long": {"accuracy": None, "clips": 0},
            "snippet": {"accuracy": accuracy, "clips": 10},
            "macro_f1": f1,
        }

    mean = mean_report([report(0.4, 0.3), report(0.5, 0.5)])
    assert mean["all"] == {"accuracy": 0.45, "clips": 10}
    assert mean["long"] == {"accuracy": None, "clips": 0}
    assert mean["macro_f1"] == pytest.approx(0.4)
