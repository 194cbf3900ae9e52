"""The app's API: the handlers in-process with the committed model, then a real server via gradio_client.

Server tests are marked slow; they share one ``python -m app`` (``running_app``) and start a
second one for ``--share``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile

from app.about import about_markdown, headline
from app.examples import find_example, load_examples
from app.handlers import PAGE_SIZE, Analyser
from app.layout import build_demo
from app.page import Outputs
from app.text import ERROR_TITLE, NO_AUDIO, OWN_GENRE, page_choices
from model.features import SEGMENT_SECONDS
from tests.conftest import IN_CI

ELEM_IDS = {
    "audio-input",
    "classify-button",
    "result-summary",
    "probability-chart",
    "genre-strip",
    "heatmaps",
    "genre-select",
    "segment-range",
    "analysis-note",
    "heatmap-note",
    "about-model",
    "result-json",
}


class SilentProgress:
    """Stands in for gr.Progress outside a request (Gradio's own does nothing there either)."""

    def __call__(self, *args, **kwargs) -> None:
        pass


def png_of(html: str) -> np.ndarray:
    """The picture of the first PNG data URI in an HTML fragment, as (height, width, 3) uint8."""
    import base64
    import io

    from PIL import Image

    match = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert match, html[:200]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(match.group(1)))).convert("RGB"))


def figure_count(html: str) -> int:
    return html.count('<figure class="gc-panel"')


@pytest.fixture(scope="module")
def analyser(classifier) -> Analyser:
    return Analyser(classifier)


