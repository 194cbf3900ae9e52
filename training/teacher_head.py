"""The teacher's genre head: logistic regression from the teacher's outputs for one 3-s patch to a genre.

    python -m training.teacher_head --data ../shared/gtzan      # choose on valid, report valid and test

Fitted on the teacher pass's `train` views (every segment labelled with its clip's genre),
chosen on `valid` per clip (segment probabilities averaged), over the input (the 50 tag
probabilities, the 200 penultimate activations, or both) and the regularisation C, then
calibrated: its logits are divided by the temperature with the best log-likelihood of the `valid`
segments' genres (a strongly regularised head is nearly uniform otherwise; accuracy is unchanged). Its
probabilities on every segment the student trains on are the student's genre targets
(`training.distill`). It never runs in a request.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from training.teacher_pass import CACHE_DIR

INPUTS = ("tags", "penultimate", "both")
C_VALUES = (0.001, 0.003, 0.01, 0.03, 0.1)
TEMPERATURES = (
    1.0,
    0.5,
    0.35,
    0.3,
    0.25,
    0.2,
    0.15,
    0.1,
)  # calibration candidates (a strongly regularised head is too soft)
HEAD_FILE = Path(__file__).resolve().parent / "teacher_head.json"  # the chosen head, written by main()


def head_inputs(tags: np.ndarray, penultimate: np.ndarray, *, kind: str) -> np.ndarray:
    """(n, 50) tags and (n, 200) penultimate -> (n, d) head input of ``kind`` (one of INPUTS)."""
    if kind == "tags":
        return tags.astype(np.float64)
    if kind == "penultimate":
        return penultimate.astype(np.float64)
    if kind == "both":
        return np.concatenate([tags, penultimate], axis=1).astype(np.float64)
    raise ValueError(f"unknown head input {kind!r}; expected one of {INPUTS}")


@dataclasses.dataclass(frozen=True)
class TeacherHead:
    """Standardise, a linear layer, softmax.

    Attributes
    ----------
    genres : class order.
    kind : which teacher outputs it reads (INPUTS).
    mean, scale : (d,) standardisation; coefficients : (n_genres, d); intercept : (n_genres,).
    c : the regularisation it was fitted with.
    temperature : the calibration: logits are divided by it.
    """

    genres: tuple[str, ...]
    kind: str
    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    intercept: np.ndarray
    c: float
    temperature: float = 1.0

    def logits(self, tags: np.ndarray, penultimate: np.ndarray) -> np.ndarray:
        """(n, n_genres) pre-softmax scores of n patches."""
        inputs = (head_inputs(tags, penultimate, kind=self.kind) - self.mean) / self.scale
        return inputs @ self.coefficients.T + self.intercept

    def probabilities(self, tags: np.ndarray, penultimate: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
        """(n, n_genres) float32 calibrated probabilities of n patches, softened further by ``temperature``."""
        logits = self.logits(tags, penultimate) / (self.temperature * temperature)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "genres": list(self.genres),
            "kind": self.kind,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept.tolist(),
            "c": self.c,
            "temperature": self.temperature,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TeacherHead:
        return cls(
            genres=tuple(values["genres"]),
            kind=values["kind"],
            mean=np.asarray(values["mean"]),
            scale=np.asarray(values["scale"]),
            coefficients=np.asarray(values["coefficients"]),
            intercept=np.asarray(values["intercept"]),
            c=float(values["c"]),
            temperature=float(values["temperature"]),
        )


def fit_head(
    tags: np.ndarray,
    penultimate: np.ndarray,
    labels: np.ndarray,
    *,
    genres: tuple[str, ...],
    kind: str,
    c: float,
    weights: np.ndarray | None = None,
) -> TeacherHead:
    """Fit a head on n labelled patches: tags (n, 50), penultimate (n, 200), labels (n,) genre indices."""
    from sklearn.linear_model import LogisticRegression

    inputs = head_inputs(tags, penultimate, kind=kind)
    mean, scale = inputs.mean(axis=0), inputs.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit((inputs - mean) / scale, labels, sample_weight=weights)
    coefficients = np.zeros((len(genres), inputs.shape[1]))
    intercept = np.full(len(genres), -30.0)  # a genre without training patches is never chosen
    coefficients[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
    return TeacherHead(
        genres=genres, kind=kind, mean=mean, scale=scale, coefficients=coefficients, intercept=intercept, c=c
    )


@dataclasses.dataclass(frozen=True)
class PassedSplit:
    """Teacher pass outputs of one split's items and views, concatenated.

    Attributes
    ----------
    item_ids : the items, in the order ``item_index`` refers to; genres, kinds : their labels and kinds.
    mfcc : (n, frames, stored_mfcc) float16; tags (n, 50), penultimate (n, 200) float16.
    item_index : (n,) index into item_ids; views : (n,) the view name of each segment.
    """

    item_ids: tuple[str, ...]
    genres: tuple[str | None, ...]
    kinds: tuple[str, ...]
    mfcc: np.ndarray
    tags: np.ndarray
    penultimate: np.ndarray
    item_index: np.ndarray
    views: np.ndarray


def read_split(
    cache: Path,
    split: str,
    *,
    kinds: dict[str, tuple[str | None, str]],
    views: tuple[str, ...] | None = None,
    mfcc: bool = True,
) -> PassedSplit:
    """Every cached item view of ``split`` (optionally only ``views``).

    ``kinds`` maps item id -> (genre or None, kind); items missing from it are skipped.
    """
    item_ids, arrays, index, view_names = [], {"mfcc": [], "tags": [], "penultimate": []}, [], []
    for folder in sorted((cache / split).glob("*")):
        if folder.name not in kinds:
            continue
        files = sorted(folder.glob("*.npz"))
        files = [
            file for file in files if not file.name.endswith(".partial.npz") and (views is None or file.stem in views)
        ]
        if not files:
            continue
        item_ids.append(folder.name)
        for file in files:
            with np.load(file) as values:
                for key in arrays:
                    if key != "mfcc" or mfcc:
                        arrays[key].append(values[key])
                count = values["tags"].shape[0]
            index.append(np.full(count, len(item_ids) - 1))
            view_names.append(np.full(count, file.stem))
    if not item_ids:
        raise FileNotFoundError(f"no teacher pass outputs for split {split!r} in {cache}")
    empty = np.zeros((0,), np.float16)
    return PassedSplit(
        item_ids=tuple(item_ids),
        genres=tuple(kinds[item][0] for item in item_ids),
        kinds=tuple(kinds[item][1] for item in item_ids),
        mfcc=np.concatenate(arrays["mfcc"]) if mfcc else empty,
        tags=np.concatenate(arrays["tags"]),
        penultimate=np.concatenate(arrays["penultimate"]),
        item_index=np.concatenate(index),
        views=np.concatenate(view_names),
    )


def per_item(values: np.ndarray, item_index: np.ndarray, n_items: int) -> np.ndarray:
    """Mean of (n, d) segment values per item -> (n_items, d)."""
    sums = np.zeros((n_items, values.shape[1]))
    np.add.at(sums, item_index, values)
    return sums / np.maximum(np.bincount(item_index, minlength=n_items), 1)[:, None]


def split_report(probabilities: np.ndarray, passed: PassedSplit, clips: dict, genres: tuple[str, ...]) -> dict:
    """`training.evaluate.clip_report` of (n_segments, n_genres) probabilities averaged per clip."""
    from training.evaluate import clip_report

    clip_probabilities = per_item(probabilities, passed.item_index, len(passed.item_ids))
    return clip_report(clip_probabilities, [clips[item] for item in passed.item_ids], genres)


def gtzan_clips(data: Path) -> tuple[dict, dict[str, tuple[str, str]], tuple[str, ...]]:
    """GTZAN's clips by id, their (genre, kind) for `read_split`, and the genre order."""
    from training.data import discover_clips, genre_names

    clips = discover_clips(data)
    return (
        {clip.clip_id: clip for clip in clips},
        {clip.clip_id: (clip.genre, clip.kind) for clip in clips},
        genre_names(clips),
    )


