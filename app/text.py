"""Every sentence and label the page shows about a result: pure functions from numbers to text.

Nothing here calls the model or Gradio; the handlers (`app.handlers`) pass in what the
classifier returned. What is explained ("each segment's top genre", a genre, or a tag of a
model with a tag head) and the lines above the chart (`summary`, with its "Sounds like" tags)
are defined here once.
"""

from __future__ import annotations

import collections
import html
from collections.abc import Sequence

import numpy as np

from app import plots
from model.classifier import Classification

OWN_GENRE = "each segment's top genre"  # explain-selector value: explain every segment's own decision
TORN_MARGIN = 0.05  # top two genres closer than this: say that the model is torn
NO_AUDIO = "No audio yet: upload a file, record with the microphone or click an example."
ERROR_TITLE = "Cannot analyse this audio"
FAILURE_TITLE = "Analysis failed"
TAIL_MARK = "tail"  # shown after the time range of a segment that overlaps the one before it
TAG_CHOICE = "tag: "  # explain-selector values of tags: "tag: guitar"
SHOWN_TAGS = 5  # at most this many tags in the "Sounds like" line ...
TAG_THRESHOLD = 0.10  # ... each at least this probable (the student's top tags on the bundled examples: 0.10-0.40)
TAGS_MEANING = (
    "Tags that a tagger trained on the Million Song Dataset's listener tags would give this recording, each "
    "scored on its own (they need not add up to 100%). They describe the sound, era or mood; they are not genres."
)
TAG_STRENGTH = "(the tag's probability in this segment)"  # a tag's evidence strength, in the bar's tooltip


def in_minutes(result: Classification) -> bool:
    """Label times as min:s (recordings of a minute or more) rather than seconds."""
    return result.seconds >= 60.0


def format_span(start: float, end: float, *, minutes: bool) -> str:
    """(3.0, 6.0) -> "3.0–6.0 s"; with ``minutes`` "1:03.0–1:06.0"."""
    text = (
        f"{plots.format_time(start, minutes=minutes, decimals=1)}–{plots.format_time(end, minutes=minutes, decimals=1)}"
    )
    return text if minutes else text + " s"


def format_duration(seconds: float) -> str:
    """75.2 -> "1:15 min"; 12.34 -> "12.3 s"."""
    if seconds < 60.0:
        return f"{seconds:.1f} s"
    return f"{plots.format_time(round(seconds), minutes=True)} min"


