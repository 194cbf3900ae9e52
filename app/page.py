"""The page's outputs, defined once: which things one analysis shows, in which order.

`Outputs` is generic: the layout fills it with components (``Outputs[gr.Component]``), the
handlers with their values (``Outputs[Any]``), and the wiring turns either into the list
Gradio wants with `as_list`, so the order is written only here. The API's ``/classify``
returns these values in this order, named after the components' labels; ``/explain``
returns `Panels`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _flatten(outputs: Any) -> list:
    """The fields' values in declaration order, nested groups spliced in."""
    values = []
    for field in dataclasses.fields(outputs):
        value = getattr(outputs, field.name)
        values.extend(_flatten(value) if dataclasses.is_dataclass(value) else [value])
    return values


@dataclasses.dataclass(frozen=True)
class Panels(Generic[T]):
    """The Grad-CAM part: what the explain selector and the segment-range selector redraw."""

    heatmaps: T  # HTML: one Grad-CAM panel per segment of the page shown, each with a Play button
    heatmap_note: T  # Markdown: which segments, explained for what

    def as_list(self) -> list[T]:
        return _flatten(self)


@dataclasses.dataclass(frozen=True)
class Outputs(Generic[T]):
    """Everything one analysis shows, in this order (the JSON last, as the API's users expect)."""

    summary: T  # Markdown: the top genre and which example was analysed, or why nothing could be
    chart: T  # BarPlot: every genre's probability, most probable first
    analysis_note: T  # Markdown: how much was analysed as how many segments, and what to be wary of
    strip: T  # HTML: genre over time, one button per segment
    explain_choice: T  # Dropdown: what the Grad-CAM panels explain (reset to each segment's top genre)
    segment_range: T  # Dropdown: which segments' panels are drawn (shown for long recordings)
    panels: Panels[T]
    result: T  # JSON: the numbers behind the page

    def as_list(self) -> list[T]:
        return _flatten(self)

    @classmethod
    def from_list(cls, values: list[Any]) -> Outputs[Any]:
        """The inverse of `as_list`, e.g. for a reply of the API's /classify."""
        names = [field.name for field in dataclasses.fields(cls)]
        where = names.index("panels")
        n_panels = len(dataclasses.fields(Panels))
        head, panels, tail = values[:where], values[where : where + n_panels], values[where + n_panels :]
        return cls(*head, Panels(*panels), *tail)
