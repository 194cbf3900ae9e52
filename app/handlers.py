"""Event handlers: a recording's path in, component values out.

The model does the work (`model.classifier`); this module only calls it and turns the result
into what the components show. Input errors become `gr.Error` with the model's own message.
Recent classifications are kept by file, so explaining another genre or another range of
segments of the same recording costs only the Grad-CAM of the panels shown.
"""

from __future__ import annotations

import collections
import functools
import html
import logging
import threading
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np

from app import plots
from model.classifier import Classification, GenreClassifier
from model.errors import AudioInputError
from model.features import MAX_SECONDS

PAGE_SIZE = 20  # Grad-CAM panels per page: a minute of music (20 segments of 3 s) fits on one
RECENT_RESULTS = 8  # classifications kept for the explain event (each ~4 MB at MAX_SECONDS)
OWN_GENRE = "each segment's top genre"  # genre-select value: explain every segment's own decision
TORN_MARGIN = 0.05  # top two genres closer than this: say that the model is torn
NO_AUDIO = "No audio yet: upload a file, record with the microphone or click an example."
ERROR_TITLE = "Cannot analyse this audio"

log = logging.getLogger(__name__)


def user_errors(handler: Callable) -> Callable:
    """Show input problems as their own message, anything else as a short apology (traceback to the log)."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except AudioInputError as error:
            raise gr.Error(html.escape(str(error)), title=ERROR_TITLE, print_exception=False) from error
        except Exception as error:
            log.exception("analysis failed")
            raise gr.Error(
                f"Something went wrong on our side while analysing this recording ({type(error).__name__}). "
                "Please try again or try another file; the server log has the details.",
                title="Analysis failed",
            ) from error

    return wrapper


def in_minutes(result: Classification) -> bool:
    """Label times as min:s (recordings of a minute or more) rather than seconds."""
    return result.seconds >= 60.0


def format_span(start: float, end: float, *, minutes: bool) -> str:
    """(3.0, 6.0) -> "3.0–6.0 s"; with ``minutes`` "1:03.0–1:06.0"."""
    text = f"{plots.format_time(start, minutes=minutes, decimals=1)}–{plots.format_time(end, minutes=minutes, decimals=1)}"
    return text if minutes else text + " s"


def format_duration(seconds: float) -> str:
    """75.2 -> "1:15 min"; 12.34 -> "12.3 s"."""
    if seconds < 60.0:
        return f"{seconds:.1f} s"
    return f"{plots.format_time(round(seconds), minutes=True)} min"


def page_starts(n_segments: int, *, page_size: int = PAGE_SIZE) -> list[int]:
    """Index of the first segment of every page."""
    return list(range(0, n_segments, page_size))


def page_choices(result: Classification, *, page_size: int = PAGE_SIZE) -> list[tuple[str, int]]:
    """Dropdown choices for the segment range: ("0:00.0–0:31.5 · segments 1–20", 0), ..."""
    minutes = in_minutes(result)
    choices = []
    for first in page_starts(len(result.starts), page_size=page_size):
        last = min(first + page_size, len(result.starts)) - 1
        span = format_span(float(result.starts[first]), float(result.ends[last]), minutes=minutes)
        choices.append((f"{span} · segments {first + 1}–{last + 1}", first))
    return choices


def segment_slice(result: Classification, first: int, last: int) -> Classification:
    """The same result restricted to segments first..last-1 (recording-level fields unchanged)."""
    return result.segment_range(first, last)


def analysis_note(result: Classification, *, segment_seconds: float, max_seconds: float = MAX_SECONDS) -> str:
    """Markdown: what was analysed, and anything that should temper the reader's trust."""
    n_segments = len(result.starts)
    lines = [
        f"Analysed **{format_duration(result.seconds)}** as {n_segments} "
        f"segment{'s' if n_segments != 1 else ''} of {segment_seconds:g} s."
    ]
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


def result_json(result: Classification) -> dict[str, Any]:
    """The numbers behind the page: the CLI's JSON plus the input's length and whether it was looped."""
    return {**result.to_dict(), "source_seconds": round(result.source_seconds, 3), "looped": result.looped}