@pytest.fixture(scope="module")
def mp3_clip(full_clip, tmp_path_factory) -> Path:
    """A GTZAN clip encoded as MP3 at test time (never stored in the repository)."""
    samples, rate = soundfile.read(full_clip, dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "clip.mp3"
    soundfile.write(path, samples, rate, format="MP3", subtype="MPEG_LAYER_III")
    return path


@pytest.fixture(scope="module")
def text_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("not-audio") / "notes.wav"  # the name lies; the content decides
    path.write_text("These are my band's lyrics, not a recording.\n")
    return path


def require_examples() -> list:
    examples = load_examples()
    if not examples:
        reason = "no examples in examples/examples.json yet"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return examples


# --- in-process: the handlers and the page's contract -------------------------------------


def test_page_has_the_elem_ids_and_every_event_an_api_name(classifier):
    demo = build_demo(classifier, examples=[])
    config = demo.get_config_file()
    elem_ids = {component["props"].get("elem_id") for component in config["components"]}
    assert ELEM_IDS <= elem_ids
    api_names = [dependency.get("api_name") for dependency in config["dependencies"]]
    assert all(api_names), api_names
    assert not any("ping" in name for name in api_names)  # the benchmark adds its own
    public = {d["api_name"] for d in config["dependencies"] if d.get("api_visibility", "public") == "public"}
    assert public == {"classify", "explain"}


def test_classify_returns_every_output(analyser, classifier, full_clip):
    outputs = Outputs.from_list(analyser.classify(str(full_clip), progress=SilentProgress()))
    result = outputs.result
    assert outputs.summary.startswith(f"### {result['genre'].capitalize()} · ")
    table = outputs.chart
    assert len(table) == len(classifier.genres) and table["probability"].is_monotonic_decreasing
    assert table["genre"].iloc[0] == result["genre"]
    n_segments = len(result["segments"])
    assert outputs.strip.count('class="gs-seg"') == n_segments
    assert figure_count(outputs.panels.heatmaps) == n_segments  # a 30-s clip fits on one page
    assert outputs.panels.heatmaps.count('class="gc-play"') == n_segments
    assert f"of {n_segments}" in outputs.panels.heatmap_note
    assert "Analysed **30.0 s**" in outputs.analysis_note
    assert outputs.segment_range["visible"] is False
    json.dumps(result)  # the numbers are plain JSON


def test_an_example_is_named_with_its_result(classifier, tmp_path):
    example = require_examples()[0]
    copy = tmp_path / example.path.name  # Gradio hands the handler a copy
    copy.write_bytes(example.path.read_bytes())
    assert find_example(copy, load_examples()) == example
    outputs = Outputs.from_list(Analyser(classifier, examples=load_examples()).classify(str(copy), SilentProgress()))
    assert f"Example: {example.credit}" in outputs.summary
    copy.write_bytes(example.path.read_bytes()[:-1000])  # same name, other bytes: not the example
    assert find_example(copy, load_examples()) is None


def test_thirty_seconds_of_mp3_are_ten_segments_of_three_seconds(analyser, mp3_clip):
    result = Outputs.from_list(analyser.classify(str(mp3_clip), progress=SilentProgress())).result
    ranges = [(segment["start"], segment["end"]) for segment in result["segments"]]
    assert ranges == [(3.0 * k, 3.0 * k + 3.0) for k in range(10)]


def test_long_recordings_are_truncated_and_paged(classifier, full_clip):
    analyser = Analyser(classifier, max_seconds=24.0, page_size=3)
    outputs = Outputs.from_list(analyser.classify(str(full_clip), progress=SilentProgress()))
    assert "only its first 24.0 s were analysed" in outputs.analysis_note
    n_segments = len(outputs.result["segments"])
    choices = outputs.segment_range["choices"]
    assert outputs.segment_range["visible"] is True
    assert [first for _, first in choices] == list(range(0, n_segments, 3))
    assert figure_count(outputs.panels.heatmaps) == 3
    html, note = analyser.explain(str(full_clip), "jazz", choices[1][1], progress=SilentProgress())
    assert figure_count(html) == 3
    assert note.startswith("Segments 4–6 of") and "**jazz**" in note
    assert re.search(r"<figcaption>4\. ", html)


def test_a_tail_is_labelled_and_a_short_rest_named(analyser, full_clip, tmp_path):
    samples, rate = soundfile.read(full_clip, dtype="float32")
    for seconds, tail in ((7.5, True), (6.1, False)):
        path = tmp_path / f"cut-{seconds}.wav"
        soundfile.write(path, samples[: int(seconds * rate)], rate)
        outputs = Outputs.from_list(analyser.classify(str(path), progress=SilentProgress()))
        captions = re.findall(r"<figcaption>([^<]*)</figcaption>", outputs.panels.heatmaps)
        if tail:
            assert captions[-1].startswith("3. 4.5–7.5 s (tail)") and "overlaps" in outputs.analysis_note
        else:
            assert len(captions) == 2 and "The last 0.1 s" in outputs.analysis_note


def test_explain_the_top_genre_or_another(analyser, classifier, full_clip):
    own, own_note = analyser.explain(str(full_clip), OWN_GENRE, 0, progress=SilentProgress())
    assert "its own top genre" in own_note and "gc-strength" not in own
    other = next(genre for genre in classifier.genres if genre != classifier.classify(full_clip).segment_genres[0])
    html, note = analyser.explain(str(full_clip), other, 0, progress=SilentProgress())
    assert f"**{other}**" in note and f"showing {other}" in html
    assert figure_count(html) == figure_count(own)
    strengths = [float(value) for value in re.findall(r'data-strength="([\d.]+)"', html)]
    assert len(strengths) == figure_count(html) and all(0 <= value <= 1 for value in strengths)


def test_a_segment_can_be_played(analyser, full_clip):
    import base64
    import io

    html = Outputs.from_list(analyser.classify(str(full_clip), progress=SilentProgress())).panels.heatmaps
    recording = re.search(r'data-recording="([^"]+)"', html).group(1)
    reply = analyser.segment_audio(recording, 2)
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(reply["audio"].split(",", 1)[1])))
    assert samples.shape[0] / rate == pytest.approx(SEGMENT_SECONDS, abs=1e-3)
    assert reply["label"] == "3. 6.0–9.0 s"
    assert "error" in analyser.segment_audio("not-a-recording", 0)
    assert "error" in analyser.segment_audio(recording, 999)