def choose_head(cache: Path, data: Path, *, log=print) -> tuple[TeacherHead, dict[str, Any]]:
    """Fit a head for each input kind and C on `train`, keep the best per-clip on `valid`; report valid and test."""
    clips, kinds, genres = gtzan_clips(data)
    train = read_split(cache, "train", kinds=kinds, views=("clean",), mfcc=False)
    valid = read_split(cache, "valid", kinds=kinds, mfcc=False)
    labels = np.array([genres.index(train.genres[i]) for i in train.item_index])
    weights = 1.0 / np.sqrt(np.bincount(train.item_index)[train.item_index])  # long clips do not drown snippets
    best, best_score = None, -1.0
    for kind in INPUTS:
        for c in C_VALUES:
            head = fit_head(train.tags, train.penultimate, labels, genres=genres, kind=kind, c=c, weights=weights)
            score = split_report(head.probabilities(valid.tags, valid.penultimate), valid, clips, genres)["all"]
            log(f"teacher head {kind:11s} C={c:<6}  valid per clip {score['accuracy']:.3f}")
            if score["accuracy"] > best_score:
                best, best_score = head, score["accuracy"]
    best = calibrate(best, valid, genres)
    log(f"chosen: {best.kind}, C={best.c}, calibrated at temperature {best.temperature}")
    return best, head_reports(best, cache, data)


def calibrate(head: TeacherHead, valid: PassedSplit, genres: tuple[str, ...]) -> TeacherHead:
    """The head with the temperature (of TEMPERATURES) that gives `valid` segments' genres the best log-likelihood."""
    labels = np.array([genres.index(valid.genres[i]) for i in valid.item_index])

    def loss(temperature: float) -> float:
        probabilities = dataclasses.replace(head, temperature=temperature).probabilities(valid.tags, valid.penultimate)
        return float(-np.log(probabilities[np.arange(labels.size), labels] + 1e-9).mean())

    return dataclasses.replace(head, temperature=min(TEMPERATURES, key=loss))


def head_reports(head: TeacherHead, cache: Path, data: Path) -> dict[str, Any]:
    """The head's `clip_report` on `valid` and (where the teacher pass has it) `test`."""
    clips, kinds, genres = gtzan_clips(data)
    reports = {}
    for split in ("valid", "test"):
        try:
            passed = read_split(cache, split, kinds=kinds, mfcc=False)
        except FileNotFoundError:
            continue
        reports[split] = split_report(head.probabilities(passed.tags, passed.penultimate), passed, clips, genres)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.teacher_head", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--out", type=Path, default=HEAD_FILE)
    args = parser.parse_args(argv)
    head, report = choose_head(args.cache, args.data)
    args.out.write_text(json.dumps({"head": head.to_dict(), "report": report}) + "\n")
    summary = {split: {part: values[part] for part in ("all", "long", "snippet")} for split, values in report.items()}
    print(f"chosen: {head.kind}, C={head.c}, temperature {head.temperature}; {json.dumps(summary)}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
