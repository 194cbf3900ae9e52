"""Reading both GTZAN layouts: the shared MANIFEST subset and a full download's folders."""

from __future__ import annotations

import soundfile as sf

from training.data import SPLITS, discover_clips, genre_names, read_split_lists


def test_split_lists_are_disjoint_and_complete():
    assignment = read_split_lists()
    assert len(assignment) == 443 + 197 + 290  # no clip in two lists
    assert set(assignment.values()) == set(SPLITS)


def test_shared_manifest_layout(gtzan_dir):
    clips = discover_clips(gtzan_dir)
    assert {clip.split for clip in clips} == set(SPLITS)
    assert genre_names(clips) == tuple(sorted(genre_names(clips))) and len(genre_names(clips)) == 10
    assert all(clip.path.is_file() for clip in clips)
    assignment = read_split_lists()
    assert all(assignment[clip.clip_id] == clip.split for clip in clips), "MANIFEST disagrees with the split lists"


def make_full_layout(root, gtzan_dir, *, per_genre_split: int = 1):
    """A folder shaped like a full GTZAN download (wav and .au), made from the shared clips at test time."""
    assignment = read_split_lists()
    made = {}
    for clip in discover_clips(gtzan_dir):
        key = (clip.genre, clip.split)
        if clip.kind == "snippet" or made.get(key, 0) >= per_genre_split:
            continue
        data, rate = sf.read(clip.path)
        suffix, fmt = (".au", "AU") if len(made) % 2 else (".wav", "WAV")
        (root / clip.genre).mkdir(parents=True, exist_ok=True)
        sf.write(root / clip.genre / f"{clip.clip_id}{suffix}", data[: rate * 8], rate, format=fmt, subtype="PCM_16")
        made[key] = made.get(key, 0) + 1
    (root / "blues" / "README.txt").write_text("not a clip")
    assert assignment
    return root


def test_full_download_layout(tmp_path, gtzan_dir):
    root = make_full_layout(tmp_path / "genres_original", gtzan_dir)
    clips = discover_clips(root)
    assert clips and all(clip.kind == "full" for clip in clips)
    assert {clip.path.suffix for clip in clips} == {".wav", ".au"}
    assignment = read_split_lists()
    assert all(clip.split == assignment[clip.clip_id] for clip in clips)


def test_excerpts_are_looped_snippet_like_segments(full_clip):
    """The "excerpts" augmentation: one looped 2-3-s excerpt per 3 s of audio, reproducible by seed."""
    import numpy as np

    from model.audio import load_audio
    from model.features import DEFAULT_CONFIG, mfcc_segments
    from training.dataset import excerpt_features

    y = load_audio(full_clip).samples
    excerpts = excerpt_features(y, config=DEFAULT_CONFIG, seed=5)
    clean = mfcc_segments(y, config=DEFAULT_CONFIG).features
    assert excerpts.shape == (y.shape[0] // DEFAULT_CONFIG.segment_samples, *clean.shape[1:])
    np.testing.assert_array_equal(excerpts, excerpt_features(y, config=DEFAULT_CONFIG, seed=5))
    assert not np.array_equal(excerpts, excerpt_features(y, config=DEFAULT_CONFIG, seed=6))
    # a looped excerpt is not a window of the clip: no excerpt equals any clean segment
    assert not any(np.allclose(excerpt, segment) for excerpt in excerpts for segment in clean)
    short = y[: int(2.5 * DEFAULT_CONFIG.sample_rate)]
    assert excerpt_features(short, config=DEFAULT_CONFIG, seed=5).shape == (1, *clean.shape[1:])