def test_input_errors_are_the_models_message(analyser, text_file):
    with pytest.raises(gr.Error, match="could not be read as audio"):
        analyser.classify(str(text_file), progress=SilentProgress())
    with pytest.raises(gr.Error, match="No audio yet"):
        analyser.classify(None, progress=SilentProgress())
    with pytest.raises(gr.Error, match="no longer available"):
        analyser.explain(str(text_file.with_name("gone.wav")), OWN_GENRE, 0, progress=SilentProgress())


def test_the_page_shows_input_errors_in_words_and_clears_the_result(analyser, text_file):
    outputs = Outputs.from_list(analyser.show(str(text_file), progress=SilentProgress()))
    assert ERROR_TITLE in outputs.summary and "could not be read as audio" in outputs.summary
    assert outputs.chart is None and outputs.result is None and outputs.panels.heatmaps == ""
    assert NO_AUDIO in Outputs.from_list(analyser.show(None, progress=SilentProgress())).summary
    html, note = analyser.explain_shown(str(text_file), OWN_GENRE, 0, progress=SilentProgress())
    assert html == "" and "could not be read as audio" in note


def test_page_choices_name_time_ranges(analyser, classifier, full_clip):
    result = classifier.classify(full_clip)
    (label, first), *rest = page_choices(result, page_size=8)
    assert first == 0 and label == "0.0–24.0 s · segments 1–8"
    assert len(rest) == -(-len(result.starts) // 8) - 1


def test_about_reports_only_recorded_figures(classifier):
    metadata = classifier.metadata
    text = about_markdown(metadata)
    valid = metadata.metrics["valid"]["clip_accuracy"]
    assert f"{100 * valid:.1f} %" in text and "validation split" in text
    assert "### What it learned from" in text and "### Limitations" in text
    with_test = dataclasses.replace(
        metadata, metrics={**metadata.metrics, "test": {"clip_accuracy": 0.5, "clips": 134}}
    )
    assert headline(with_test).startswith("Per-clip accuracy **50.0 %** on the test split (134 clips)")
    bare = dataclasses.replace(metadata, metrics={}, training={})
    assert headline(bare) == "No accuracy has been recorded for this model."
    assert "does not name the training data" in about_markdown(bare)
    smoke = dataclasses.replace(metadata, training={**metadata.training, "smoke": True})
    assert "smoke-test model" in about_markdown(smoke)


def test_examples_skip_missing_files(tmp_path, snippet_clip):
    (tmp_path / "here.flac").write_bytes(snippet_clip.read_bytes())
    entries = [
        {"file": "here.flac", "label": "blues, 3 s", "title": "T", "artist": "A", "package": "p", "licence": "GPL"},
        {"file": f"{tmp_path.name}/here.flac", "label": "the same, named from the parent folder"},
        {"file": "missing.flac", "label": "gone"},
        {"label": "no file"},
    ]
    (tmp_path / "examples.json").write_text(json.dumps(entries))
    example, same = load_examples(tmp_path)
    assert example.path == same.path == (tmp_path / "here.flac").resolve() and example.label == "blues, 3 s"
    assert "*T* by A" in example.credit and "GPL" in example.credit
    (tmp_path / "examples.json").write_text("{not json")
    assert load_examples(tmp_path) == []
    assert load_examples(tmp_path / "nowhere") == []


def test_bundled_examples_are_listed_with_labels():
    for example in require_examples():
        assert example.path.is_file() and example.label


# --- a real server through gradio_client ------------------------------------------------


@pytest.fixture(scope="module")
def client(running_app):
    from gradio_client import Client

    return Client(running_app, verbose=False)


def classify(client, path: Path):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), api_name="/classify")


