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
from app.text import ERROR_TITLE, TAG_CHOICE
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
ERROR_STAYS_S = 15  # the reason for a bad upload is still on the page this long after
PHONE = {"width": 390, "height": 844}
MIN_LABEL_PX = 10  # the genre strip's labels at least this high, at any width

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


def endpoints_of(url: str) -> dict[str, int]:
    """api_name -> fn_index, from a running app's config (what the page itself sends)."""
    with urllib.request.urlopen(url + "config", timeout=30) as response:
        config = json.load(response)
    return {event["api_name"]: event["id"] for event in config["dependencies"] if event.get("api_name")}


@pytest.fixture(scope="session")
def endpoints(running_app) -> dict[str, int]:
    """`endpoints_of` the shared app."""
    return endpoints_of(running_app)


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
def full_mp3(full_clip, tmp_path_factory) -> Path:
    """A whole 30-s GTZAN clip as MP3 (its decoder adds a few ms), written at test time."""
    samples, rate = soundfile.read(full_clip, dtype="float32")
    path = tmp_path_factory.mktemp("browser-audio") / f"{full_clip.stem}.mp3"
    soundfile.write(path, samples[: int(30.0 * rate)], rate, format="MP3", subtype="MPEG_LAYER_III")
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
    context = browser.new_context(**{"viewport": VIEWPORT, **context_options})
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

    top_genre = page.locator("#result-summary h3").inner_text().split("·")[0].strip().lower()
    assert top_genre in genres

    chart = page.locator("#probability-chart")
    chart.locator("svg.marks").wait_for(state="visible")
    assert chart.locator("g.mark-rect path").count() == len(genres), "one bar per genre"
    axis = chart.locator("[aria-roledescription=axis][aria-label^=X-axis]").get_attribute("aria-label")
    assert f"10 values: {top_genre}," in axis, f"bars sorted with the top genre first: {axis}"

    strip = page.locator("#genre-strip img.gs-cells")
    strip.wait_for(state="visible")
    assert strip.evaluate("img => img.complete && img.naturalWidth > 0"), "the genre strip image did not load"
    assert page.locator("#genre-strip button.gs-seg").count() == n_segments

    panels = page.locator("#heatmaps figure.gc-panel")
    assert panels.count() == n_segments, f"{panels.count()} Grad-CAM panels for {n_segments} segments"
    cells = page.locator("#heatmaps img.gc-cells")
    loaded = cells.evaluate_all("images => images.filter(img => img.complete && img.naturalWidth > 0).length")
    assert loaded == n_segments, f"{loaded} of {n_segments} Grad-CAM images loaded"
    captions = panels.locator("figcaption").all_inner_texts()
    for number, caption in enumerate(captions, start=1):
        caption_match = re.fullmatch(rf"{number}\. [\d.]+–[\d.]+ s( \(tail\))? · (\w+) \d+%", caption.strip())
        assert caption_match and caption_match.group(2) in genres, f"panel caption {caption!r}"
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


def click_example(page, endpoints, example) -> dict:
    """Click an example and return its finished, successful event."""
    before = joined_count(page)
    page.locator("#examples button.gallery-item", has_text=example.label).click()
    event = wait_for_event(page, endpoints["show_example"], after=before)
    assert event["success"], event
    return event


def test_example_shows_chart_and_heatmaps_with_its_name_and_the_layout_stays(page, endpoints, metadata):
    example = load_examples()[0]
    examples_box = page.locator("#examples")
    examples_box.locator("button.gallery-item").first.wait_for(state="visible")
    top_before = examples_box.bounding_box()["y"]
    event = click_example(page, endpoints, example)
    assert sent_file_name(event) == example.path.name
    seconds = soundfile.info(example.path).duration
    assert_results(page, genres=metadata.genres, seconds=seconds)
    summary = page.locator("#result-summary").inner_text()
    assert example.label in summary and example.title in summary, summary
    assert examples_box.bounding_box()["y"] == pytest.approx(top_before, abs=1), "the examples moved"


def click_classify(page, endpoints) -> dict:
    """Click Classify and return its finished, successful event."""
    before = joined_count(page)
    page.locator("#classify-button").click()
    event = wait_for_event(page, endpoints["show_button"], after=before)
    assert event["success"], event
    return event


