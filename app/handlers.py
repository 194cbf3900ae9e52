"""Event handlers: a recording's path in, the page's values (`app.page.Outputs`) out.

The model does the work (`model.classifier`) and `app.text` writes the words; this module
only calls them. Two kinds of entry point share that work:

- for the page (``show``, ``explain_shown``, ``jump``): never an error state; a recording
  that cannot be analysed clears the result and puts the reason in its place, where it stays;
- for the API (``classify``, ``explain``): input problems raise `gr.Error` with the model's
  own message, titled ERROR_TITLE, so that a client gets an exception.

Recent classifications are kept by file, so explaining another genre, another range of
segments or playing a segment of the same recording costs only what that needs.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from app import plots, text
from app.examples import Example, find_example
from app.page import Outputs, Panels
from model.audio import load_audio
from model.classifier import Classification, GenreClassifier
from model.errors import AudioInputError
from model.features import MAX_SECONDS

PAGE_SIZE = 20  # Grad-CAM panels per page: a minute of music (20 segments of 3 s) fits on one
RECENT_RESULTS = (
    8  # classifications kept for the explain event (each up to ~16 MB at MAX_SECONDS, activations included)
)
GONE = "This recording is no longer kept on the server: please analyse it again."

log = logging.getLogger(__name__)


class NoAudio(AudioInputError):
    """An event without a recording (the Classify button before any upload)."""


@dataclasses.dataclass(frozen=True)
class Analysis:
    """A classified recording as the page keeps it."""

    key: str  # opaque: names the recording in the page (Play buttons) without naming a server path
    path: Path
    result: Classification
    example: Example | None


def api_errors(handler: Callable) -> Callable:
    """Raise input problems as `gr.Error` with their own message, anything else as a short apology."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except AudioInputError as error:
            title = "Nothing to analyse" if isinstance(error, NoAudio) else text.ERROR_TITLE
            raise gr.Error(str(error), title=title, print_exception=False) from error
        except Exception as error:
            log.exception("analysis failed")
            raise gr.Error(failure_message(error), title=text.FAILURE_TITLE) from error

    return wrapper


def failure_message(error: Exception) -> str:
    return (
        f"Something went wrong on our side while analysing this recording ({type(error).__name__}). "
        "Please try again or try another file; the server log has the details."
    )


def segment_slice(result: Classification, first: int, last: int) -> Classification:
    """The same result restricted to segments first..last-1 (recording-level fields unchanged)."""
    return result.segment_range(first, last)


def result_json(result: Classification) -> dict[str, Any]:
    """The numbers behind the page: the CLI's JSON plus the input's length and whether it was looped."""
    return {**result.to_dict(), "source_seconds": round(result.source_seconds, 3), "looped": result.looped}


def empty_outputs(summary: str = "") -> Outputs[Any]:
    """The page without a result: every output cleared, ``summary`` (Markdown) in the result's place."""
    return Outputs(
        summary=summary,
        chart=None,
        analysis_note="",
        strip="",
        explain_choice=text.OWN_GENRE,
        segment_range=gr.update(visible=False),
        panels=Panels(heatmaps="", heatmap_note=""),
        result=None,
    )


