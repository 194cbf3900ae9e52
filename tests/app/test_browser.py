"""The page in a real browser: Debian's headless Chromium driven by Playwright against ``running_app``.

Every test saves a full-page screenshot to ``test-artifacts/browser/<test name>.png``, pass or fail.

Besides what the page shows, the tests watch Gradio's own traffic (a passive listener installed
before the page loads, see ``WATCH_EVENTS``): which endpoint each click started and how that
event ended on the server. So "the chart appeared" is checked together with "the event this test
caused completed successfully", not merely "something is on screen".
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile
from scipy.signal import resample_poly

from app.about import headline
from app.examples import load_examples
from model.artifact import read_metadata
from tests.app.browser import (
    VIEWPORT,
    driver,
    fake_microphone_args,
    launch_chromium,
    require_chromium,
    screenshot_path,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANALYSIS_TIMEOUT_MS = 90_000  # one analysis on a slow 2-core CI machine, first call included
PAGE_TIMEOUT_MS = 30_000  # the page and its components rendering
UPLOAD_SECONDS = 10.0  # length of the uploaded excerpt
MIC_FILE_SECONDS = 6.0  # length of the file the fake microphone plays (looped)
RECORD_SECONDS = 4.0  # how long the test records
BAD_AUDIO_MESSAGE = "could not be read as audio"  # part of model/audio.py's message

# Records, for every queued event, the endpoint that started it and how it completed. It only
# reads copies (Response.clone()) of Gradio's own requests; the page behaves exactly as without it.
WATCH_EVENTS = """
(() => {
  const events = { joined: [], completed: {} };
  window.__genreCamEvents = events;
  const originalFetch = window.fetch.bind(window);
  const record = (message) => {
    if (message.msg === "process_completed" && message.event_id) {
      const output = message.output || {};
      events.completed[message.event_id] = {
        success: message.success === true && !("error" in output),
        error: output.error ?? null,
        title: output.title ?? null,
      };
    }
  };
  const readStream = async (response) => {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split("\\n");
      buffer = lines.pop();
      for (const line of lines) {
        if (line.startsWith("data:")) {
          try { record(JSON.parse(line.slice(5))); } catch (error) { /* not JSON: heartbeat */ }
        }
      }
    }
  };
  window.fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    const response = await originalFetch(input, init);
    try {
      if (url.includes("/queue/join")) {
        const body = JSON.parse(init.body);
        response.clone().json().then((reply) => {
          events.joined.push({ fn_index: body.fn_index, event_id: reply.event_id, data: body.data });
        }).catch(() => {});
      } else if (url.includes("/queue/data") && response.body) {
        readStream(response.clone()).catch(() => {});  // the page aborts the stream when done
      }
    } catch (error) { /* never disturb the page */ }
    return response;
  };
})();
"""


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session", autouse=True)
def chromium_present() -> None:
    """Autouse and session-scoped, so it runs first: a missing browser skips (or, under CI,
    fails) these tests before a server is started for them."""
    require_chromium()


@pytest.fixture(scope="module")
def playwright():
    """Playwright's driver, stopped when this module is done."""
    with driver() as started:
        yield started


@pytest.fixture(scope="module")
def browser(playwright):
    """The headless Chromium most tests share (each test has its own context)."""
    launched = launch_chromium(playwright)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def endpoints(running_app) -> dict[str, int]:
    """api_name -> fn_index, from the running app's config (what the page itself sends)."""
    with urllib.request.urlopen(running_app + "config", timeout=30) as response:
        config = json.load(response)
    return {event["api_name"]: event["id"] for event in config["dependencies"] if event.get("api_name")}


@pytest.fixture(scope="session")
def metadata():
    """Metadata of the committed model, the one ``running_app`` serves."""
    return read_metadata()


@pytest.fixture
def page(browser, running_app, request):
    with app_page(browser, running_app, request.node.name) as opened:
        yield opened


@pytest.fixture(scope="module")
def upload_clip(full_clip, tmp_path_factory) -> Path:
    """The first UPLOAD_SECONDS of a GTZAN clip as MP3, written at test time (never committed)."""
    samples, rate = soundfile.read(full_clip, dtype="float32")
    path = tmp_path_factory.mktemp("browser-audio") / f"{full_clip.stem}-excerpt.mp3"
    soundfile.write(path, samples[: int(UPLOAD_SECONDS * rate)], rate, format="MP3", subtype="MPEG_LAYER_III")
    return path


