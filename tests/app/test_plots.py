"""The plots are pure functions: arrays in, a table, an image or HTML out. No server, no model."""

from __future__ import annotations

import base64
import io
import re
import time
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from app import plots
from model.artifact import read_metadata
from model.features import FRAMES_PER_SEGMENT, N_MFCC, SECONDS_PER_FRAME, SEGMENT_HOP_SECONDS, SEGMENT_SECONDS

GENRES = read_metadata().genres  # the committed model's


def segment_grid(n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.arange(n_segments) * SEGMENT_HOP_SECONDS
    return starts, starts + SEGMENT_SECONDS


def random_probabilities(rng: np.random.Generator, *shape: int) -> np.ndarray:
    values = rng.random((*shape, len(GENRES))) ** 3
    return (values / values.sum(axis=-1, keepdims=True)).astype(np.float32)


def random_page(rng: np.random.Generator, n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """(features, heatmaps), each (n, frames, n_mfcc): MFCC-like scales, heat in [0, 1]."""
    scales = np.linspace(100.0, 5.0, N_MFCC)
    features = rng.normal(size=(n_segments, FRAMES_PER_SEGMENT, N_MFCC)) * scales
    heatmaps = rng.random((n_segments, FRAMES_PER_SEGMENT, N_MFCC))
    return features.astype(np.float32), heatmaps.astype(np.float32)


class PageParser(HTMLParser):
    """Collects the figures of `heatmap_html`: captions, tick texts, axis labels, image sources."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = attributes.get("class", "")
        if tag == "figure":
            self.figures.append({"caption": "", "xticks": [], "yticks": [], "labels": [], "images": []})
        if tag == "img":
            self.figures[-1]["images"].append(attributes)
        self._stack.append(classes or tag)

    def handle_endtag(self, tag):
        self._stack.pop()

    def handle_data(self, data):
        if not self.figures or not self._stack:
            return
        figure, where = self.figures[-1], self._stack
        if "figcaption" in where:
            figure["caption"] += data
        elif "gc-xticks" in where:
            figure["xticks"].append(data)
        elif "gc-yticks" in where:
            figure["yticks"].append(data)
        elif where[-1] in ("gc-xlabel", "gc-ylabel"):
            figure["labels"].append(data)


def parse_page(html: str) -> list[dict]:
    parser = PageParser()
    parser.feed(html)
    return parser.figures


def decode_png(uri: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :]))))


# --- probability table -------------------------------------------------------------------


def test_probability_table_is_sorted_in_percent_with_every_genre():
    probabilities = np.array([0.05, 0.3, 0.05, 0.1, 0.0, 0.2, 0.1, 0.05, 0.1, 0.05], dtype=np.float32)
    table = plots.probability_table(GENRES, probabilities)
    assert list(table.columns) == ["genre", "probability"]
    assert sorted(table["genre"]) == sorted(GENRES)
    assert list(table["probability"]) == sorted(table["probability"], reverse=True)
    assert table["genre"].iloc[0] == "classical" and table["probability"].iloc[0] == pytest.approx(30.0)
    assert table["probability"].sum() == pytest.approx(100.0, abs=0.5)
    # ties keep the model's order
    assert list(table["genre"][table["probability"] == 5.0]) == ["blues", "country", "pop", "rock"]


def test_probability_table_rejects_a_wrong_length():
    with pytest.raises(ValueError):
        plots.probability_table(GENRES, np.full(9, 1 / 9))


# --- axes helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lo, hi, expected_step",
    [(0.0, 3.0, 1.0), (1.5, 4.5, 1.0), (0.0, 30.0, 5.0), (0.0, 600.0, 120.0), (0.0, 1.2, 0.5)],
)
def test_time_ticks_are_round_and_inside_the_range(lo, hi, expected_step):
    ticks = plots.time_ticks(lo, hi, max_ticks=6 if hi - lo > 3 else 4)
    assert len(ticks) >= 2
    assert np.all(ticks >= lo - 1e-9) and np.all(ticks <= hi + 1e-9)
    assert np.allclose(np.diff(ticks), expected_step)


def test_format_time():
    assert plots.format_time(12.5, minutes=False, decimals=1) == "12.5"
    assert plots.format_time(75.0, minutes=True) == "1:15"
    assert plots.format_time(61.5, minutes=True, decimals=1) == "1:01.5"


def test_colormap_lut_is_a_256_colour_table():
    lut = plots.colormap_lut(plots.HEAT_COLORMAP)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    colours = plots.apply_lut(np.array([0.0, 1.0, np.nan, 7.0]), lut)
    assert np.array_equal(colours, lut[[0, 255, 0, 255]])


# --- genre strip -------------------------------------------------------------------------


def strip_of(n_segments: int, probabilities: np.ndarray, **options) -> str:
    starts, ends = segment_grid(n_segments)
    labels = [f"{index + 1}. segment" for index in range(n_segments)]
    return plots.genre_strip_html(GENRES, probabilities, starts, ends, labels=labels, **options)


@pytest.mark.parametrize("n_segments", [1, 19, 399])
def test_genre_strip_has_text_labels_a_button_per_segment_and_a_small_image(n_segments):
    rng = np.random.default_rng(n_segments)
    html = strip_of(n_segments, random_probabilities(rng, n_segments), plot_width=600)
    names = re.search(r'<div class="gs-names">(.*?)</div>', html).group(1)
    assert re.findall(r"<span>(\w+)</span>", names) == list(GENRES)  # text, readable at any width
    assert html.count('class="gs-seg"') == html.count('class="gs-dot"') == n_segments
    assert re.findall(r'data-segment="(\d+)"', html) == [str(index) for index in range(n_segments)]
    cells = decode_png(re.search(r'class="gs-cells" src="([^"]+)"', html).group(1))
    assert cells.shape == (len(GENRES), 600, 3)


def test_genre_strip_colours_and_dots_follow_the_probabilities():
    probabilities = np.zeros((4, len(GENRES)), dtype=np.float32)
    probabilities[:2, GENRES.index("jazz")] = 1.0  # first half jazz
    probabilities[2:, GENRES.index("metal")] = 1.0  # second half metal
    html = strip_of(4, probabilities, plot_width=400)
    cells = decode_png(re.search(r'class="gs-cells" src="([^"]+)"', html).group(1))
    lut = plots.colormap_lut(plots.STRIP_COLORMAP)
    hot = np.all(cells == lut[255], axis=2)
    jazz, metal = GENRES.index("jazz"), GENRES.index("metal")
    assert hot[jazz, :200].all() and not hot[jazz, 200:].any()
    assert hot[metal, 200:].all() and not hot[metal, :200].any()
    assert hot.sum() == 400  # the eight other genres stay at 0
    dots = [float(top) for top in re.findall(r'class="gs-dot" style="top:([\d.]+)%"', html)]
    assert dots == [100.0 * (row + 0.5) / len(GENRES) for row in (jazz, jazz, metal, metal)]


def test_segment_boundaries_split_between_centres():
    starts = np.array([0.0, 1.5, 3.0])  # overlapping segments, centres 1.5, 3.0, 4.5
    assert np.allclose(plots.segment_boundaries(starts, starts + 3.0), [0.0, 2.25, 3.75, 6.0])
    starts = np.array([0.0, 3.0, 6.0])  # back to back: the boundaries are the segments' own
    assert np.allclose(plots.segment_boundaries(starts, starts + 3.0), [0.0, 3.0, 6.0, 9.0])


def test_genre_strip_rejects_mismatched_shapes():
    starts, ends = segment_grid(3)
    with pytest.raises(ValueError):
        plots.genre_strip_html(GENRES, np.full((4, len(GENRES)), 0.1), starts, ends, labels=["a"] * 3)


# --- Grad-CAM panels ---------------------------------------------------------------------


def test_heatmap_cells_have_one_pixel_per_frame_and_coefficient_with_coefficient_0_at_the_bottom():
    rng = np.random.default_rng(0)
    features, _ = random_page(rng, 1)
    heat = np.zeros((FRAMES_PER_SEGMENT, N_MFCC), dtype=np.float32)
    heat[:, 0] = 1.0  # all evidence in MFCC 0
    cells = plots.heatmap_cells(features[0], heat, display_range=plots.mfcc_display_range(features))
    assert cells.shape == (N_MFCC, FRAMES_PER_SEGMENT, 3) and cells.dtype == np.uint8
    hottest = plots.colormap_lut(plots.HEAT_COLORMAP)[255].astype(float)
    bottom, top = cells[-1].astype(float), cells[0].astype(float)
    assert np.abs(bottom - hottest).mean() < np.abs(top - hottest).mean()
    # cold cells are pure grey: the MFCC shows through
    assert np.all(top[:, 0] == top[:, 1]) and np.all(top[:, 1] == top[:, 2])


def test_heatmap_cells_of_a_batch_equal_those_of_each_segment():
    features, heatmaps = random_page(np.random.default_rng(6), 3)
    display_range = plots.mfcc_display_range(features)
    batch = plots.heatmap_cells(features, heatmaps, display_range=display_range)
    assert batch.shape == (3, N_MFCC, FRAMES_PER_SEGMENT, 3)
    for index in range(3):
        single = plots.heatmap_cells(features[index], heatmaps[index], display_range=display_range)
        assert np.array_equal(batch[index], single)


@pytest.mark.parametrize("height, width", [(1, 1), (20, 130), (7, 3)])
def test_png_bytes_decode_to_the_same_pixels(height, width):
    image = np.random.default_rng(height * width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(plots.png_bytes(image)))), image)
    with pytest.raises(ValueError):
        plots.png_bytes(image[:, :, 0])


def test_heatmap_cells_reject_mismatched_shapes():
    with pytest.raises(ValueError):
        plots.heatmap_cells(np.zeros((10, 20)), np.zeros((10, 19)), display_range=(np.zeros(20), np.ones(20)))


def test_mfcc_display_range_is_per_coefficient_and_finite_for_constant_input():
    features = np.zeros((2, FRAMES_PER_SEGMENT, N_MFCC), dtype=np.float32)
    low, high = plots.mfcc_display_range(features)
    assert low.shape == high.shape == (N_MFCC,)
    assert np.all(np.isfinite(low)) and np.all(high > low)


def test_heatmap_html_has_one_labelled_figure_per_segment():
    rng = np.random.default_rng(1)
    features, heatmaps = random_page(rng, 3)
    starts = np.array([0.0, 1.5, 3.0])
    titles = ["1. 0.0–3.0 s · rock 64%", "2. 1.5–4.5 s · metal 50%", "3. <script>x</script>"]
    html = plots.heatmap_html(features, heatmaps, starts=starts, seconds_per_frame=SECONDS_PER_FRAME, titles=titles)
    figures = parse_page(html)
    assert [figure["caption"] for figure in figures] == titles  # escaped in the markup, intact as text
    assert "<script>" not in html
    for figure, start in zip(figures, starts):
        assert figure["labels"] == ["MFCC", "time in recording (s)"]
        assert figure["yticks"] == ["0", "5", "10", "15"]
        xticks = [float(text) for text in figure["xticks"]]
        assert len(xticks) >= 2 and start <= xticks[0] and xticks[-1] <= start + SEGMENT_SECONDS + 0.05
        (image,) = figure["images"]
        assert image["alt"].startswith("Grad-CAM")
        cells = decode_png(image["src"])
        assert cells.shape == (N_MFCC, FRAMES_PER_SEGMENT, 3)


def test_heatmap_html_labels_minutes_for_long_recordings():
    rng = np.random.default_rng(2)
    features, heatmaps = random_page(rng, 1)
    html = plots.heatmap_html(
        features, heatmaps, starts=np.array([61.5]), seconds_per_frame=SECONDS_PER_FRAME, titles=["t"], minutes=True
    )
    (figure,) = parse_page(html)
    assert figure["labels"][-1] == "time in recording (min:s)"
    assert all(re.fullmatch(r"1:0[0-9]", text) for text in figure["xticks"])


def test_heatmap_strength_dims_the_heat_and_is_shown():
    rng = np.random.default_rng(6)
    features, heatmaps = random_page(rng, 2)
    heatmaps[1] = heatmaps[0]
    html = plots.heatmap_html(
        features,
        heatmaps,
        starts=np.zeros(2),
        seconds_per_frame=SECONDS_PER_FRAME,
        titles=["a", "b"],
        strengths=np.array([1.0, 0.02]),
        first_index=20,
        recording="k1",
    )
    strong, weak = (decode_png(figure["images"][0]["src"]) for figure in parse_page(html))
    grey = plots.heatmap_cells(
        features[1], np.zeros_like(heatmaps[1]), display_range=plots.mfcc_display_range(features)
    )
    assert np.abs(weak.astype(int) - grey).mean() < 0.1 * np.abs(strong.astype(int) - grey).mean()
    assert re.findall(r'data-strength="([\d.]+)"', html) == ["1.0000", "0.0200"]
    assert re.findall(r'<figure class="gc-panel" data-segment="(\d+)"', html) == ["20", "21"]
    assert 'data-recording="k1"' in html and html.count('class="gc-play"') == 2


def test_wav_data_uri_holds_the_samples():
    import soundfile

    samples = np.sin(np.arange(22050) / 7.0).astype(np.float32) * 0.5
    uri = plots.wav_data_uri(samples, sample_rate=22050)
    decoded, rate = soundfile.read(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), dtype="float32")
    assert rate == 22050 and decoded.shape == samples.shape
    np.testing.assert_allclose(decoded, samples, atol=1e-4)


def test_heatmap_html_survives_non_finite_heat():
    rng = np.random.default_rng(3)
    features, heatmaps = random_page(rng, 2)
    heatmaps[0, :5] = np.nan
    html = plots.heatmap_html(
        features, heatmaps, starts=np.zeros(2), seconds_per_frame=SECONDS_PER_FRAME, titles=["a", "b"]
    )
    assert len(parse_page(html)) == 2


def test_heatmap_html_rejects_mismatched_inputs():
    rng = np.random.default_rng(4)
    features, heatmaps = random_page(rng, 2)
    with pytest.raises(ValueError):
        plots.heatmap_html(
            features, heatmaps[:1], starts=np.zeros(2), seconds_per_frame=SECONDS_PER_FRAME, titles=["a", "b"]
        )
    with pytest.raises(ValueError):
        plots.heatmap_html(features, heatmaps, starts=np.zeros(2), seconds_per_frame=SECONDS_PER_FRAME, titles=["a"])


def test_rendering_a_page_is_cheap():
    """A 30-s clip's 19 panels and its strip in well under the ~100 ms the analysis itself takes."""
    rng = np.random.default_rng(5)
    features, heatmaps = random_page(rng, 19)
    starts, ends = segment_grid(19)
    probabilities = random_probabilities(rng, 19)
    titles = [f"{index}" for index in range(19)]
    plots.heatmap_html(features, heatmaps, starts=starts, seconds_per_frame=SECONDS_PER_FRAME, titles=titles)
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        plots.heatmap_html(features, heatmaps, starts=starts, seconds_per_frame=SECONDS_PER_FRAME, titles=titles)
        plots.genre_strip_html(GENRES, probabilities, starts, ends, labels=titles)
        best = min(best, time.perf_counter() - began)
    assert best < 0.1, f"rendering took {1000 * best:.0f} ms"
