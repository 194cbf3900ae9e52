"""The bundled examples: audio excerpts listed with their credits in ``examples/examples.json``.

The file is a JSON list of objects with at least "file" (relative to ``examples/``) and
"label" (a short style description shown on the button, e.g. "instrumental metal, 30 s"),
plus the credits "title", "artist", "package" and "licence". Entries whose audio is
missing are left out with a warning, so a partial checkout still starts.
"""

from __future__ import annotations

import dataclasses
import filecmp
import html
import json
import logging
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
INDEX_NAME = "examples.json"

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Example:
    """One bundled recording and its credits."""

    path: Path
    label: str
    title: str = ""
    artist: str = ""
    package: str = ""
    licence: str = ""

    @property
    def credit(self) -> str:
        """One line of Markdown: label, title, artist, package and licence (known parts only)."""
        work = f"*{self.title}*" if self.title else self.path.name
        by = f" by {self.artist}" if self.artist else ""
        source = ", ".join(
            part for part in (f"Debian package `{self.package}`" if self.package else "", self.licence) if part
        )
        return f"**{self.label}**: {work}{by}" + (f" ({source})" if source else "")


def load_examples(directory: Path = EXAMPLES_DIR) -> list[Example]:
    """The examples whose audio exists, in the index's order; [] without a readable index."""
    index = Path(directory) / INDEX_NAME
    if not index.is_file():
        log.warning("no examples: %s not found", index)
        return []
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        log.warning("no examples: %s is not readable JSON (%s)", index, error)
        return []
    if not isinstance(entries, list):
        log.warning("no examples: %s should hold a JSON list", index)
        return []
    examples = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("file"):
            log.warning("skipping an example entry without a file: %r", entry)
            continue
        # "file" is relative to examples/; a path relative to the repository also works
        candidates = [Path(directory) / str(entry["file"]), Path(directory).parent / str(entry["file"])]
        path = next((candidate.resolve() for candidate in candidates if candidate.is_file()), candidates[0])
        if not path.is_file():
            log.warning("skipping example %s: file not found", path)
            continue
        examples.append(
            Example(
                path=path,
                label=str(entry.get("label") or path.stem),
                title=str(entry.get("title", "")),
                artist=str(entry.get("artist", "")),
                package=str(entry.get("package", "")),
                licence=str(entry.get("licence", entry.get("license", ""))),
            )
        )
    return examples


def credits_markdown(examples: list[Example]) -> str:
    """Markdown crediting every example, one bullet each ("" without examples)."""
    if not examples:
        return ""
    lines = [f"- {html.escape(example.credit, quote=False)}" for example in examples]
    return "Example recordings (excerpts of free music packaged in Debian):\n\n" + "\n".join(lines)


def find_example(path: Path, examples: list[Example]) -> Example | None:
    """The bundled example whose file ``path`` is a copy of (same name and bytes), or None.

    Gradio hands the handler its own copy of an example's file; this names it again.
    """
    path = Path(path)
    for example in examples:
        if example.path.name == path.name:
            try:
                if filecmp.cmp(example.path, path, shallow=False):
                    return example
            except OSError:
                return None
    return None
