"""``--report report.html``: the library's genre distribution as a chart, and the files that failed."""

from __future__ import annotations

import html

from library.progress import Summary

BAR_HEIGHT = 22
CHART_WIDTH = 640
LABEL_WIDTH = 110


def genre_chart(counts: dict[str, int]) -> str:
    """A horizontal bar chart (inline SVG) of files per genre, most frequent first."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    largest = max((count for _, count in ranked), default=1)
    scale = (CHART_WIDTH - LABEL_WIDTH - 60) / largest
    total = sum(counts.values()) or 1
    bars = []
    for index, (genre, count) in enumerate(ranked):
        y = index * BAR_HEIGHT
        width = max(count * scale, 1)
        bars.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">{html.escape(genre)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{BAR_HEIGHT - 6}" fill="#4c72b0"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 15}">{count} ({count / total:.0%})</text>'
        )
    height = max(len(ranked), 1) * BAR_HEIGHT
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="13" role="img" aria-label="files per genre">{"".join(bars)}</svg>'
    )


def report_html(summary: Summary) -> str:
    """The whole page: counts, the chart, and a table of the failed files with their reasons."""
    failed_rows = "".join(
        f"<tr><td>{html.escape(path)}</td><td>{html.escape(reason)}</td></tr>" for path, reason in summary.failed
    )
    failed = (
        f"<table><tr><th>file</th><th>reason</th></tr>{failed_rows}</table>"
        if summary.failed
        else "<p>None: every file was tagged.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>genre-cam: {html.escape(summary.out)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}td,th{{text-align:left;padding:2px 8px;
vertical-align:top}}tr:nth-child(even){{background:#f3f3f3}}</style></head><body>
<h1>Genres of {html.escape(summary.out)}</h1>
<p>{summary.files} files: {summary.ok} tagged, {len(summary.failed)} could not be tagged.</p>
<h2>Top genre per file</h2>
{genre_chart(dict(summary.genres))}
<h2>Files that could not be tagged ({len(summary.failed)})</h2>
{failed}
</body></html>
"""
