"""``python -m app`` plus one endpoint of the benchmark's own: ``/ping_upload``.

It takes the same upload through the same queue as the app's ``/classify`` and does no work, so
its round trip is Gradio's own cost. The app itself has no such endpoint; this adds it to the
page `app.__main__` builds, before launch. Run as ``python -m benchmarks.app_with_ping`` with
``python -m app``'s options.
"""

from __future__ import annotations

import sys

PING_API = "ping_upload"
AUDIO_ELEM_ID = "audio-input"  # the app's recording input (app/layout.py)


def ping(audio: str | None) -> None:
    """Nothing: the reply of ``/ping_upload``."""


def add_ping(demo) -> None:
    """Add ``/ping_upload`` (the app's audio input in, nothing out) to a built page."""
    import gradio as gr

    audio = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == AUDIO_ELEM_ID)
    with demo:
        gr.on([], ping, inputs=audio, outputs=None, api_name=PING_API, api_visibility="undocumented")


if __name__ == "__main__":
    from app.__main__ import main

    sys.exit(main(sys.argv[1:], extend=add_ping))
