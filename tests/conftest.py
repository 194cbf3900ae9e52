"""Fixtures shared by every test package: the GTZAN data beside the checkout, the committed model."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GTZAN_DIR = REPO.parent / "shared" / "gtzan"
EXAMPLES_DIR = REPO / "examples"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_gtzan() -> Path:
    """The GTZAN folder, or skip (locally) / fail (under CI=true) with the reason."""
    if (GTZAN_DIR / "MANIFEST.csv").is_file():
        return GTZAN_DIR
    reason = f"GTZAN data not found at {GTZAN_DIR} (it lives beside the checkout, never in it)"
    if IN_CI:
        pytest.fail(reason + "; CI must provide it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def gtzan_dir() -> Path:
    return require_gtzan()


@pytest.fixture(scope="session")
def gtzan_manifest(gtzan_dir) -> list[dict[str, str]]:
    """MANIFEST.csv rows of the usable clips (excluded ones left out)."""
    with open(gtzan_dir / "MANIFEST.csv", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["split"] != "excluded"]


@pytest.fixture(scope="session")
def full_clip(gtzan_dir, gtzan_manifest) -> Path:
    """One whole 30-s GTZAN clip from the valid split."""
    row = next(r for r in gtzan_manifest if r["kind"] == "full" and r["split"] == "valid")
    return gtzan_dir / row["file"]


@pytest.fixture(scope="session")
def snippet_clip(gtzan_dir, gtzan_manifest) -> Path:
    """One 2-3 s GTZAN excerpt."""
    row = next(r for r in gtzan_manifest if r["kind"] == "snippet")
    return gtzan_dir / row["file"]


@pytest.fixture(scope="session")
def classifier():
    """The committed model, loaded once for the whole session."""
    from model.classifier import GenreClassifier

    return GenreClassifier.load()
