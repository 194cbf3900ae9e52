"""The Gradio app: UI only. It turns audio into calls to `model/` and results into components.

Start it with ``python -m app``; build the page without serving with
``app.layout.build_demo(classifier)``. Importing this package loads nothing.
"""
