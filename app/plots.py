"""Pure functions from arrays to what the page shows: a probability table, a genre strip, Grad-CAM panels.

Nothing here draws a matplotlib figure: one costs about 30 ms, so a page of 20 panels would
cost more than the analysis itself. The genre strip is drawn directly (a colormap look-up
table indexes a uint8 array; Pillow adds the axes). The Grad-CAM panels are HTML: each
segment becomes a tiny image with one pixel per (frame, coefficient), which the browser
scales up, with its title, ticks and axis labels as text. Matplotlib supplies only its
colormaps and the DejaVu Sans font.

Times on axes are seconds within the recording (min:s from a minute on).
"""

from __future__ import annotations

import base64
import functools
import html
import math
import struct
import zlib
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

HEAT_COLORMAP = "inferno"  # Grad-CAM: dark = little evidence, bright yellow = most
STRIP_COLORMAP = "viridis"  # genre-over-time probabilities
HEAT_OPACITY = 0.9  # opacity of the hottest Grad-CAM cells over the MFCC
HEAT_GAMMA = 0.8  # opacity grows as heat ** gamma: cold cells leave the MFCC visible
MFCC_CLIP_SIGMAS = 2.5  # the grey MFCC image spans mean +- this many standard deviations
FONT_SIZE = 12
TEXT = (33, 33, 33)
BACKGROUND = (255, 255, 255)
FRAME = (90, 90, 90)


# --- small drawing helpers ---------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def font(size: int = FONT_SIZE) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib's data (it has the dash, dot and percent glyphs we use)."""
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size)


@functools.lru_cache(maxsize=8)
def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 RGB table of a matplotlib colormap."""
    rgba = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))
    return np.round(rgba[:, :3] * 255).astype(np.uint8)


def apply_lut(values: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Values in [0, 1] of any shape -> (*shape, 3) uint8 colours (NaN counts as 0)."""
    indices = np.round(np.nan_to_num(np.clip(values, 0.0, 1.0), nan=0.0) * 255).astype(np.intp)
    return lut[indices]