def assert_ten_probabilities(replied, genres) -> None:
    outputs = Outputs.from_list(list(replied))
    chart = outputs.chart
    assert [row[0] for row in chart["data"]] and len(chart["data"]) == len(genres)
    assert {row[0] for row in chart["data"]} == set(genres)
    percentages = [row[1] for row in chart["data"]]
    assert percentages == sorted(percentages, reverse=True)
    probabilities = outputs.result["probabilities"]
    assert set(probabilities) == set(genres)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert outputs.result["genre"] == chart["data"][0][0]
    assert outputs.summary.startswith(f"### {outputs.result['genre'].capitalize()}")
    assert figure_count(outputs.panels.heatmaps) == min(len(outputs.result["segments"]), PAGE_SIZE)


@pytest.mark.slow
def test_every_output_has_a_name_a_person_understands(client, classifier):
    from app.text import explain_label

    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(api) == {"/classify", "/explain"}
    names = {endpoint: [item["label"] for item in api[endpoint]["returns"]] for endpoint in api}
    assert names == {
        "/classify": [
            "Top genre",
            "Probability of each genre",
            "What was analysed",
            "Genre over time",
            explain_label(classifier.tags),
            "Segments shown",
            "Grad-CAM panels",
            "About these panels",
            "Result (JSON)",
        ],
        "/explain": ["Grad-CAM panels", "About these panels"],
    }
    assert not re.search(r"Returns\s*-{3,}", client.view_api(print_info=False, return_format="str"))


@pytest.mark.slow
def test_classify_an_example(client, classifier):
    example = require_examples()[0]
    assert_ten_probabilities(classify(client, example.path), classifier.genres)


@pytest.mark.slow
def test_classify_an_mp3(client, classifier, mp3_clip):
    outputs = classify(client, mp3_clip)
    assert_ten_probabilities(outputs, classifier.genres)
    assert outputs[-1]["seconds"] == pytest.approx(30.0, abs=0.2)


@pytest.mark.slow
def test_a_text_file_gets_the_input_error_then_a_good_file_works(client, classifier, text_file, full_clip):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        classify(client, text_file)
    assert "could not be read as audio" in str(caught.value)
    assert_ten_probabilities(classify(client, full_clip), classifier.genres)


@pytest.mark.slow
def test_no_audio_gets_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=re.escape(NO_AUDIO)):
        client.predict(None, api_name="/classify")


@pytest.mark.slow
def test_explain_another_genre(client, full_clip):
    from gradio_client import handle_file

    html, note = client.predict(handle_file(str(full_clip)), "classical", 0, api_name="/explain")
    assert figure_count(html) > 0 and "**classical**" in note
    html, note = client.predict(handle_file(str(full_clip)), "jazz", 4, api_name="/explain")  # any segment number
    assert figure_count(html) > 0 and note.startswith("Segments 1–")


@pytest.fixture(scope="module")
def shared_locked_app(start_app):
    """One more server, with --share (offline here) and a login, to spare a third start-up."""
    return start_app("--share", env={"GENRE_CAM_AUTH": "ann:secret-1,bob:secret-2"})


@pytest.mark.slow
def test_share_offline_says_so_in_one_line_and_keeps_serving(shared_locked_app):
    lines = [line for line in shared_locked_app.lines if line.startswith("genre-cam:") and "public link" in line]
    assert len(lines) == 1, shared_locked_app.output
    assert "share link" not in shared_locked_app.output.lower()  # none of Gradio's own instructions
    assert shared_locked_app.process.poll() is None
    assert "login required: 2 users" in shared_locked_app.output


@pytest.mark.slow
def test_auth_keeps_the_api_behind_the_login(shared_locked_app, classifier, full_clip):
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError):
        Client(shared_locked_app.url, verbose=False).predict(None, api_name="/classify")
    client = Client(shared_locked_app.url, auth=("bob", "secret-2"), verbose=False)
    assert_ten_probabilities(classify(client, full_clip), classifier.genres)