class Analyser:
    """The app's handlers, bound to one loaded classifier.

    Parameters
    ----------
    classifier : loaded (and warmed up) once at start-up.
    max_seconds : only the first this many seconds of a recording are analysed.
    page_size : Grad-CAM panels drawn per request.
    """

    def __init__(
        self, classifier: GenreClassifier, *, max_seconds: float = MAX_SECONDS, page_size: int = PAGE_SIZE
    ) -> None:
        self.classifier = classifier
        self.max_seconds = max_seconds
        self.page_size = page_size
        self._recent: collections.OrderedDict[tuple, Classification] = collections.OrderedDict()
        self._recent_lock = threading.Lock()

    @property
    def genre_choices(self) -> list[str]:
        return [OWN_GENRE, *self.classifier.genres]

    def analyse(self, audio: str | None) -> Classification:
        """Classify a file, or return the kept result of the same unchanged file."""
        if not audio:
            raise gr.Error(NO_AUDIO, title="Nothing to analyse", print_exception=False)
        path = Path(audio)
        try:
            status = path.stat()
            key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
        except OSError as error:
            raise AudioInputError(f"The uploaded file is no longer available ({path.name}); please add it again.") from error
        with self._recent_lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
        result = self.classifier.classify(path, max_seconds=self.max_seconds)
        with self._recent_lock:
            self._recent[key] = result
            while len(self._recent) > RECENT_RESULTS:
                self._recent.popitem(last=False)
        return result

    def heatmap_page(self, result: Classification, *, genre: str | None, first: int) -> tuple[str, str]:
        """Grad-CAM panels (HTML) of one page of segments and the Markdown note above them."""
        n_segments = len(result.starts)
        first = int(np.clip(first, 0, max(0, n_segments - 1)))
        first -= first % self.page_size
        last = min(first + self.page_size, n_segments)
        page = segment_slice(result, first, last)
        heatmaps = self.classifier.explain(page, genre=genre)
        minutes = in_minutes(result)
        genres = result.genres
        titles = []
        for index in range(last - first):
            probabilities = page.segment_probabilities[index]
            top = int(np.argmax(probabilities))
            title = (
                f"{first + index + 1}. {format_span(float(page.starts[index]), float(page.ends[index]), minutes=minutes)}"
                f" · {genres[top]} {probabilities[top]:.0%}"
            )
            if genre is not None and genre != genres[top]:
                title += f" · showing {genre} {probabilities[genres.index(genre)]:.0%}"
            titles.append(title)
        panels = plots.heatmap_html(
            page.features[..., 0],
            heatmaps,
            starts=page.starts,
            seconds_per_frame=self.classifier.metadata.features.seconds_per_frame,
            titles=titles,
            minutes=minutes,
        )
        target = "its own top genre" if genre is None else f"**{genre}**"
        note = f"Segments {first + 1}–{last} of {n_segments}, each explained for {target}."
        if n_segments > self.page_size:
            note += f" {self.page_size} segments are drawn at a time: choose another range above."
        return panels, note

    @user_errors
    def classify(self, audio: str | None, progress: gr.Progress = gr.Progress()) -> tuple:
        """Everything the page shows for one recording.

        Returns
        -------
        (top genre, probability table, genre strip (HTML), analysis note, genre-select update,
        segment-range update, heatmap HTML, heatmap note, result JSON)
        """
        progress(0.05, desc="Decoding and analysing the audio")
        result = self.analyse(audio)
        progress(0.6, desc="Explaining with Grad-CAM")
        panels, heatmap_note = self.heatmap_page(result, genre=None, first=0)
        progress(0.9, desc="Drawing")
        strip = plots.image_html(
            plots.genre_strip(result.genres, result.segment_probabilities, result.starts, result.ends),
            alt=f"Genre probabilities over time; top genre overall: {result.genre}",
        )
        choices = page_choices(result, page_size=self.page_size)
        return (
            {genre: float(p) for genre, p in zip(result.genres, result.probabilities)},
            plots.probability_table(result.genres, result.probabilities),
            strip,
            analysis_note(
                result, segment_seconds=self.classifier.metadata.features.segment_seconds, max_seconds=self.max_seconds
            ),
            OWN_GENRE,  # a plain value: an update would make Gradio rebuild the component
            gr.update(choices=choices, value=choices[0][1], visible=len(choices) > 1),
            panels,
            heatmap_note,
            result_json(result),
        )

    @user_errors
    def explain(
        self,
        audio: str | None,
        genre_choice: str | None,
        first_segment: int | None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, str]:
        """Grad-CAM panels of one range of segments for one genre (or each segment's own top genre).

        Returns
        -------
        (heatmap HTML, heatmap note)
        """
        progress(0.1, desc="Explaining with Grad-CAM")
        result = self.analyse(audio)
        genre = None if genre_choice in (None, "", OWN_GENRE) else genre_choice
        if genre is not None and genre not in result.genres:
            raise gr.Error(f"Unknown genre {html.escape(str(genre))!r}.", title=ERROR_TITLE, print_exception=False)
        return self.heatmap_page(result, genre=genre, first=int(first_segment or 0))

