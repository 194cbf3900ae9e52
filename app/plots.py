"""Pure functions from arrays to what the page shows: a probability table, a genre strip, Grad-CAM panels.

Nothing here draws a matplotlib figure: one costs about 30 ms, so a page of 20 panels would
cost more than the analysis itself. Both pictures are HTML around tiny PNG images that the
browser scales up: the genre strip's colours (a colormap look-up table indexes a uint8 array)
and, per segment, one pixel per (frame, coefficient) of Grad-CAM over the MFCC. Titles, ticks
and axis labels are text, so they stay readable at any width. Matplotlib supplies only its
colormaps.

Times on axes are seconds within the recording (min:s from a minute on).
"""

from __future__ import annotations

import base64
import functools
import html
import math
import struct
import zlib
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd

HEAT_COLORMAP = "inferno"  # Grad-CAM: dark = little evidence, bright yellow = most
STRIP_COLORMAP = "viridis"  # genre-over-time probabilities
HEAT_OPACITY = 0.9  # opacity of the hottest Grad-CAM cells over the MFCC
HEAT_GAMMA = 0.8  # opacity grows as heat ** gamma: cold cells leave the MFCC visible
MFCC_CLIP_SIGMAS = 2.5  # the grey MFCC image spans mean +- this many standard deviations


