"""The Gradio app: UI only. It turns audio into calls to `model/` and results into components.

Start it with ``python -m app``; build the page without serving it with
``app.layout.build_demo(classifier)``. Importing this package loads no model and starts
nothing; it only makes Gradio's usage analytics opt-in, before any module here imports Gradio.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
