"""The teacher pass: student MFCC segments and the teacher's outputs on the same audio, cached per view.

    python -m training.teacher_pass --data ../shared/gtzan --music ~/.cache/genre-cam/music

For every item (a GTZAN clip or a transfer track) and view (the clean audio or one of the
real-world channels of `training.dataset`), the audio is cut into the student's 3-s segments and the
teacher hears exactly those 3 s of the clean audio: one teacher patch per student segment. A channel
view (MP3, noise, low-pass, telephone band) keeps the music of its clean view, and the teacher's
genre holds under such copies (the issue measured 94-97 of 98 clips), so a channel view reuses the
teacher outputs of the clean segment that starts nearest to it: the teacher runs once per segment of
music, not once per copy. Each item and view is one file ``<cache>/<split>/<item>/<view>.npz`` holding

- ``mfcc``: (n, frames, STORED_MFCC) float16 MFCC segments (the student uses the first n_mfcc),
- ``starts``: (n,) segment starts in seconds,
- ``tags``: (n, 50) and ``penultimate``: (n, 200) float16 teacher outputs.

Files already there are skipped, so an interrupted pass resumes. GTZAN's `train` clips get every
view, segments TRAIN_HOP_SECONDS apart; `valid` and `test` clips get the clean view alone, back to
back, and are used only to evaluate the teacher's genre head, never for training; transfer tracks get
the clean view, every TRANSFER_STRIDE-th back-to-back segment of their first MAX_TRACK_SECONDS
(segments spread over the track, at a sixth of the teacher's cost); ``--music-views clean,between``
adds the BETWEEN view: the clean audio's segments halfway between those (as much music again, also
heard by the teacher).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from model.features import DEFAULT_CONFIG, FeatureConfig, mfcc_segments
from training.data import discover_clips
from training.dataset import CHANNELS, augment_audio
from training.transfer import MAX_TRACK_SECONDS, list_tracks

STORED_MFCC = 40  # coefficients kept in the cache; the first 20 are exactly the 20-coefficient MFCC
TRAIN_HOP_SECONDS = 1.5  # GTZAN train segments overlap by half, as in training.train
TRANSFER_STRIDE = 6  # transfer tracks: every sixth 3-s segment (10 spread over a 3-minute track)
BETWEEN = "between"  # transfer view: clean audio, the segments TRANSFER_STRIDE // 2 after the clean view's
CLEAN_AUDIO = ("clean", BETWEEN)  # views of the clean audio, which the teacher hears; the others reuse its outputs
CACHE_DIR = Path(__file__).resolve().parent / "cache" / "teacher"


@dataclasses.dataclass(frozen=True)
class Item:
    """One recording to pass through the teacher: an id, its audio, a label if it has one, its split."""

    item_id: str
    path: Path
    genre: str | None
    split: str  # "train", "valid", "test" (GTZAN) or "transfer"
    kind: str  # GTZAN's full/trimmed/snippet, or "track"


def stored_config(*, hop_seconds: float) -> FeatureConfig:
    """The features cut for the cache: the model's, with STORED_MFCC coefficients, ``hop_seconds`` apart."""
    return dataclasses.replace(DEFAULT_CONFIG, n_mfcc=STORED_MFCC, segment_hop_seconds=hop_seconds)


def view_audio(samples: np.ndarray, *, item_id: str, view: str, sample_rate: int) -> np.ndarray:
    """The clean audio or one channel copy, seeded by item and view (as training.dataset seeds them)."""
    if view in CLEAN_AUDIO:
        return samples
    seed = int(hashlib.sha1(f"{item_id}/{view}".encode()).hexdigest()[:8], 16)
    return augment_audio(samples, kind=view, sample_rate=sample_rate, seed=seed)