# --- small drawing helpers ---------------------------------------------------------------


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
        raise ValueError(
            f"{probabilities.shape[0] if probabilities.ndim else 0} probabilities for {len(genres)} genres"
        )
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

    Segments may overlap (a tail segment is the recording's last seconds), so each is drawn over
    the times closer to its own centre than to its neighbours': boundaries lie halfway between
    consecutive centres, the outer ones at the recording's start and at the last segment's end.
    """
    centres = (np.asarray(starts, dtype=np.float64) + np.asarray(ends, dtype=np.float64)) / 2.0
    inner = (centres[:-1] + centres[1:]) / 2.0
    return np.concatenate([[min(0.0, float(starts[0]))], inner, [float(ends[-1])]])


def strip_cells(segment_probabilities: np.ndarray, boundaries: np.ndarray, *, plot_width: int) -> np.ndarray:
    """The genre strip's colours: one row per genre, ``plot_width`` columns across the time axis.

    Parameters
    ----------
    segment_probabilities : (n_segments, n_genres), rows summing to 1.
    boundaries : (n_segments + 1,) seconds, see `segment_boundaries`.

    Returns
    -------
    (n_genres, plot_width, 3) uint8: column x shows the segment drawn over that time.
    """
    n_segments = segment_probabilities.shape[0]
    t0, t1 = float(boundaries[0]), float(boundaries[-1])
    pixel_times = t0 + (np.arange(plot_width) + 0.5) * (t1 - t0) / plot_width
    column_segment = np.clip(np.searchsorted(boundaries, pixel_times, side="right") - 1, 0, n_segments - 1)
    return apply_lut(
        np.asarray(segment_probabilities, dtype=np.float32)[column_segment].T, colormap_lut(STRIP_COLORMAP)
    )


def _segment_buttons(top: np.ndarray, edges: Sequence[float], labels: Sequence[str], *, n_genres: int) -> str:
    """The strip's ``button.gs-seg`` per segment: its column (``edges`` in percent) with a dot on its top genre."""
    return "".join(
        f'<button type="button" class="gs-seg" data-segment="{index}" '
        f'style="left:{edges[index]:.3f}%;width:{edges[index + 1] - edges[index]:.3f}%" '
        f'title="{html.escape(label)}" aria-label="{html.escape(label)}">'
        f'<span class="gs-dot" style="top:{100.0 * (row + 0.5) / n_genres:.2f}%"></span></button>'
        for index, (label, row) in enumerate(zip(labels, top))
    )


def genre_strip_html(
    genres: Sequence[str],
    segment_probabilities: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    *,
    labels: Sequence[str],
    title: str = "Genre over time",
    note: str = "",
    plot_width: int = 720,
) -> str:
    """Genre over time as HTML: one row per genre, colour = probability, a dot on each segment's top genre.

    The colours are one small PNG (`strip_cells`) stretched over the plot; names, ticks and the
    colour scale are text, readable on a phone. Each segment is a ``button.gs-seg[data-segment=i]``
    over its column, titled with its label (the page jumps to its Grad-CAM panel).

    Parameters
    ----------
    genres : (n_genres,) row names, drawn top to bottom in this order.
    segment_probabilities : (n_segments, n_genres), rows summing to 1.
    starts, ends : (n_segments,) seconds within the recording.
    labels : one per segment, e.g. "4. 9.0–12.0 s · rock 64%".
    title, note : a heading above the plot and a sentence below it.
    plot_width : columns of the colour image.

    Returns
    -------
    An HTML fragment ``div.gs-figure`` (styles: STRIP_CSS).
    """
    segment_probabilities = np.asarray(segment_probabilities, dtype=np.float32)
    n_segments, n_genres = segment_probabilities.shape
    if n_genres != len(genres) or not len(starts) == len(ends) == len(labels) == n_segments or n_segments == 0:
        raise ValueError("needs (n_segments, n_genres) probabilities and n_segments starts, ends and labels")
    boundaries = segment_boundaries(starts, ends)
    t0, t1 = float(boundaries[0]), float(boundaries[-1])
    minutes = t1 >= 60.0
    edges = 100.0 * (boundaries - t0) / (t1 - t0)  # percent of the plot's width
    buttons = _segment_buttons(np.argmax(segment_probabilities, axis=1), edges, labels, n_genres=n_genres)
    names = "".join(f"<span>{html.escape(genre)}</span>" for genre in genres)
    ticks = "".join(
        f'<span style="left:{100.0 * (tick - t0) / (t1 - t0):.2f}%">{format_time(tick, minutes=minutes)}</span>'
        for tick in time_ticks(t0, t1, max_ticks=8)
    )
    cells = png_data_uri(strip_cells(segment_probabilities, boundaries, plot_width=plot_width))
    return (
        f'<div class="gs-figure"><h3 class="gs-title">{html.escape(title)}</h3>'
        f'<div class="gs-strip" style="--gs-rows:{n_genres}">'
        f'<div class="gs-names">{names}</div>'
        f'<div class="gs-plot"><img class="gs-cells" src="{cells}" alt="{html.escape(title)}: '
        f'probability of each genre in each segment">{buttons}</div>'
        f'<div class="gs-scale"><span>100%</span>'
        f'<span class="gs-gradient" style="background:{_gradient_css(STRIP_COLORMAP, direction="to top")}"></span>'
        f"<span>0%</span></div>"
        f'<div class="gs-xticks">{ticks}</div>'
        f'<div class="gs-xlabel">{time_label(minutes=minutes)}</div></div>'
        + (f'<p class="gs-note">{html.escape(note)}</p>' if note else "")
        + "</div>"
    )


# Styles for `genre_strip_html`; the app scopes them to the strip's component.
STRIP_CSS = """
.gs-title { margin: 0 0 .4em; font-size: 1.05em; }
.gs-strip { display: grid; grid-template-columns: max-content minmax(0, 1fr) max-content;
            grid-template-rows: auto 1.5em auto; column-gap: .4em; font-size: 12px; line-height: 1; }
.gs-names { grid-area: 1 / 1; display: grid; grid-template-rows: repeat(var(--gs-rows), 1.4em); text-align: right; }
.gs-names span { align-self: center; }
.gs-plot { grid-area: 1 / 2; position: relative; height: calc(var(--gs-rows) * 1.4em); border: 1px solid #5a5a5a; }
.gs-cells { position: absolute; inset: 0; width: 100%; height: 100%; image-rendering: pixelated; display: block; }
.gs-seg { position: absolute; top: 0; bottom: 0; margin: 0; padding: 0; border: 0; background: transparent;
          cursor: pointer; min-width: 0; }
.gs-seg:hover, .gs-seg:focus-visible { outline: 2px solid #fff; outline-offset: -2px; }
.gs-dot { position: absolute; left: 50%; width: 7px; height: 7px; transform: translate(-50%, -50%);
          border-radius: 50%; background: #fff; border: 1px solid #000; pointer-events: none; }
.gs-scale { grid-area: 1 / 3; display: flex; flex-direction: column; align-items: center; gap: .2em; }
.gs-gradient { flex: 1; width: .7em; border: 1px solid #5a5a5a; }
.gs-xticks { grid-area: 2 / 2; position: relative; }
.gs-xticks span { position: absolute; top: .3em; transform: translateX(-50%); white-space: nowrap; }
.gs-xlabel { grid-area: 3 / 2; text-align: center; }
.gs-note { margin: .5em 0 0; font-size: .9em; }
"""


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


def heatmap_cells(mfcc: np.ndarray, heatmap: np.ndarray, *, display_range: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
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


def _gradient_css(lut_name: str, *, stops: int = 9, direction: str = "to right") -> str:
    colours = colormap_lut(lut_name)[np.linspace(0, 255, stops).round().astype(int)]
    return f"linear-gradient({direction}, " + ", ".join(f"rgb({r},{g},{b})" for r, g, b in colours) + ")"


GENRE_STRENGTH = "of the segment's top genre"  # what a genre's evidence strength is measured against


def _panel_figure(
    cells: np.ndarray,
    start: float,
    title: str,
    *,
    index: int,
    seconds_per_frame: float,
    span: float,
    minutes: bool,
    coefficient_ticks: str,
    strength: float | None,
    strength_meaning: str,
    playable: bool,
) -> str:
    """One ``figure.gc-panel`` of `heatmap_html`: (n_mfcc, frames, 3) cells starting at ``start`` seconds."""
    left = start - seconds_per_frame / 2.0  # the image's left edge in seconds
    ticks = time_ticks(left, left + span, max_ticks=4)
    step = float(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = 0 if step.is_integer() else 1
    time_spans = "".join(
        f'<span style="left:{100.0 * (tick - left) / span:.2f}%">'
        f"{format_time(tick, minutes=minutes, decimals=decimals)}</span>"
        for tick in ticks
    )
    escaped = html.escape(title)
    bar = ""
    if strength is not None:
        bar = (
            f'<div class="gc-strength" data-strength="{strength:.4f}" title="evidence strength: {strength:.0%} '
            f'{html.escape(strength_meaning)}"><span style="width:{100.0 * strength:.1f}%"></span></div>'
        )
    listen = ""
    if playable:
        listen = (
            '<div class="gc-listen"><button type="button" class="gc-play">▶ Play this segment</button>'
            '<audio class="gc-audio" controls preload="none" hidden></audio></div>'
        )
    return (
        f'<figure class="gc-panel" data-segment="{index}">'
        f"<figcaption>{escaped}</figcaption>{bar}"
        '<div class="gc-plot">'
        '<div class="gc-ylabel">MFCC</div>'
        f'<div class="gc-yticks">{coefficient_ticks}</div>'
        f'<img class="gc-cells" src="{png_data_uri(cells)}" alt="Grad-CAM over the MFCC, {escaped}">'
        f'<div class="gc-xticks">{time_spans}</div>'
        f'<div class="gc-xlabel">{time_label(minutes=minutes)}</div>'
        f"</div>{listen}</figure>"
    )


def _checked_page(
    features: np.ndarray, heatmaps: np.ndarray, *, n_titles: int, starts: np.ndarray, strengths: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """`heatmap_html`'s inputs as float32, checked; the heat multiplied by each panel's strength."""
    features = np.asarray(features, dtype=np.float32)
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if features.shape != heatmaps.shape or features.ndim != 3:
        raise ValueError(f"features {features.shape} and heatmaps {heatmaps.shape} must both be (n, frames, n_mfcc)")
    if not len(starts) == n_titles == features.shape[0]:
        raise ValueError("one start and one title per segment")
    if strengths is not None:
        strengths = np.clip(np.nan_to_num(np.asarray(strengths, dtype=np.float32), nan=0.0), 0.0, 1.0)
        if strengths.shape != (features.shape[0],):
            raise ValueError(f"one strength per segment, got {strengths.shape}")
        heatmaps = np.nan_to_num(heatmaps, nan=0.0) * strengths[:, np.newaxis, np.newaxis]
    return features, heatmaps, strengths


def heatmap_html(
    features: np.ndarray,
    heatmaps: np.ndarray,
    *,
    starts: np.ndarray,
    seconds_per_frame: float,
    titles: Sequence[str],
    minutes: bool = False,
    strengths: np.ndarray | None = None,
    strength_meaning: str = GENRE_STRENGTH,
    first_index: int = 0,
    recording: str | None = None,
) -> str:
    """A page of Grad-CAM panels as HTML: one figure per segment with labelled axes.

    Each figure: the segment's `heatmap_cells` as a PNG (scaled up by the browser, HEATMAP_CSS), its
    title, coefficient ticks left, time ticks in seconds within the recording below; one legend per page.

    Parameters
    ----------
    features : (n_segments, frames, n_mfcc) raw MFCC (channel 0 of the classifier's features).
    heatmaps : (n_segments, frames, n_mfcc) Grad-CAM in [0, 1], each scaled to its own maximum.
    starts : (n_segments,) seconds within the recording of each segment's first frame.
    seconds_per_frame : seconds between MFCC frames.
    titles : one per segment, e.g. "3.0–6.0 s · rock 64%".
    minutes : label times in min:s (recordings of a minute or more).
    strengths : (n_segments,) in [0, 1], each panel's evidence strength (heat times it, and a bar); None: all 1.
    strength_meaning : what a strength is measured against, in the bar's tooltip
        ("evidence strength: 40% of the segment's top genre").
    first_index : the recording's index of the first segment (``figure[data-segment]``).
    recording : the recording's opaque key; with one, a ``button.gc-play`` and an empty ``audio.gc-audio`` per figure.

    Returns
    -------
    An HTML fragment: ``div.gc-page`` holding a ``p.gc-legend`` and one ``figure.gc-panel`` per segment.
    """
    features, heatmaps, strengths = _checked_page(
        features, heatmaps, n_titles=len(titles), starts=starts, strengths=strengths
    )
    _, frames, n_mfcc = features.shape
    span = frames * seconds_per_frame  # pixel k shows frame k, centred on start + k * seconds_per_frame
    cells = heatmap_cells(features, heatmaps, display_range=mfcc_display_range(features))  # (n, n_mfcc, frames, 3)
    figures = [
        _panel_figure(
            segment_cells,
            float(start),
            title,
            index=first_index + number,
            seconds_per_frame=seconds_per_frame,
            span=span,
            minutes=minutes,
            coefficient_ticks=_coefficient_ticks(n_mfcc),
            strength=None if strengths is None else float(strengths[number]),
            strength_meaning=strength_meaning,
            playable=recording is not None,
        )
        for number, (segment_cells, start, title) in enumerate(zip(cells, starts, titles))
    ]
    key = f' data-recording="{html.escape(recording)}"' if recording is not None else ""
    return f'<div class="gc-page"{key}>{_legend_html()}<div class="gc-grid">{"".join(figures)}</div></div>'


def _coefficient_ticks(n_mfcc: int) -> str:
    """Tick labels every 5 coefficients, positioned from the bottom of a panel."""
    return "".join(
        f'<span style="bottom:{100.0 * (index + 0.5) / n_mfcc:.2f}%">{index}</span>' for index in range(0, n_mfcc, 5)
    )


def _legend_html() -> str:
    """The page's one colour legend: Grad-CAM heat over the grey MFCC."""
    return (
        '<p class="gc-legend"><span>Grad-CAM evidence: low</span>'
        f'<span class="gc-gradient" style="background:{_gradient_css(HEAT_COLORMAP)}"></span>'
        "<span>high</span><span>· grey underneath: the MFCC value (dark = low, light = high)</span></p>"
    )


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
.gc-strength { height: .35em; margin: 0 auto .3em; width: 60%; background: #ddd; border-radius: .2em;
  overflow: hidden; }
.gc-strength span { display: block; height: 100%; background: #c2410c; }
.gc-listen { margin: .3em 0 0 2.9em; }
.gc-listen audio { width: 100%; height: 2.2em; }
.gc-play { font: inherit; font-size: .85em; padding: .15em .6em; border: 1px solid #999; border-radius: .3em;
           background: transparent; color: inherit; cursor: pointer; }
.gc-panel.gc-jumped { outline: 3px solid #f97316; outline-offset: 3px; }
@media (max-width: 480px) { .gc-grid { grid-template-columns: minmax(0, 1fr); } }
"""


def wav_data_uri(samples: np.ndarray, *, sample_rate: int) -> str:
    """(n_samples,) float audio in [-1, 1] -> "data:audio/wav;base64,..." (16-bit PCM, mono).

    A 3-s segment at 22050 Hz is 132 kB (176 kB as base64), sent only when its Play button asks.
    """
    pcm = np.round(np.clip(np.nan_to_num(np.asarray(samples, dtype=np.float32)), -1.0, 1.0) * 32767.0).astype("<i2")
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + pcm.nbytes,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        sample_rate,
        2 * sample_rate,
        2,
        16,
        b"data",
        pcm.nbytes,
    )
    return "data:audio/wav;base64," + base64.b64encode(header + pcm.tobytes()).decode("ascii")