@pytest.fixture(scope="module")
def microphone_wav(full_clip, tmp_path_factory) -> Path:
    """What the fake microphone hears: MIC_FILE_SECONDS of a GTZAN clip, 44.1 kHz 16-bit WAV
    (Chromium's fake capture wants a common device rate; GTZAN is 22050 Hz, so exactly 2x)."""
    samples, rate = soundfile.read(full_clip, dtype="float32")
    assert rate == 22050, f"expected GTZAN's 22050 Hz, got {rate}"
    excerpt = resample_poly(samples[: int(MIC_FILE_SECONDS * rate)], 2, 1)
    path = tmp_path_factory.mktemp("browser-audio") / "microphone.wav"
    soundfile.write(path, excerpt, 2 * rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def not_audio(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("browser-audio") / "notes.wav"
    path.write_text("These are my notes, not a recording.\n" * 40, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# helpers


@contextlib.contextmanager
def app_page(browser, url: str, name: str, **context_options) -> Iterator:
    """A fresh browser context on the app; a full-page screenshot is saved on the way out."""
    context = browser.new_context(viewport=VIEWPORT, **context_options)
    context.add_init_script(WATCH_EVENTS)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.page_errors = page_errors
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.locator("#audio-input").wait_for(state="visible")
        yield page
    finally:
        try:
            page.screenshot(path=screenshot_path(name), full_page=True)
        finally:
            context.close()


def joined_count(page) -> int:
    return page.evaluate("window.__genreCamEvents.joined.length")


def wait_for_event(page, fn_index: int, *, after: int, timeout_ms: int = ANALYSIS_TIMEOUT_MS) -> dict:
    """Wait until the first event of ``fn_index`` joined after the first ``after`` ones has completed.

    Returns {"success": bool, "error": str | None, "title": str | None, "data": [...]}: how the
    server ended it and what the page sent.
    """
    handle = page.wait_for_function(
        """([fnIndex, after]) => {
            const events = window.__genreCamEvents;
            const event = events.joined.slice(after).find((e) => e.fn_index === fnIndex);
            if (!event) return null;
            const completed = events.completed[event.event_id];
            return completed ? { ...completed, data: event.data } : null;
        }""",
        arg=[fn_index, after],
        timeout=timeout_ms,
    )
    return handle.json_value()


def sent_file_name(event: dict) -> str:
    """Original name of the audio file an event sent (its first input)."""
    return event["data"][0]["orig_name"]


def assert_results(page, *, genres: tuple[str, ...], seconds: float, tolerance: float = 0.3) -> None:
    """Top genre, sorted chart, strip and one loaded Grad-CAM panel per segment of a recording of
    about ``seconds`` seconds."""
    page.locator("#heatmaps img.gc-cells").first.wait_for(state="visible", timeout=ANALYSIS_TIMEOUT_MS)

    note = page.locator("#analysis-note").inner_text()
    match = re.search(r"Analysed ([\d.]+) s as (\d+) segments?", note)
    assert match, f"no analysis note: {note!r}"
    analysed_seconds, n_segments = float(match.group(1)), int(match.group(2))
    assert analysed_seconds == pytest.approx(seconds, abs=tolerance), note

    top_genre = page.locator("#top-genre [data-testid=label-output-value]").inner_text().strip().lower()
    assert top_genre in genres

    chart = page.locator("#probability-chart")
    chart.locator("svg.marks").wait_for(state="visible")
    assert chart.locator("g.mark-rect path").count() == len(genres), "one bar per genre"
    axis = chart.locator("[aria-roledescription=axis][aria-label^=X-axis]").get_attribute("aria-label")
    assert f"10 values: {top_genre}," in axis, f"bars sorted with the top genre first: {axis}"

    strip = page.locator("#genre-strip img")
    strip.wait_for(state="visible")
    assert strip.evaluate("img => img.complete && img.naturalWidth > 0"), "the genre strip image did not load"

    panels = page.locator("#heatmaps figure.gc-panel")
    assert panels.count() == n_segments, f"{panels.count()} Grad-CAM panels for {n_segments} segments"
    cells = page.locator("#heatmaps img.gc-cells")
    loaded = cells.evaluate_all("images => images.filter(img => img.complete && img.naturalWidth > 0).length")
    assert loaded == n_segments, f"{loaded} of {n_segments} Grad-CAM images loaded"
    captions = panels.locator("figcaption").all_inner_texts()
    for number, caption in enumerate(captions, start=1):
        caption_match = re.fullmatch(rf"{number}\. [\d.]+–[\d.]+ s · (\w+) \d+%", caption.strip())
        assert caption_match and caption_match.group(1) in genres, f"panel caption {caption!r}"
    assert page.locator("#heatmap-note").inner_text().startswith(f"Segments 1–{n_segments} of {n_segments}")
    assert not page.page_errors, f"JavaScript errors on the page: {page.page_errors}"


def upload(page, path: Path) -> None:
    page.locator("#audio-input input[type=file]").set_input_files(path)


# ---------------------------------------------------------------------------------------------
# tests


def test_page_loads(page, metadata):
    assert page.title().startswith("genre-cam")
    audio = page.locator("#audio-input")
    assert audio.get_by_role("button", name="Upload file").is_visible()
    assert audio.get_by_role("button", name="Record audio").is_visible()
    assert page.locator("#classify-button").is_visible()

    labels = [example.label for example in load_examples()]
    assert len(labels) >= 6
    buttons = page.locator("#examples button.gallery-item")
    buttons.first.wait_for(state="visible")
    assert [text.strip() for text in buttons.all_inner_texts()] == labels

    about = page.locator("#about-model")
    about.get_by_text("About the model").click()
    expected = headline(metadata).replace("**", "")
    about.get_by_text(expected[:40]).first.wait_for(state="visible")
    assert expected in about.inner_text().replace("\n", " ")
    assert not page.page_errors, page.page_errors


def test_example_shows_chart_and_heatmaps(page, endpoints, metadata):
    example = load_examples()[0]
    before = joined_count(page)
    page.locator("#examples button.gallery-item", has_text=example.label).click()
    event = wait_for_event(page, endpoints["classify_example"], after=before)
    assert event["success"], event
    assert sent_file_name(event) == example.path.name
    seconds = soundfile.info(example.path).duration
    assert_results(page, genres=metadata.genres, seconds=seconds)


def click_classify(page, endpoints) -> dict:
    """Click Classify and return its finished, successful event."""
    before = joined_count(page)
    page.locator("#classify-button").click()
    event = wait_for_event(page, endpoints["classify"], after=before)
    assert event["success"], event
    return event


def test_upload_and_classify(page, endpoints, metadata, upload_clip):
    before = joined_count(page)
    upload(page, upload_clip)
    # Uploading already analyses the file; the Classify button must do it again on its own.
    event = wait_for_event(page, endpoints["classify_upload"], after=before)
    assert event["success"], event
    event = click_classify(page, endpoints)
    assert sent_file_name(event) == upload_clip.name
    assert_results(page, genres=metadata.genres, seconds=UPLOAD_SECONDS)


def test_record_through_fake_microphone(playwright, running_app, endpoints, metadata, microphone_wav, request):
    # A browser of its own: the fake microphone is a launch flag.
    mic_browser = launch_chromium(playwright, *fake_microphone_args(microphone_wav))
    with contextlib.closing(mic_browser), app_page(
        mic_browser, running_app, request.node.name, permissions=["microphone"]
    ) as page:
        audio = page.locator("#audio-input")
        audio.get_by_role("button", name="Record audio").click()
        audio.locator("button:visible", has_text="Record").click()
        audio.locator("button:visible", has_text="Stop").wait_for(state="visible")
        started = time.monotonic()
        page.wait_for_timeout(RECORD_SECONDS * 1000)
        before = joined_count(page)
        audio.locator("button:visible", has_text="Stop").click()
        recorded_seconds = time.monotonic() - started
        # Stopping analyses the recording at once; then the Classify button on the same recording.
        recording = wait_for_event(page, endpoints["classify_recording"], after=before)
        assert recording["success"], recording
        event = click_classify(page, endpoints)
        assert event["data"][0]["path"] == recording["data"][0]["path"], "Classify sent another file"
        assert_results(page, genres=metadata.genres, seconds=recorded_seconds, tolerance=1.0)


def test_bad_upload_shows_error_and_page_recovers(page, endpoints, metadata, not_audio, upload_clip, request):
    before = joined_count(page)
    upload(page, not_audio)
    event = wait_for_event(page, endpoints["classify_upload"], after=before)
    assert not event["success"]
    assert BAD_AUDIO_MESSAGE in event["error"]
    toast = page.locator(".toast-body", has_text=BAD_AUDIO_MESSAGE)
    toast.wait_for(state="visible")
    assert "Traceback" not in toast.inner_text()
    page.screenshot(path=screenshot_path(f"{request.node.name}-error"), full_page=False)

    page.locator("#audio-input").get_by_role("button", name="Clear").click()
    page.locator("#audio-input input[type=file]").wait_for(state="attached")
    before = joined_count(page)
    upload(page, upload_clip)
    event = wait_for_event(page, endpoints["classify_upload"], after=before)
    assert event["success"], event
    assert_results(page, genres=metadata.genres, seconds=UPLOAD_SECONDS)