def test_upload_and_classify(page, endpoints, metadata, upload_clip):
    before = joined_count(page)
    upload(page, upload_clip)
    # Uploading already analyses the file; the Classify button must do it again on its own.
    event = wait_for_event(page, endpoints["show_upload"], after=before)
    assert event["success"], event
    event = click_classify(page, endpoints)
    assert sent_file_name(event) == upload_clip.name
    assert_results(page, genres=metadata.genres, seconds=UPLOAD_SECONDS)


def test_record_through_fake_microphone(playwright, running_app, endpoints, metadata, microphone_wav, request):
    # A browser of its own: the fake microphone is a launch flag.
    mic_browser = launch_chromium(playwright, *fake_microphone_args(microphone_wav))
    with (
        contextlib.closing(mic_browser),
        app_page(mic_browser, running_app, request.node.name, permissions=["microphone"]) as page,
    ):
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
        recording = wait_for_event(page, endpoints["show_recording"], after=before)
        assert recording["success"], recording
        event = click_classify(page, endpoints)
        assert event["data"][0]["path"] == recording["data"][0]["path"], "Classify sent another file"
        assert_results(page, genres=metadata.genres, seconds=recorded_seconds, tolerance=1.0)


def test_bad_upload_leaves_its_reason_on_the_page_and_the_page_recovers(
    page, endpoints, metadata, not_audio, upload_clip, request
):
    before = joined_count(page)
    upload(page, not_audio)
    event = wait_for_event(page, endpoints["show_upload"], after=before)
    assert event["success"], event  # the page's own event shows the problem instead of failing
    summary = page.locator("#result-summary")
    summary.get_by_text(BAD_AUDIO_MESSAGE).wait_for(state="visible")
    assert page.locator(".toast-body").count() == 0  # the reason is on the page, titled ERROR_TITLE
    page.wait_for_timeout(ERROR_STAYS_S * 1000)
    assert summary.get_by_text(BAD_AUDIO_MESSAGE).is_visible(), "the reason did not stay on the page"
    assert ERROR_TITLE in summary.inner_text()
    bare = page.evaluate(
        """() => [...document.querySelectorAll("body *")]
            .filter((e) => e.offsetParent !== null && e.textContent.trim() === "Error").length"""
    )
    assert bare == 0, "an element shows a bare 'Error'"
    assert page.locator("#heatmaps figure.gc-panel").count() == 0
    page.screenshot(path=screenshot_path(f"{request.node.name}-error"), full_page=False)

    page.locator("#audio-input").get_by_role("button", name="Clear").click()
    page.locator("#audio-input input[type=file]").wait_for(state="attached")
    before = joined_count(page)
    upload(page, upload_clip)
    event = wait_for_event(page, endpoints["show_upload"], after=before)
    assert event["success"], event
    assert_results(page, genres=metadata.genres, seconds=UPLOAD_SECONDS)
    assert BAD_AUDIO_MESSAGE not in summary.inner_text()


def test_thirty_seconds_of_mp3_are_ten_distinct_segments(page, endpoints, metadata, full_mp3):
    before = joined_count(page)
    upload(page, full_mp3)
    assert wait_for_event(page, endpoints["show_upload"], after=before)["success"]
    assert_results(page, genres=metadata.genres, seconds=30.0)
    captions = page.locator("#heatmaps figure.gc-panel figcaption").all_inner_texts()
    ranges = [re.match(r"\d+\. ([\d.]+–[\d.]+ s)", caption).group(1) for caption in captions]
    assert ranges == [f"{3 * k:.1f}–{3 * k + 3:.1f} s" for k in range(10)]


def test_a_panel_plays_its_segment_and_the_strip_jumps_to_it(page, endpoints, metadata):
    click_example(page, endpoints, load_examples()[0])
    panels = page.locator("#heatmaps figure.gc-panel")
    panels.first.wait_for(state="visible", timeout=ANALYSIS_TIMEOUT_MS)
    panel = panels.nth(1)
    panel.locator("button.gc-play").click()
    audio = panel.locator("audio.gc-audio")
    audio.wait_for(state="visible")
    page.wait_for_function(
        "(audio) => audio.readyState >= 1 && audio.duration > 0", arg=audio.element_handle(), timeout=PAGE_TIMEOUT_MS
    )
    assert audio.evaluate("audio => audio.src.startsWith('data:audio/wav')")
    assert audio.evaluate("audio => audio.duration") == pytest.approx(3.0, abs=0.01)
    page.locator("#genre-strip button.gs-seg").nth(4).click()
    jumped = page.locator("#heatmaps figure.gc-panel.gc-jumped")
    jumped.wait_for(state="visible")
    assert jumped.get_attribute("data-segment") == "4"
    assert not page.page_errors, page.page_errors