def is_tail(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(n_segments,) bool: the segment begins before the previous one ends (the recording's last
    seconds, analysed as a whole segment; see `model.features.segment_frame_starts`)."""
    starts, ends = np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)
    return np.concatenate([[False], starts[1:] < ends[:-1] - 1e-6])


def segment_label(number: int, start: float, end: float, *, minutes: bool, tail: bool) -> str:
    """ "4. 9.0–12.0 s", or "11. 28.0–31.0 s (tail)" for a tail segment."""
    return f"{number}. {format_span(start, end, minutes=minutes)}" + (f" ({TAIL_MARK})" if tail else "")


def segment_labels(result: Classification, first: int = 0, last: int | None = None) -> list[str]:
    """`segment_label` of segments first..last-1 of a result."""
    tails = is_tail(result.starts, result.ends)
    minutes = in_minutes(result)
    last = len(result.starts) if last is None else last
    return [
        segment_label(
            index + 1, float(result.starts[index]), float(result.ends[index]), minutes=minutes, tail=bool(tails[index])
        )
        for index in range(first, last)
    ]


def page_choices(result: Classification, *, page_size: int) -> list[tuple[str, int]]:
    """Choices of the segment-range selector: ("0:00.0–1:00.0 · segments 1–20", 0), ..."""
    minutes = in_minutes(result)
    choices = []
    for first in range(0, len(result.starts), page_size):
        last = min(first + page_size, len(result.starts)) - 1
        span = format_span(float(result.starts[first]), float(result.ends[last]), minutes=minutes)
        choices.append((f"{span} · segments {first + 1}–{last + 1}", first))
    return choices


def explain_choices(genres: Sequence[str], tags: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(label, value) choices of the explain selector: each segment's own top genre, every genre, then
    every tag (alphabetically, as "tag: guitar") when the model has a tag head."""
    tag_choices = [(TAG_CHOICE + tag, TAG_CHOICE + tag) for tag in sorted(tags, key=str.lower)]
    return [(OWN_GENRE, OWN_GENRE), *((genre, genre) for genre in genres), *tag_choices]


def example_tag(tags: Sequence[str]) -> str:
    """The tag the page's guide and the API's description use as their example: guitar, if the model has it."""
    return "guitar" if "guitar" in tags else tags[0]


def explain_label(tags: Sequence[str]) -> str:
    """The explain selector's label (also the name of its value in the API)."""
    return "Explain which genre or tag?" if tags else "Explain which genre?"


def explain_api_description(tags: Sequence[str]) -> str:
    """What the API's /explain does, naming the values its ``genre`` argument takes."""
    tag = f", or a tag as {TAG_CHOICE + example_tag(tags)!r}" if tags else ""
    return (
        f"Grad-CAM panels (HTML) and their note for one genre (or each segment's own top genre, {OWN_GENRE!r}{tag}) "
        "and the range of segments starting at first_segment."
    )


def explained(choice: str | None, *, genres: Sequence[str], tags: Sequence[str] = ()) -> tuple[str | None, str | None]:
    """The (genre, tag) an explain-selector value names: (None, None) for each segment's own top genre,
    (genre, None) for a genre, (None, tag) for "tag: <tag>".

    Raises
    ------
    ValueError : the value names no genre or tag of the model.
    """
    if choice in (None, "", OWN_GENRE):
        return None, None
    if choice in genres:
        return choice, None
    tag = choice.removeprefix(TAG_CHOICE)
    if tag != choice and tag in tags:
        return None, tag
    raise ValueError(f"Unknown {'genre or tag' if tags else 'genre'} {html.escape(str(choice))!r}.")


def tags_line(result: Classification) -> str:
    """Markdown: "Sounds like: **electronic** 62% · **dance** 40%", the SHOWN_TAGS most probable tags above
    TAG_THRESHOLD, and what these tags are; "" for a model without a tag head."""
    if not result.tags:
        return ""
    shown = [(tag, probability) for tag, probability in result.top_tags(SHOWN_TAGS) if probability >= TAG_THRESHOLD]
    if shown:
        tags = " · ".join(f"**{html.escape(tag)}** {probability:.0%}" for tag, probability in shown)
    else:
        tags = f"no tag stands out (none reaches {TAG_THRESHOLD:.0%})"
    return f"Sounds like: {tags}\n\n<small>{TAGS_MEANING}</small>"


def summary(result: Classification, *, source: str | None = None) -> str:
    """Markdown above the chart: the top genre with its probability, the tags it sounds like (a model
    with a tag head), and what was analysed.

    ``source`` names the recording (a bundled example's credit); None for an upload or a recording.
    """
    (genre, probability), *_ = result.ranked()
    lines = [f"### {genre.capitalize()} · {probability:.0%}"]
    if result.tags:
        lines.append(tags_line(result))
    if source:
        lines.append(f"Example: {source}")
    return "\n\n".join(lines)


def error_summary(message: str, *, title: str = ERROR_TITLE) -> str:
    """Markdown for the place of the result when there is none: the title and the reason, in words."""
    return f"### ⚠️ {title}\n\n{html.escape(message, quote=False)}"


def analysis_note(result: Classification, *, segment_seconds: float, max_seconds: float) -> str:
    """Markdown: what was analysed, and anything that should temper the reader's trust."""
    n_segments = len(result.starts)
    lines = [
        f"Analysed **{format_duration(result.seconds)}** as {n_segments} "
        f"segment{'s' if n_segments != 1 else ''} of {segment_seconds:g} s."
    ]
    tails = is_tail(result.starts, result.ends)
    if tails.any():
        lines.append(
            f"The last segment ({TAIL_MARK}) is the recording's last {segment_seconds:g} s, so it overlaps the one "
            "before it."
        )
    rest = result.seconds - float(result.ends[-1])
    if rest >= 0.05:
        lines.append(f"The last {rest:.1f} s, shorter than a second, are in no segment.")
    if result.truncated:
        lines.append(
            f"⚠️ The recording is {format_duration(result.source_seconds)} long: only its first "
            f"{format_duration(max_seconds)} were analysed (the app's limit)."
        )
    if result.looped:
        lines.append(
            f"⚠️ The recording is shorter than one {segment_seconds:g}-s segment, so it was repeated to fill one: "
            "treat the result with extra care."
        )
    ranked = result.ranked()
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < TORN_MARGIN:
        lines.append(
            f"The model is torn between **{ranked[0][0]}** ({ranked[0][1]:.0%}) and "
            f"**{ranked[1][0]}** ({ranked[1][1]:.0%})."
        )
    votes = collections.Counter(result.segment_genres).most_common()
    if len(votes) > 1:
        lines.append("Top genre per segment: " + ", ".join(f"{genre} in {count}" for genre, count in votes) + ".")
    if result.fusion_weight > 0:
        lines.append(
            f"The recording's probabilities blend the CNN ({1 - result.fusion_weight:.0%}) with a model of the "
            f"whole recording's MFCC statistics ({result.fusion_weight:.0%}); the strip and the heatmaps show "
            "the CNN alone."
        )
    return "\n\n".join(lines)


def panel_titles(
    result: Classification, first: int, last: int, *, genre: str | None, tag: str | None = None
) -> tuple[list[str], np.ndarray]:
    """Titles of the Grad-CAM panels of segments first..last-1, and how strong each one's evidence is.

    A title reads "4. 9.0–12.0 s · rock 64%", plus " · showing jazz 2%" when another genre is
    explained, or " · showing tag guitar 31%" for a tag. A genre's strength is its probability in
    the segment relative to the segment's top genre: 1 for the top genre itself, 0.03 for a genre
    thirty times less probable. A tag's strength is its own probability in the segment (tags are
    scored independently, so none is "top").

    Returns
    -------
    (titles, strengths): last - first strings, and (last - first,) float32 in [0, 1].
    """
    genres = result.genres
    probabilities = np.asarray(result.segment_probabilities[first:last], dtype=np.float64)
    top = np.argmax(probabilities, axis=1)
    rows = np.arange(probabilities.shape[0])
    if tag is not None:
        strengths = np.asarray(result.segment_tag_probabilities[first:last, result.tags.index(tag)], np.float64)
        shown = [f" · showing {TAG_CHOICE}{tag} {strength:.0%}" for strength in strengths]
    else:
        explained_genre = top if genre is None else np.full_like(top, genres.index(genre))
        strengths = probabilities[rows, explained_genre] / np.maximum(probabilities[rows, top], 1e-12)
        shown = [
            "" if other == best else f" · showing {genres[other]} {row[other]:.0%}"
            for row, best, other in zip(probabilities, top, explained_genre)
        ]
    titles = [
        f"{label} · {genres[best]} {row[best]:.0%}{extra}"
        for label, row, best, extra in zip(segment_labels(result, first, last), probabilities, top, shown)
    ]
    return titles, np.clip(strengths, 0.0, 1.0).astype(np.float32)


def heatmap_note(
    *, first: int, last: int, n_segments: int, genre: str | None, tag: str | None = None, page_size: int
) -> str:
    """Markdown above the Grad-CAM panels: which segments, explained for what."""
    if tag is not None:
        target = f"the tag **{tag}** (a Million-Song tag, not a genre)"
        scaled = " Each panel's colour is scaled by how probable that tag is in the segment."
    elif genre is not None:
        target = f"**{genre}**"
        scaled = " Each panel's colour is scaled by how probable that genre is there, next to the segment's top genre."
    else:
        target, scaled = "its own top genre", ""
    note = f"Segments {first + 1}–{last} of {n_segments}, each explained for {target}.{scaled}"
    if n_segments > page_size:
        note += f" {page_size} segments are drawn at a time: choose another range above."
    return note