def pass_item(
    item: Item,
    *,
    view: str,
    hop_seconds: float,
    max_seconds: float,
    stride: int,
    offset: int = 0,
    teacher,
    clean: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Segments and teacher outputs of one item's view (see the module docstring for the arrays).

    ``stride``, ``offset`` : keep segments offset, offset + stride, ... of the back-to-back cut.
    ``clean`` : the item's clean view, whose teacher outputs a channel view reuses (None: run the teacher).
    """
    from model.audio import load_audio
    from training.teacher import PENULTIMATE_UNITS, TAGS, run_teacher, teacher_patches

    config = stored_config(hop_seconds=hop_seconds)
    samples = view_audio(
        load_audio(item.path, max_seconds=max_seconds).samples,
        item_id=item.item_id,
        view=view,
        sample_rate=config.sample_rate,
    )
    segments = mfcc_segments(samples, config=config)
    keep = np.arange(offset, segments.starts.shape[0], stride)
    starts, mfcc = segments.starts[keep], segments.features[keep, :, :, 0]
    if not keep.size:  # a track too short to have a segment in this view
        tags, penultimate = np.zeros((0, len(TAGS))), np.zeros((0, PENULTIMATE_UNITS))
    elif clean is not None:
        nearest = np.abs(starts[:, np.newaxis] - clean["starts"][np.newaxis, :]).argmin(axis=1)
        tags, penultimate = clean["tags"][nearest], clean["penultimate"][nearest]
    else:
        outputs = run_teacher(
            teacher,
            teacher_patches(samples, sample_rate=config.sample_rate, starts=starts, seconds=config.segment_seconds),
        )
        tags, penultimate = outputs.tags, outputs.penultimate
    return {
        "mfcc": mfcc.astype(np.float16),
        "starts": starts.astype(np.float32),
        "tags": tags.astype(np.float16),
        "penultimate": penultimate.astype(np.float16),
    }


def gtzan_items(data: Path) -> list[Item]:
    return [
        Item(item_id=clip.clip_id, path=clip.path, genre=clip.genre, split=clip.split, kind=clip.kind)
        for clip in discover_clips(data)
    ]


def transfer_items(music: Path) -> list[Item]:
    return [
        Item(item_id=track.track_id, path=track.path, genre=None, split="transfer", kind="track")
        for track in list_tracks(music)
    ]


def plan(items: list[Item], *, train_views: tuple[str, ...], music_views: tuple[str, ...]) -> list[tuple[Item, str]]:
    """(item, view) pairs in the order they are worth having: clean views of train, valid and test, then the
    train channel views (cheap: no teacher), then the transfer music. Every item's clean view comes first."""
    order = {"train": 0, "valid": 1, "test": 1, "transfer": 3}
    pairs = []
    for item in items:
        views = {"train": train_views, "transfer": music_views}.get(item.split, ("clean",))
        pairs.extend((item, view) for view in ("clean", *(view for view in views if view != "clean")))
    return sorted(
        pairs,
        key=lambda pair: (
            order[pair[0].split] + 2 * (pair[1] != "clean" and pair[0].split == "train"),
            _shuffled(pair[0]),
            pair[1] != "clean",
        ),
    )


def _shuffled(item: Item) -> str:
    """Sort key: GTZAN by clip id; transfer tracks by the hash in their id, so that packages interleave and a
    pass stopped early has heard some of every package."""
    return item.item_id.rsplit(".", 1)[-1] if item.split == "transfer" else item.item_id


def cache_file(cache: Path, item: Item, view: str) -> Path:
    return cache / item.split / item.item_id / f"{view}.npz"


def run(pairs: list[tuple[Item, str]], *, cache: Path, log=print) -> None:
    """Pass every (item, view) not yet cached through the teacher; each result is written as it finishes."""
    from model.errors import AudioInputError
    from training.teacher import load_teacher

    todo = [(item, view) for item, view in pairs if not cache_file(cache, item, view).is_file()]
    log(f"{len(pairs)} item views, {len(pairs) - len(todo)} cached, {len(todo)} to do")
    if not todo:
        return
    teacher = load_teacher()
    started, segments = time.time(), 0
    for done, (item, view) in enumerate(todo, start=1):
        hop = TRAIN_HOP_SECONDS if item.split == "train" else DEFAULT_CONFIG.segment_seconds
        longest, stride = (MAX_TRACK_SECONDS, TRANSFER_STRIDE) if item.split == "transfer" else (600.0, 1)
        offset = TRANSFER_STRIDE // 2 if view == BETWEEN else 0
        clean = None
        if view not in CLEAN_AUDIO:
            if not cache_file(cache, item, "clean").is_file():
                continue  # its clean view could not be decoded
            with np.load(cache_file(cache, item, "clean")) as values:
                clean = dict(values)
        try:
            arrays = pass_item(
                item,
                view=view,
                hop_seconds=hop,
                max_seconds=longest,
                stride=stride,
                offset=offset,
                teacher=teacher,
                clean=clean,
            )
        except AudioInputError as error:
            log(f"skipped {item.path}: {error}")
            continue
        target = cache_file(cache, item, view)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial.npz")
        np.savez(partial, **arrays)
        partial.replace(target)
        segments += arrays["mfcc"].shape[0]
        if done % 25 == 0 or done == len(todo):
            elapsed = time.time() - started
            log(
                f"{done}/{len(todo)} item views, {segments} segments, {elapsed:.0f} s "
                f"({1000 * elapsed / max(segments, 1):.0f} ms per segment)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.teacher_pass", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="GTZAN folder (../shared/gtzan or a full download)")
    parser.add_argument("--music", type=Path, default=None, help="transfer music from `training.transfer fetch`")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--train-views", default=",".join(("clean", *CHANNELS)), help="views of GTZAN train clips")
    parser.add_argument("--music-views", default="clean", help=f"views of transfer tracks (clean, {BETWEEN}, ...)")
    parser.add_argument("--smoke", action="store_true", help="one clip per genre and split, two transfer tracks")
    args = parser.parse_args(argv)
    items = gtzan_items(args.data)
    transfer = transfer_items(args.music) if args.music else []
    if args.smoke:
        from training.train import smoke_subset

        kept = {clip.clip_id for clip in smoke_subset(discover_clips(args.data))}
        items, transfer = [item for item in items if item.item_id in kept], transfer[:2]
    pairs = plan(
        items + transfer, train_views=tuple(args.train_views.split(",")), music_views=tuple(args.music_views.split(","))
    )
    run(pairs, cache=args.cache, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
