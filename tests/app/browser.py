"""Debian's headless Chromium driven by Playwright (never a downloaded browser).

``driver()`` starts Playwright and ``launch_chromium(playwright, ...)`` one browser from it
(``chromium(...)`` does both, for scripts); ``fake_microphone_args(wav)`` adds the flags that make
Chromium's real capture path record a WAV file. ``require_chromium()`` skips locally, and fails
under CI=true, when the browser is missing. The browser is only ever pointed at 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI

CHROMIUM = Path(os.environ.get("GENRE_CAM_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Headless and quiet: without the background-networking flags Chromium keeps calling Google's
# services, which on a closed network means a stream of failed connections and slow start-ups.
BASE_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
VIEWPORT = {"width": 1280, "height": 900}


def require_chromium() -> Path:
    """Debian's Chromium and Playwright, or skip (locally) / fail (under CI=true) with the reason."""
    reason = None
    if not CHROMIUM.is_file():
        reason = f"{CHROMIUM} not found (install it with `apt-get install chromium`, as scripts/test.sh does)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Playwright for Python is not installed (requirements-dev.txt)"
    if reason is None:
        return CHROMIUM
    if IN_CI:
        pytest.fail(reason + "; CI must provide it")
    pytest.skip(reason)


def fake_microphone_args(wav: Path) -> tuple[str, ...]:
    """Flags that let pages use a microphone which 'hears' ``wav`` (16-bit PCM WAV, looped)."""
    return (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    )


@contextlib.contextmanager
def driver() -> Iterator[playwright.sync_api.Playwright]:  # noqa: F821
    """Playwright's sync driver (one per thread: every browser of a session comes from it)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as playwright:
        yield playwright


def launch_chromium(playwright, *extra_args: str) -> playwright.sync_api.Browser:  # noqa: F821
    """A headless Debian Chromium with BASE_ARGS and ``extra_args``; the caller closes it."""
    return playwright.chromium.launch(
        executable_path=str(require_chromium()), headless=True, args=[*BASE_ARGS, *extra_args]
    )


@contextlib.contextmanager
def chromium(*extra_args: str) -> Iterator[playwright.sync_api.Browser]:  # noqa: F821
    """Driver and browser in one, for scripts: ``with chromium() as browser: ...``."""
    with driver() as playwright:
        browser = launch_chromium(playwright, *extra_args)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_path(name: str) -> Path:
    """test-artifacts/browser/<name>.png (the folder is created; it is gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


PHONE_VIEWPORT = {"width": 390, "height": 844}


def readme_screenshot(
    url: str, out: Path, *, example: int = 3, panel_rows: int = 2, viewport: dict = VIEWPORT, start: str | None = None
) -> None:
    """Save a README picture of ``url`` after clicking example number ``example``.

    The page from the top (or from the element ``start`` selects) down to the end of the first
    ``panel_rows`` rows of Grad-CAM panels, ``viewport`` wide.
    """
    with chromium() as browser:
        page = browser.new_page(viewport=viewport)
        page.goto(url)
        page.locator("#examples button.gallery-item").nth(example).click()
        page.locator("#heatmaps img.gc-cells").first.wait_for(state="visible", timeout=120_000)
        page.wait_for_load_state("networkidle")
        page.mouse.move(0, 0)  # no hover highlight in the picture
        scroll = page.evaluate("window.scrollY")
        panels = page.locator("#heatmaps figure.gc-panel")
        columns = len({round(box["x"]) for box in (panels.nth(i).bounding_box() for i in range(panels.count()))})
        last = panels.nth(min(panels.count(), columns * panel_rows) - 1).bounding_box()
        bottom = int(last["y"] + last["height"] + 6 + scroll)
        top = 0 if start is None else max(0, int(page.locator(start).bounding_box()["y"] + scroll - 12))
        clip = {"x": 0, "y": top, "width": viewport["width"], "height": bottom - top}
        page.screenshot(path=out, full_page=True, clip=clip)


if __name__ == "__main__":
    import argparse

    docs = Path(__file__).resolve().parents[2] / "docs"
    parser = argparse.ArgumentParser(description="Save the README screenshots of a running app.")
    parser.add_argument("url", help="the running app, e.g. http://127.0.0.1:7861/")
    parser.add_argument("--out", type=Path, default=docs / "screenshot.png", help="the desktop picture")
    parser.add_argument(
        "--phone-out",
        type=Path,
        default=docs / "screenshot-phone.png",
        help="the picture 390 px wide, from the result down",
    )
    parser.add_argument("--example", type=int, default=3, help="the example to click, from 0 (default %(default)s)")
    arguments = parser.parse_args()
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    readme_screenshot(arguments.url, arguments.out, example=arguments.example)
    readme_screenshot(
        arguments.url,
        arguments.phone_out,
        example=arguments.example,
        panel_rows=1,
        viewport=PHONE_VIEWPORT,
        start="#result-summary",
    )
    for path in (arguments.out, arguments.phone_out):
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
