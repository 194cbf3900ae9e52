"""The Keras 3 port of musicnn's MSD tagger against the original TF1 graph, and its input pipeline.

``data/musicnn_reference.npz`` holds 6 input patches (two 3-s patches of 6.2-s excerpts of three
bundled examples: muldjord_armygeddon from 5 s, wesnoth_siege_of_laurelmor from 10 s,
supertux_chipdisko from 3 s) with the tags and penultimate activations that the ORIGINAL graph in
the musicnn 0.1.0 wheel computed for them (``../shared/teacher/reference_taggram.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.conftest import EXAMPLES_DIR

REFERENCE = Path(__file__).resolve().parent / "data" / "musicnn_reference.npz"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def teacher():
    from training.teacher import load_teacher

    return load_teacher()


def test_port_matches_the_original_graph(teacher):
    from training.teacher import TAGS, run_teacher

    reference = np.load(REFERENCE)
    outputs = run_teacher(teacher, reference["inputs"])
    assert outputs.tags.shape == (6, len(TAGS)) and outputs.penultimate.shape == (6, 200)
    np.testing.assert_allclose(outputs.tags, reference["tags"], atol=1e-3)
    np.testing.assert_allclose(
        outputs.penultimate, reference["penultimate"], atol=1e-3 * np.abs(reference["penultimate"]).max()
    )
    top = [TAGS[int(index)] for index in reference["tags"].reshape(3, 2, -1).mean(axis=1).argmax(axis=1)]
    assert top == ["metal", "instrumental", "electronic"]  # death metal, orchestral score, dance tune


def _example(name: str, seconds: float) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(EXAMPLES_DIR / name, dtype="float32", always_2d=True)
    return samples.mean(axis=1)[: int(seconds * rate)], rate


def test_patches_follow_the_student_segments_and_ignore_the_level():
    from training.teacher import N_MELS, PATCH_FRAMES, teacher_patches

    y, rate = _example("muldjord_armygeddon.ogg", 9.0)
    patches = teacher_patches(y, sample_rate=rate, starts=np.array([0.0, 3.0, 6.0]), seconds=3.0)
    assert patches.shape == (3, PATCH_FRAMES, N_MELS) and np.isfinite(patches).all()
    quieter = teacher_patches(y * 10 ** (-12 / 20), sample_rate=rate, starts=np.array([0.0, 3.0, 6.0]), seconds=3.0)
    np.testing.assert_allclose(quieter, patches, atol=1e-2)
    assert not np.allclose(patches[0], patches[1], atol=0.1)  # different excerpts, different patches


def test_a_short_recording_is_looped_to_one_patch():
    from training.teacher import teacher_patches

    y, rate = _example("supertux_chipdisko.ogg", 1.5)
    (patch,) = teacher_patches(y, sample_rate=rate, starts=np.array([0.0]), seconds=3.0)
    period = round(1.5 * 16000 / 256)  # frames in one repeat of the recording
    first, repeat = patch[5 : period - 5], patch[period + 5 : 2 * period - 5]
    assert np.corrcoef(first.ravel(), repeat.ravel())[0, 1] > 0.95  # the second 1.5 s repeat the first
    assert np.corrcoef(first.ravel(), patch[10:period].ravel()[: first.size])[0, 1] < 0.95


def test_transfer_tracks_leave_out_duplicates_short_files_and_example_sources(tmp_path):
    from training.transfer import list_tracks

    package = tmp_path / "somegame-music" / "usr" / "share" / "games" / "somegame"
    package.mkdir(parents=True)
    shutil.copy(EXAMPLES_DIR / "wesnoth_siege_of_laurelmor.ogg", package / "a.ogg")
    shutil.copy(EXAMPLES_DIR / "wesnoth_siege_of_laurelmor.ogg", package / "copy_of_a.ogg")  # byte-identical
    shutil.copy(EXAMPLES_DIR / "supertux_chipdisko.ogg", package / "example_source.ogg")
    y, rate = _example("singularity_awakening.ogg", 5.0)
    soundfile.write(package / "jingle.wav", y, rate)  # shorter than a track
    tracks = list_tracks(tmp_path, excluded={"/usr/share/games/somegame/example_source.ogg"})
    assert [track.path.name for track in tracks] == ["a.ogg"]
    assert tracks[0].package == "somegame-music" and tracks[0].seconds == pytest.approx(30.0, abs=0.5)


def test_a_track_too_short_for_the_between_view_gives_an_empty_view(tmp_path):
    from training.teacher_pass import BETWEEN, TRANSFER_STRIDE, Item, pass_item

    y, rate = soundfile.read(EXAMPLES_DIR / "hyperrogue_caribbean.ogg", frames=8 * 22050)
    soundfile.write(tmp_path / "short.wav", y, rate)
    item = Item(item_id="short", path=tmp_path / "short.wav", genre=None, split="transfer", kind="track")
    arrays = pass_item(
        item, view=BETWEEN, hop_seconds=3.0, max_seconds=180.0, stride=TRANSFER_STRIDE, offset=3, teacher=None
    )  # 8 s: segments at 0 and 3 s, none at 9 s, so the teacher is never asked
    assert arrays["mfcc"].shape[0] == arrays["tags"].shape[0] == arrays["penultimate"].shape[0] == 0
    assert arrays["tags"].shape[1] == 50 and arrays["penultimate"].shape[1] == 200
