"""The "About the model" text, built only from what the artifact's metadata records.

Figures come from ``metadata.metrics`` with the split each was measured on; data counts
from ``metadata.training["clips"]``. Nothing here is a claim the metadata does not carry,
apart from limitations that hold by construction (ten genres, 3-s segments).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.artifact import METRICS, ModelMetadata

SPLIT_NAMES = {"train": "training", "valid": "validation", "test": "test"}
SPLIT_ORDER = ("test", "valid", "train")  # the most trustworthy figure first
KIND_NAMES = {"full": "whole clips (about 30 s)", "trimmed": "clips cut to 15–19 s", "snippet": "2–3-s excerpts"}


def _or_list(items: list[str]) -> str:
    """["a", "b", "c"] -> "a, b or c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _split_name(split: str) -> str:
    return SPLIT_NAMES.get(split, split)


def _is_fraction_measure(name: str, value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and ("accuracy" in name or "f1" in name)
        and 0.0 <= float(value) <= 1.0
    )


def _format_value(name: str, value: Any) -> str:
    if _is_fraction_measure(name, value):
        return f"{100.0 * float(value):.1f} %"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, str) and value in SPLIT_NAMES:
        return f"{_split_name(value)} split"
    return str(value)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested metric dicts -> [("all / accuracy", 0.61), ...]; lists and tables are left out."""
    rows = []
    for key, value in values.items():
        name = f"{prefix} / {key}" if prefix else str(key)
        if isinstance(value, Mapping):
            rows.extend(_flatten(value, name))
        elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
            rows.append((name, value))
    return rows


def _ordered_splits(metrics: Mapping[str, Any]) -> list[str]:
    known = [split for split in SPLIT_ORDER if isinstance(metrics.get(split), Mapping)]
    return known + [split for split, values in metrics.items() if split not in known and isinstance(values, Mapping)]


def headline(metadata: ModelMetadata) -> str:
    """One sentence with the most trustworthy per-clip accuracy and its split, or why there is none."""
    metrics = metadata.metrics or {}
    chance = 100.0 / len(metadata.genres)
    for split in _ordered_splits(metrics):
        values = metrics[split]
        accuracy = values.get("clip_accuracy")
        if not _is_fraction_measure("clip_accuracy", accuracy):
            continue
        clips = values.get("clips")
        counted = f" ({clips} clips)" if isinstance(clips, int) else ""
        sentence = (
            f"Per-clip accuracy **{100.0 * accuracy:.1f} %** on the {_split_name(split)} split{counted}; "
            f"guessing would score {chance:.0f} %."
        )
        if values.get("chosen_on") == split:
            sentence += (
                f" The {_split_name(split)} split was also used to choose this model, so the figure is optimistic."
            )
        return sentence
    return "No accuracy has been recorded for this model."


def metrics_table(metadata: ModelMetadata) -> str:
    """Every recorded measure as a Markdown table: split, measure, value ("" without metrics)."""
    metrics = metadata.metrics or {}
    rows = []
    for split in _ordered_splits(metrics):
        for name, value in _flatten(metrics[split]):
            leaf = name.rsplit(" / ", 1)[-1]
            label = METRICS.get(name, name.replace("_", " "))
            rows.append(f"| {_split_name(split)} | {label} | {_format_value(leaf, value)} |")
    if not rows:
        return ""
    return "| split | measure | value |\n|---|---|---|\n" + "\n".join(rows)


def data_table(metadata: ModelMetadata) -> tuple[str, list[str]]:
    """Clips per genre and split as a Markdown table, and sentences naming the gaps.

    Returns
    -------
    (table, gaps): the table ("" when the metadata has no counts) and one sentence per
    split that lacks some genres.
    """
    clips = (metadata.training or {}).get("clips")
    if not isinstance(clips, Mapping) or not clips:
        return "", []
    splits = [split for split in ("train", "valid", "test") if split in clips] + [
        split for split in clips if split not in ("train", "valid", "test")
    ]
    header = "| genre | " + " | ".join(_split_name(split) for split in splits) + " |"
    lines = [header, "|---" * (len(splits) + 1) + "|"]
    for genre in metadata.genres:
        counts = [str(int(clips[split].get(f"genre:{genre}", 0))) for split in splits]
        lines.append(f"| {genre} | " + " | ".join(counts) + " |")
    lines.append("| **all** | " + " | ".join(f"**{int(clips[split].get('clips', 0))}**" for split in splits) + " |")
    for kind, description in KIND_NAMES.items():
        counts = [int(clips[split].get(f"kind:{kind}", 0)) for split in splits]
        if any(counts):
            lines.append(f"| *{description}* | " + " | ".join(str(count) for count in counts) + " |")
    gaps = []
    for split in splits:
        missing = [genre for genre in metadata.genres if not clips[split].get(f"genre:{genre}")]
        if missing and clips[split].get("clips"):
            gaps.append(f"The {_split_name(split)} split has no {_or_list(missing)} clips.")
    return "\n".join(lines), gaps


def _count(value: Any, what: str) -> str | None:
    """(268, "clips") -> "268 clips"; None unless ``value`` is a count."""
    return f"{value} {what}" if isinstance(value, int) and not isinstance(value, bool) else None


def teacher_markdown(metadata: ModelMetadata) -> str:
    """How a distilled network was trained, from ``metadata.training``: its teacher (with the teacher's
    credit and licence as recorded), the teacher's genre head and the audio it learned from; "" when the
    metadata names no teacher."""
    training = metadata.training or {}
    teacher = training.get("teacher")
    if not isinstance(teacher, str) or not teacher:
        return ""
    recipe = training.get("recipe")
    made = f" (`python -m {recipe}`)" if isinstance(recipe, str) and recipe else ""
    outputs = "genre and tag probabilities" if metadata.tags else "genre probabilities"
    lines = [
        f"This network was trained by distillation{made}: it learned to give, from its MFCC alone, the "
        f"{outputs} of a larger teacher network on the same audio. The teacher is never run when you "
        "classify a recording."
    ]
    lines.append(f"**Teacher:** {teacher.rstrip('.')}.")
    head = training.get("teacher_head")
    if isinstance(head, str) and head:
        lines.append(f"**The teacher's genre head** (on the teacher's outputs): {head}.")
    labelled = [
        part
        for part in (
            _count(training.get("train_clips"), "labelled training clips"),
            _count(training.get("train_segments"), "segments"),
        )
        if part
    ]
    unlabelled = [
        part
        for part in (
            _count(training.get("transfer_tracks"), "unlabelled tracks"),
            _count(training.get("transfer_segments"), "segments"),
        )
        if part
    ]
    heard = [f"{parts[0]} ({parts[1]})" if len(parts) == 2 else parts[0] for parts in (labelled, unlabelled) if parts]
    if heard:
        lines.append("**Training audio:** " + " and ".join(heard) + ", with the teacher's outputs as targets.")
    return "### How it was trained\n\n" + "\n\n".join(lines)


def about_markdown(metadata: ModelMetadata) -> str:
    """The whole "About the model" text (Markdown) for one artifact."""
    parts = [model_paragraphs(metadata), teacher_markdown(metadata)]
    parts.append("### How well it works\n\n" + headline(metadata))
    parts.append(metrics_table(metadata))
    parts.append(data_markdown(metadata))
    parts.append(limitations_markdown(metadata))
    return "\n\n".join(part for part in parts if part)


def model_paragraphs(metadata: ModelMetadata) -> str:
    """What the network is: input, outputs, fusion (and a warning for a smoke-test model)."""
    features = metadata.features
    parts = []
    if (metadata.training or {}).get("smoke"):
        parts.append(
            "> ⚠️ **This is a smoke-test model**, trained for seconds on a handful of clips to check "
            "the pipeline. Its predictions mean nothing."
        )
    parts.append(
        f"A convolutional network ({metadata.architecture}) that hears music as MFCC: "
        f"{features.n_mfcc} coefficients every {1000.0 * features.seconds_per_frame:.0f} ms of mono audio at "
        f"{features.sample_rate} Hz, in {features.segment_seconds:g}-s segments that start every "
        f"{features.segment_hop_seconds:g} s. It gives each segment probabilities over "
        f"{len(metadata.genres)} genres ({', '.join(metadata.genres)}); the recording's are the "
        f"{'average' if metadata.aggregation == 'mean' else 'geometric mean'} of its segments'."
    )
    if metadata.tags:
        parts.append(
            f"A second output gives each segment the probability of each of {len(metadata.tags)} tags "
            f"({', '.join(metadata.tags)}), scored independently; the recording's are the average of its "
            "segments'. These tags come from the Million Song Dataset's listeners and describe sound, era or "
            "mood: they are not genres."
        )
    weight = metadata.clip_model.weight if metadata.clip_model is not None else 0.0
    if weight > 0:
        parts.append(
            f"The recording's probabilities also blend in a second, simpler model of the whole recording's "
            f"MFCC statistics (weight {weight:.2f}); Grad-CAM explains the CNN only."
        )
    return "\n\n".join(parts)


def data_markdown(metadata: ModelMetadata) -> str:
    """The training data, its clips per genre and split, and its gaps."""
    data_name = (metadata.training or {}).get("data")
    table, gaps = data_table(metadata)
    data_text = "### What it learned from\n\n"
    data_text += f"Data: **{data_name}**." if data_name else "The metadata does not name the training data."
    if table:
        data_text += " Clips per genre and split, as recorded with the model:\n\n" + table
    if gaps:
        data_text += "\n\n**Gaps:** " + " ".join(gaps) + " Figures say nothing about those genres there."
    return data_text


def limitations_markdown(metadata: ModelMetadata) -> str:
    """What the model cannot do, as a list."""
    features = metadata.features
    limitations = [
        f"It knows only these {len(metadata.genres)} genres: any recording is placed among them, even speech, "
        "birdsong or a genre it never heard.",
        f"It hears {features.segment_seconds:g} s at a time, as timbre and texture: melody, lyrics and "
        "long-range form are invisible to it.",
        "Genre labels are themselves fuzzy. A high probability means the model is confident, not that it is right.",
        "Microphone recordings (room echo, noise, small speakers) differ from the training audio: expect lower "
        "accuracy than the figures above.",
        "Grad-CAM shows where in the MFCC the network found evidence, at the coarse resolution of its last "
        "convolution layer. It is a hint about what the network used, not a musical explanation.",
    ]
    if "gtzan" in str((metadata.training or {}).get("data")).lower():
        limitations.insert(
            2,
            "GTZAN is small (1000 clips of 30 s, collected around 2000) and has known faults "
            "(repeated and mislabelled clips).",
        )
    return "### Limitations\n\n" + "\n".join(f"- {item}" for item in limitations)