def nice_step(span: float, *, max_ticks: int) -> float:
    """The smallest step of 1, 2 or 5 times a power of ten giving at most ``max_ticks`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / max(1, max_ticks)
    power = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1.0, 2.0, 5.0, 10.0):
        if multiple * power >= raw:
            return multiple * power
    return 10.0 * power


def time_ticks(lo: float, hi: float, *, max_ticks: int) -> np.ndarray:
    """Tick positions in seconds within [lo, hi]; steps of 1, 2, 5 ... or 15/30/60 s multiples."""
    step = nice_step(hi - lo, max_ticks=max_ticks)
    if step > 10:  # minutes read better in steps of 15 s, 30 s, 1, 2, 5, 10 min ...
        step = next((s for s in (15, 30, 60, 120, 300, 600, 1200) if s >= step), step)
    first = math.ceil(lo / step - 1e-9) * step
    return np.arange(first, hi + 1e-9, step)


def format_time(seconds: float, *, minutes: bool, decimals: int = 0) -> str:
    """12.5 -> "12.5" (or "0:12.5" with ``minutes``); no unit, the axis label has it."""
    if not minutes:
        return f"{seconds:.{decimals}f}"
    whole_minutes, rest = divmod(max(0.0, seconds), 60.0)
    width = 3 + decimals if decimals else 2
    return f"{int(whole_minutes)}:{rest:0{width}.{decimals}f}"


def time_label(*, minutes: bool) -> str:
    return "time in recording (min:s)" if minutes else "time in recording (s)"


def _draw_frame(draw: ImageDraw.ImageDraw, x0: int, y0: int, width: int, height: int) -> None:
    draw.rectangle((x0 - 1, y0 - 1, x0 + width, y0 + height), outline=FRAME)


def _draw_x_ticks(
    draw: ImageDraw.ImageDraw, pixels: Sequence[float], labels: Sequence[str], *, baseline: int
) -> None:
    for pixel, text in zip(pixels, labels):
        x = int(round(pixel))
        draw.line((x, baseline, x, baseline + 3), fill=FRAME)
        draw.text((x, baseline + 4), text, font=font(), fill=TEXT, anchor="mt")


def _draw_y_ticks(
    draw: ImageDraw.ImageDraw, pixels: Sequence[float], labels: Sequence[str], *, axis: int
) -> None:
    for pixel, text in zip(pixels, labels):
        y = int(round(pixel))
        draw.line((axis - 4, y, axis - 1, y), fill=FRAME)
        draw.text((axis - 6, y), text, font=font(), fill=TEXT, anchor="rm")


@functools.lru_cache(maxsize=8)
def _colour_bar(lut_name: str, height: int, width: int = 8) -> np.ndarray:
    """(height, width, 3) vertical colour bar, the top colour being the maximum."""
    column = apply_lut(np.linspace(1.0, 0.0, height), colormap_lut(lut_name))
    return np.repeat(column[:, np.newaxis, :], width, axis=1)


def _paste_colour_bar(
    canvas: Image.Image, draw: ImageDraw.ImageDraw, *, lut_name: str, x: int, y: int, height: int,
    top_label: str, bottom_label: str,
) -> None:
    bar = _colour_bar(lut_name, height)
    canvas.paste(Image.fromarray(bar), (x, y))
    _draw_frame(draw, x, y, bar.shape[1], height)
    draw.text((x + bar.shape[1] + 3, y), top_label, font=font(10), fill=TEXT, anchor="lt")
    draw.text((x + bar.shape[1] + 3, y + height), bottom_label, font=font(10), fill=TEXT, anchor="lb")


# --- probability chart -------------------------------------------------------------------


def probability_table(genres: Sequence[str], probabilities: np.ndarray) -> pd.DataFrame:
    """The recording's probabilities as rows for a bar chart, most probable first.

    Parameters
    ----------
    genres : (n_genres,) names in the model's output order.
    probabilities : (n_genres,) summing to 1.

    Returns
    -------
    DataFrame with columns "genre" and "probability" (percent, 0-100), sorted descending
    (ties keep the model's order).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(genres),):
        raise ValueError(f"{probabilities.shape[0] if probabilities.ndim else 0} probabilities for {len(genres)} genres")
    order = np.argsort(-probabilities, kind="stable")
    return pd.DataFrame(
        {
            "genre": [genres[index] for index in order],
            "probability": np.round(100.0 * probabilities[order], 1),
        }
    )


# --- genre over time ---------------------------------------------------------------------


def segment_boundaries(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Where each segment's column begins and ends on a time axis: (n_segments + 1,) seconds.

    Segments may overlap (the last one ends flush with the recording), so each is drawn over
    the times closer to its own centre than to its neighbours': boundaries lie halfway between
    consecutive centres, the outer ones at the recording's start and end.
    """
    centres = (np.asarray(starts, dtype=np.float64) + np.asarray(ends, dtype=np.float64)) / 2.0
    inner = (centres[:-1] + centres[1:]) / 2.0
    return np.concatenate([[min(0.0, float(starts[0]))], inner, [float(ends[-1])]])


def genre_strip(
    genres: Sequence[str],
    segment_probabilities: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    *,
    plot_width: int = 720,
    row_height: int = 16,
) -> np.ndarray:
    """Genre over time: one row per genre, colour = probability, a dot on each segment's top genre.

    Parameters
    ----------
    genres : (n_genres,) row names, drawn top to bottom in this order.
    segment_probabilities : (n_segments, n_genres), rows summing to 1.
    starts, ends : (n_segments,) seconds within the recording.
    plot_width : pixels of the time axis.
    row_height : pixels per genre row.

    Returns
    -------
    (height, width, 3) uint8 RGB image with the genre names on the y axis, time in seconds
    (or min:s beyond a minute) on the x axis and a colour bar from 0 to 100 %.
    """
    segment_probabilities = np.asarray(segment_probabilities, dtype=np.float32)
    n_segments, n_genres = segment_probabilities.shape
    if n_genres != len(genres) or len(starts) != n_segments or len(ends) != n_segments or n_segments == 0:
        raise ValueError("genre_strip needs (n_segments, n_genres) probabilities and n_segments starts and ends")
    boundaries = segment_boundaries(starts, ends)
    t0, t1 = float(boundaries[0]), float(boundaries[-1])
    pixel_times = t0 + (np.arange(plot_width) + 0.5) * (t1 - t0) / plot_width
    column_segment = np.clip(np.searchsorted(boundaries, pixel_times, side="right") - 1, 0, n_segments - 1)
    cells = apply_lut(segment_probabilities[column_segment].T, colormap_lut(STRIP_COLORMAP))  # (genres, px, 3)
    block = np.repeat(cells, row_height, axis=0)

    # Mark the top genre of each segment at the centre of its column.
    top = np.argmax(segment_probabilities, axis=1)
    centres = (np.asarray(starts) + np.asarray(ends)) / 2.0
    centre_px = np.clip(((centres - t0) / (t1 - t0) * plot_width).astype(int), 0, plot_width - 1)

    minutes = t1 >= 60.0
    template, (left, top_margin) = _strip_template(tuple(genres), plot_width, row_height, minutes)
    canvas = template.copy()
    canvas.paste(Image.fromarray(block), (left, top_margin))
    draw = ImageDraw.Draw(canvas)
    radius = max(2, min(row_height // 4, plot_width // max(1, 3 * n_segments)))
    for pixel, row in zip(centre_px, top):
        cx, cy = left + int(pixel), top_margin + int(row) * row_height + row_height // 2
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(255, 255, 255), outline=(0, 0, 0))
    ticks = time_ticks(t0, t1, max_ticks=10)
    _draw_x_ticks(
        draw,
        [left + (tick - t0) / (t1 - t0) * plot_width for tick in ticks],
        [format_time(tick, minutes=minutes) for tick in ticks],
        baseline=top_margin + n_genres * row_height,
    )
    return np.asarray(canvas)


@functools.lru_cache(maxsize=16)
def _strip_template(
    genres: tuple[str, ...], plot_width: int, row_height: int, minutes: bool
) -> tuple[Image.Image, tuple[int, int]]:
    """The parts of `genre_strip` that do not depend on the recording, drawn once.

    Returns the canvas (genre names, frame, colour bar, time-axis label) and the (x, y)
    pixel of the plot area's top-left corner.
    """
    n_genres = len(genres)
    name_width = max(font().getbbox(name)[2] for name in genres)
    left, right, top_margin, bottom = name_width + 14, 52, 8, 36
    plot_height = n_genres * row_height
    canvas = Image.new("RGB", (left + plot_width + right, top_margin + plot_height + bottom), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    _draw_frame(draw, left, top_margin, plot_width, plot_height)
    draw.text((left + plot_width // 2, top_margin + plot_height + 20), time_label(minutes=minutes),
              font=font(), fill=TEXT, anchor="mt")
    _draw_y_ticks(
        draw,
        [top_margin + row * row_height + row_height / 2 for row in range(n_genres)],
        list(genres),
        axis=left,
    )
    _paste_colour_bar(canvas, draw, lut_name=STRIP_COLORMAP, x=left + plot_width + 10, y=top_margin,
                      height=plot_height, top_label="100%", bottom_label="0%")
    return canvas, (left, top_margin)


def image_html(image: np.ndarray, *, alt: str, css_class: str = "gc-strip") -> str:
    """(height, width, 3) uint8 RGB -> an ``<img>`` holding it as a PNG data URI.

    The page gets the picture inside the reply itself: no file written on the server and no
    second request from the browser, which for a picture this small costs more than drawing it.
    """
    height, width = image.shape[:2]
    return (f'<img class="{css_class}" src="{png_data_uri(image)}" width="{width}" height="{height}" '
            f'alt="{html.escape(alt)}" style="max-width:100%;height:auto">')


# --- Grad-CAM over MFCC ------------------------------------------------------------------


def mfcc_display_range(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-coefficient grey-scale range for showing MFCC: mean -+ MFCC_CLIP_SIGMAS std.

    MFCC 0 (loudness) spans hundreds of units, the higher coefficients a few; scaling each
    coefficient on its own makes all of them visible. One range serves all panels on a page
    so that their greys can be compared.

    Parameters
    ----------
    features : (n_segments, frames, n_mfcc)

    Returns
    -------
    (low, high), each (n_mfcc,)
    """
    values = np.asarray(features, dtype=np.float64).reshape(-1, features.shape[-1])
    mean, std = values.mean(axis=0), values.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    return mean - MFCC_CLIP_SIGMAS * std, mean + MFCC_CLIP_SIGMAS * std


def heatmap_cells(
    mfcc: np.ndarray, heatmap: np.ndarray, *, display_range: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Grad-CAM colour over the grey MFCC, one pixel per (frame, coefficient).

    The browser scales the image up, so the server never handles more pixels than the
    model saw. Cold cells show the MFCC; the hotter a cell, the more opaque its colour.

    Parameters
    ----------
    mfcc : (..., frames, n_mfcc) raw MFCC of one segment, or of several.
    heatmap : the same shape, Grad-CAM in [0, 1].
    display_range : per-coefficient (low, high) for the grey scale, see `mfcc_display_range`.

    Returns
    -------
    (..., n_mfcc, frames, 3) uint8: time left to right, coefficient 0 in the bottom row.
    """
    if mfcc.shape != heatmap.shape or mfcc.ndim < 2:
        raise ValueError(f"MFCC {mfcc.shape} and heatmap {heatmap.shape} must both be (..., frames, n_mfcc)")
    low, high = display_range
    grey = np.clip((mfcc - low) / (high - low), 0.0, 1.0)[..., np.newaxis] * 190.0 + 35.0
    heat = np.clip(np.nan_to_num(heatmap, nan=0.0), 0.0, 1.0)
    colour = apply_lut(heat, colormap_lut(HEAT_COLORMAP)).astype(np.float32)
    alpha = (HEAT_OPACITY * heat**HEAT_GAMMA)[..., np.newaxis]
    cells = np.round(grey * (1.0 - alpha) + colour * alpha).astype(np.uint8)  # (..., frames, n_mfcc, 3)
    return np.ascontiguousarray(np.swapaxes(cells, -3, -2)[..., ::-1, :, :])


def png_bytes(image: np.ndarray) -> bytes:
    """(height, width, 3) uint8 RGB -> a PNG file's bytes.

    Written directly (signature, IHDR, one zlib IDAT, IEND) because Pillow's encoder costs
    ~0.6 ms of set-up per image, ten times the work for a 130 x 20 panel, and a page has 20.
    Every row uses PNG's "Sub" filter (each byte minus the same channel of the pixel to its
    left), which makes smooth heatmaps about a quarter smaller than unfiltered rows.
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected (height, width, 3) RGB, got {image.shape}")
    height, width, _ = image.shape
    flat = image.reshape(height, -1)
    filtered = flat.copy()
    filtered[:, 3:] -= flat[:, :-3]  # uint8 arithmetic wraps modulo 256, as the filter requires
    rows = np.concatenate([np.ones((height, 1), np.uint8), filtered], axis=1)  # filter type 1 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1))
        + chunk(b"IEND", b"")
    )


def png_data_uri(image: np.ndarray) -> str:
    """(height, width, 3) uint8 -> "data:image/png;base64,..."."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def _gradient_css(lut_name: str, *, stops: int = 9) -> str:
    colours = colormap_lut(lut_name)[np.linspace(0, 255, stops).round().astype(int)]
    return "linear-gradient(to right, " + ", ".join(f"rgb({r},{g},{b})" for r, g, b in colours) + ")"


def heatmap_html(
    features: np.ndarray,
    heatmaps: np.ndarray,
    *,
    starts: np.ndarray,
    seconds_per_frame: float,
    titles: Sequence[str],
    minutes: bool = False,
) -> str:
    """A page of Grad-CAM panels as HTML: one figure per segment with labelled axes.

    Each figure holds the segment's `heatmap_cells` as a PNG data URI (scaled up by the
    browser, see HEATMAP_CSS) with its title above, MFCC coefficient ticks on the left and
    time ticks in seconds within the recording below; one colour legend serves the page.
    All panels share one grey scale (`mfcc_display_range` over the page).

    Parameters
    ----------
    features : (n_segments, frames, n_mfcc) raw MFCC (channel 0 of the classifier's features).
    heatmaps : (n_segments, frames, n_mfcc) Grad-CAM in [0, 1].
    starts : (n_segments,) seconds within the recording of each segment's first frame.
    seconds_per_frame : seconds between MFCC frames.
    titles : one per segment, e.g. "3.0–6.0 s · rock 64%".
    minutes : label times in min:s (recordings of a minute or more).

    Returns
    -------
    An HTML fragment: ``div.gc-page`` holding a ``p.gc-legend`` and one ``figure.gc-panel``
    per segment.
    """
    features = np.asarray(features, dtype=np.float32)
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if features.shape != heatmaps.shape or features.ndim != 3:
        raise ValueError(f"features {features.shape} and heatmaps {heatmaps.shape} must both be (n, frames, n_mfcc)")
    if not len(starts) == len(titles) == features.shape[0]:
        raise ValueError("one start and one title per segment")
    _, frames, n_mfcc = features.shape
    display_range = mfcc_display_range(features)
    coefficient_ticks = "".join(
        f'<span style="bottom:{100.0 * (index + 0.5) / n_mfcc:.2f}%">{index}</span>'
        for index in range(0, n_mfcc, 5)
    )
    span = frames * seconds_per_frame  # pixel k shows frame k, centred on start + k * seconds_per_frame
    cells = heatmap_cells(features, heatmaps, display_range=display_range)  # (n, n_mfcc, frames, 3)
    figures = []
    for segment_cells, start, title in zip(cells, starts, titles):
        left = float(start) - seconds_per_frame / 2.0  # the image's left edge in seconds
        ticks = time_ticks(left, left + span, max_ticks=4)
        step = float(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
        decimals = 0 if step.is_integer() else 1
        time_spans = "".join(
            f'<span style="left:{100.0 * (tick - left) / span:.2f}%">'
            f"{format_time(tick, minutes=minutes, decimals=decimals)}</span>"
            for tick in ticks
        )
        uri = png_data_uri(segment_cells)
        escaped = html.escape(title)
        figures.append(
            '<figure class="gc-panel">'
            f"<figcaption>{escaped}</figcaption>"
            '<div class="gc-plot">'
            '<div class="gc-ylabel">MFCC</div>'
            f'<div class="gc-yticks">{coefficient_ticks}</div>'
            f'<img class="gc-cells" src="{uri}" alt="Grad-CAM over the MFCC, {escaped}">'
            f'<div class="gc-xticks">{time_spans}</div>'
            f'<div class="gc-xlabel">{time_label(minutes=minutes)}</div>'
            "</div></figure>"
        )
    legend = (
        '<p class="gc-legend"><span>Grad-CAM evidence: low</span>'
        f'<span class="gc-gradient" style="background:{_gradient_css(HEAT_COLORMAP)}"></span>'
        "<span>high</span><span>· grey underneath: the MFCC value (dark = low, light = high)</span></p>"
    )
    return f'<div class="gc-page">{legend}<div class="gc-grid">{"".join(figures)}</div></div>'


# Styles for `heatmap_html`; the app scopes them to the heatmap component.
HEATMAP_CSS = """
.gc-legend { display: flex; flex-wrap: wrap; align-items: center; gap: .4em; margin: 0 0 .6em; font-size: .9em; }
.gc-gradient { display: inline-block; width: 8em; height: .9em; border: 1px solid #888; }
.gc-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: .8em 1.2em; }
.gc-panel { margin: 0; }
.gc-panel figcaption { text-align: center; font-size: .9em; font-weight: 600; margin-bottom: .2em; }
.gc-plot { display: grid; grid-template-columns: 1.3em 1.6em 1fr; grid-template-rows: auto 1.3em auto;
           font-size: .8em; }
.gc-ylabel { grid-area: 1 / 1; writing-mode: vertical-rl; transform: rotate(180deg); text-align: center; }
.gc-yticks { grid-area: 1 / 2; position: relative; }
.gc-yticks span { position: absolute; right: .35em; transform: translateY(50%); line-height: 1; }
.gc-cells { grid-area: 1 / 3; width: 100%; height: 9em; image-rendering: pixelated; display: block;
            border: 1px solid #666; box-sizing: border-box; }
.gc-xticks { grid-area: 2 / 3; position: relative; }
.gc-xticks span { position: absolute; top: .15em; transform: translateX(-50%); line-height: 1; }
.gc-xlabel { grid-area: 3 / 3; text-align: center; }
"""