def panel_colour(page) -> float:
    """Mean colourfulness (max - min of R, G, B) of every Grad-CAM panel's pixels: the grey MFCC is 0."""
    return page.evaluate(
        """() => {
            const values = [...document.querySelectorAll("#heatmaps img.gc-cells")].map((img) => {
                const canvas = document.createElement("canvas");
                canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
                const context = canvas.getContext("2d");
                context.drawImage(img, 0, 0);
                const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
                let sum = 0;
                for (let i = 0; i < data.length; i += 4) {
                    sum += Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]);
                }
                return sum / (data.length / 4);
            });
            return values.reduce((a, b) => a + b, 0) / values.length;
        }"""
    )


def test_evidence_for_an_unlikely_genre_looks_weaker(page, endpoints, metadata):
    click_example(page, endpoints, load_examples()[0])
    page.locator("#heatmaps img.gc-cells").first.wait_for(state="visible", timeout=ANALYSIS_TIMEOUT_MS)
    strong = panel_colour(page)
    axis = page.locator("#probability-chart [aria-roledescription=axis][aria-label^=X-axis]").get_attribute(
        "aria-label"
    )
    unlikely = axis.rstrip(".").split()[-1]  # "... ending with reggae": the bars are sorted, the last is least probable
    assert unlikely in metadata.genres, axis
    before = joined_count(page)
    page.locator("#genre-select input").click()
    page.get_by_role("option", name=unlikely, exact=True).click()
    assert wait_for_event(page, endpoints["explain_shown"], after=before)["success"]
    page.locator("#heatmaps .gc-strength").first.wait_for(state="visible")
    weak = panel_colour(page)
    strengths = [
        float(value)
        for value in page.locator("#heatmaps .gc-strength").evaluate_all(
            "bars => bars.map((bar) => bar.dataset.strength)"
        )
    ]
    assert max(strengths) < 0.5, strengths
    assert weak < 0.5 * strong, f"colour {weak:.1f} for {unlikely} against {strong:.1f} for the top genres"


def test_on_a_phone_the_strip_labels_stay_readable(browser, running_app, endpoints, request):
    with app_page(
        browser, running_app, request.node.name, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    ) as page:
        click_example(page, endpoints, load_examples()[0])
        names = page.locator("#genre-strip .gs-names span")
        names.first.wait_for(state="visible", timeout=ANALYSIS_TIMEOUT_MS)
        heights = names.evaluate_all("spans => spans.map((span) => span.getBoundingClientRect().height)")
        assert min(heights) >= MIN_LABEL_PX, heights
        ticks = page.locator("#genre-strip .gs-xticks span").evaluate_all(
            "spans => spans.map((span) => span.getBoundingClientRect().height)"
        )
        assert ticks and min(ticks) >= MIN_LABEL_PX, ticks
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways ({width} px)"


def test_a_model_with_tags_shows_them_and_explains_a_tag(browser, tagged_app, upload_clip, request):
    with app_page(browser, tagged_app.url, request.node.name) as page:
        endpoints = endpoints_of(tagged_app.url)
        before = joined_count(page)
        upload(page, upload_clip)
        assert wait_for_event(page, endpoints["show_upload"], after=before)["success"]
        summary = page.locator("#result-summary")
        summary.get_by_text("Sounds like:").wait_for(state="visible")
        assert re.search(r"Sounds like: [^\n]+ \d+% · ", summary.inner_text()), summary.inner_text()
        page.locator("#heatmaps img.gc-cells").first.wait_for(state="visible", timeout=ANALYSIS_TIMEOUT_MS)
        n_panels = page.locator("#heatmaps figure.gc-panel").count()

        before = joined_count(page)
        page.locator("#genre-select input").click()
        page.locator("#genre-select input").fill("guitar")  # the selector filters its 61 choices as one types
        page.get_by_role("option", name=f"{TAG_CHOICE}guitar", exact=True).click()
        assert wait_for_event(page, endpoints["explain_shown"], after=before)["success"]
        page.locator("#heatmap-note").get_by_text("the tag guitar").wait_for(state="visible")
        captions = page.locator("#heatmaps figure.gc-panel figcaption").all_inner_texts()
        assert len(captions) == n_panels and all(f"showing {TAG_CHOICE}guitar " in caption for caption in captions)
        assert page.locator("#heatmaps .gc-strength").count() == n_panels
        assert not page.page_errors, page.page_errors