class Analyser:
    """The app's handlers, bound to one loaded classifier.

    Parameters
    ----------
    classifier : loaded (and warmed up) once at start-up.
    examples : the bundled examples, named in the summary when one is analysed.
    max_seconds : only the first this many seconds of a recording are analysed.
    page_size : Grad-CAM panels drawn per request.
    """

    def __init__(
        self,
        classifier: GenreClassifier,
        *,
        examples: list[Example] = (),
        max_seconds: float = MAX_SECONDS,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.classifier = classifier
        self.examples = list(examples)
        self.max_seconds = max_seconds
        self.page_size = page_size
        self._recent: collections.OrderedDict[str, Analysis] = collections.OrderedDict()
        self._decoded: tuple[str, np.ndarray] | None = None  # the last recording played from
        self._lock = threading.Lock()

    # --- the work -----------------------------------------------------------------------

    def analyse(self, audio: str | None) -> Analysis:
        """Classify a file, or return the kept analysis of the same unchanged file."""
        if not audio:
            raise NoAudio(text.NO_AUDIO)
        path = Path(audio)
        try:
            status = path.stat()
        except OSError as error:
            raise AudioInputError(
                f"The uploaded file is no longer available ({path.name}); please add it again."
            ) from error
        identity = f"{path.resolve()}\0{status.st_size}\0{status.st_mtime_ns}"
        key = hashlib.sha256(identity.encode()).hexdigest()[:20]
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
        result = self.classifier.classify(path, max_seconds=self.max_seconds)
        analysis = Analysis(key=key, path=path, result=result, example=find_example(path, self.examples))
        with self._lock:
            self._recent[key] = analysis
            while len(self._recent) > RECENT_RESULTS:
                self._recent.popitem(last=False)
        return analysis

    def panels(self, analysis: Analysis, *, genre: str | None, tag: str | None = None, first: int) -> Panels[str]:
        """Grad-CAM panels (HTML) of the page of segments holding segment ``first``, and the note above them.

        ``genre`` or ``tag`` is explained in every segment; with neither, each segment's own top genre.
        """
        result = analysis.result
        n_segments = len(result.starts)
        first = int(np.clip(first, 0, max(0, n_segments - 1)))
        first -= first % self.page_size
        last = min(first + self.page_size, n_segments)
        page = segment_slice(result, first, last)
        titles, strengths = text.panel_titles(result, first, last, genre=genre, tag=tag)
        html = plots.heatmap_html(
            page.features[..., 0],
            self.classifier.explain(page, genre=genre, tag=tag),
            starts=page.starts,
            seconds_per_frame=self.classifier.metadata.features.seconds_per_frame,
            titles=titles,
            minutes=text.in_minutes(result),
            strengths=None if genre is None and tag is None else strengths,
            strength_meaning=plots.GENRE_STRENGTH if tag is None else text.TAG_STRENGTH,
            first_index=first,
            recording=analysis.key,
        )
        note = text.heatmap_note(
            first=first, last=last, n_segments=n_segments, genre=genre, tag=tag, page_size=self.page_size
        )
        return Panels(heatmaps=html, heatmap_note=note)

    def outputs(self, audio: str | None, progress: gr.Progress) -> Outputs[Any]:
        """Everything the page shows for one recording. Raises AudioInputError."""
        progress(0.05, desc="Decoding and analysing the audio")
        analysis = self.analyse(audio)
        result = analysis.result
        progress(0.6, desc="Explaining with Grad-CAM")
        panels = self.panels(analysis, genre=None, first=0)
        progress(0.9, desc="Drawing")
        labels = [f"{label} · {genre}" for label, genre in zip(text.segment_labels(result), result.segment_genres)]
        choices = text.page_choices(result, page_size=self.page_size)
        return Outputs(
            summary=text.summary(result, source=analysis.example.credit if analysis.example else None),
            chart=plots.probability_table(result.genres, result.probabilities),
            analysis_note=text.analysis_note(
                result, segment_seconds=self.classifier.metadata.features.segment_seconds, max_seconds=self.max_seconds
            ),
            strip=plots.genre_strip_html(
                result.genres,
                result.segment_probabilities,
                result.starts,
                result.ends,
                labels=labels,
                note="Each column is a segment, each row a genre: the brighter, the more probable. The dot marks "
                "the segment's top genre; click a column to see and hear that segment.",
            ),
            explain_choice=text.OWN_GENRE,  # a plain value: an update would make Gradio rebuild the component
            segment_range=gr.update(choices=choices, value=choices[0][1], visible=len(choices) > 1),
            panels=panels,
            result=result_json(result),
        )

    def explained_panels(self, audio: str | None, choice: str | None, first_segment: int | None) -> Panels[str]:
        """Grad-CAM panels of one range of segments for one genre or tag (or each segment's own top genre)."""
        analysis = self.analyse(audio)
        try:
            genre, tag = text.explained(choice, genres=analysis.result.genres, tags=analysis.result.tags)
        except ValueError as error:
            raise AudioInputError(str(error)) from error
        return self.panels(analysis, genre=genre, tag=tag, first=int(first_segment or 0))

    # --- the API: errors are exceptions -----------------------------------------------

    @api_errors
    def classify(self, audio: str | None, progress: gr.Progress = gr.Progress()) -> list:
        """Every output of the page for one recording, in `app.page.Outputs` order."""
        return self.outputs(audio, progress).as_list()

    @api_errors
    def explain(
        self, audio: str | None, genre: str | None, first_segment: int | None, progress: gr.Progress = gr.Progress()
    ) -> list:
        """The Grad-CAM panels (HTML) and their note for one genre or tag and one range of segments."""
        progress(0.1, desc="Explaining with Grad-CAM")
        return self.explained_panels(audio, genre, first_segment).as_list()

    # --- the page: errors are shown where the result would be ------------------------

    def show(self, audio: str | None, progress: gr.Progress = gr.Progress()) -> list:
        """`classify` for the page: a recording that cannot be analysed clears the result and says why."""
        try:
            return self.outputs(audio, progress).as_list()
        except NoAudio as error:
            return empty_outputs(text.error_summary(str(error), title="Nothing to analyse")).as_list()
        except AudioInputError as error:  # no toast: Gradio would title it "Warning" and take it away
            return empty_outputs(text.error_summary(str(error))).as_list()
        except Exception as error:
            log.exception("analysis failed")
            return empty_outputs(text.error_summary(failure_message(error), title=text.FAILURE_TITLE)).as_list()

    def explain_shown(
        self, audio: str | None, genre: str | None, first_segment: int | None, progress: gr.Progress = gr.Progress()
    ) -> list:
        """`explain` for the page: a problem empties the panels and says why in their note."""
        progress(0.1, desc="Explaining with Grad-CAM")
        try:
            return self.explained_panels(audio, genre, first_segment).as_list()
        except AudioInputError as error:
            return Panels(heatmaps="", heatmap_note=text.error_summary(str(error))).as_list()
        except Exception as error:
            log.exception("explaining failed")
            return Panels(
                heatmaps="", heatmap_note=text.error_summary(failure_message(error), title=text.FAILURE_TITLE)
            ).as_list()

    def jump(self, audio: str | None, genre: str | None, event: gr.EventData) -> list:
        """A click on the strip's column of a segment whose panel is not drawn: draw its page.

        ``event`` carries ``segment`` (the index the strip's button names). Returns the
        segment-range selector's value, then `Panels`.
        """
        segment = int(getattr(event, "segment", 0) or 0)
        first = segment - segment % self.page_size
        return [first, *self.explain_shown(audio, genre, first)]

    def segment_audio(self, recording: str, segment: int) -> dict[str, str]:
        """One segment of a recently analysed recording as a WAV data URI, for its panel's Play button.

        Parameters
        ----------
        recording : the analysis key the panels carry (``div.gc-page[data-recording]``).
        segment : the segment's index in the recording.

        Returns
        -------
        {"audio": "data:audio/wav;base64,...", "label": the segment's time range}, or {"error": why not}.
        """
        with self._lock:
            analysis = self._recent.get(str(recording))
        if analysis is None:
            return {"error": GONE}
        result = analysis.result
        try:
            index = int(segment)
        except (TypeError, ValueError):
            index = -1
        if not 0 <= index < len(result.starts):
            return {"error": f"There is no segment {segment!r} in this recording."}
        try:
            samples = self._samples(analysis)
        except AudioInputError:  # its upload has been deleted since (and its message would name a server path)
            return {"error": GONE}
        rate = self.classifier.metadata.features.sample_rate
        start, end = round(float(result.starts[index]) * rate), round(float(result.ends[index]) * rate)
        return {
            "audio": plots.wav_data_uri(samples[start:end], sample_rate=rate),
            "label": text.segment_labels(result, index, index + 1)[0],
        }

    def _samples(self, analysis: Analysis) -> np.ndarray:
        """The decoded audio the model analysed, kept for the last recording played from."""
        with self._lock:
            if self._decoded is not None and self._decoded[0] == analysis.key:
                return self._decoded[1]
        samples = load_audio(analysis.path, max_seconds=self.max_seconds).samples
        with self._lock:
            self._decoded = (analysis.key, samples)
        return samples
