"""The page: components, their elem_ids (the browser tests rely on them) and their events.

`build_demo(classifier)` declares everything and returns the Blocks without launching it.
Events and their ``api_name``: ``classify`` (audio -> every result), ``explain`` (audio,
genre, first segment -> heatmaps), and the undocumented ``classify_upload``,
``classify_recording``, ``classify_example``, ``load_example``, ``clear`` and
``ping_upload`` (the same audio input, a constant reply: Gradio's own cost, for benchmarks).
"""

from __future__ import annotations

import gradio as gr

from app import plots
from app.about import about_markdown
from app.examples import Example, credits_markdown, load_examples
from app.handlers import OWN_GENRE, Analyser
from model.audio import SUPPORTED_FORMATS
from model.classifier import GenreClassifier
from model.features import MAX_SECONDS, MIN_SECONDS

TITLE = "genre-cam: a music-genre classifier you can see inside"
MAX_FILE_SIZE = "50mb"  # upload limit (launch(max_file_size=...)): ten minutes of CD-quality WAV
QUEUE_SIZE = 16  # waiting requests beyond this are turned away with "queue full"
CONCURRENCY = 1  # analyses at a time: TensorFlow already uses every core for one
ANALYSIS = "analysis"  # the concurrency group of every event that runs the model (memory stays bounded)
DELETE_CACHE = (1800, 3600)  # every 30 min, delete uploads and outputs older than an hour

INTRO = """
# genre-cam
A music-genre classifier you can see inside. Record or upload some music, or click an example:
a small convolutional network hears it as MFCC (a compact picture of its timbre over time),
cuts it into {segment:g}-second segments and says which of {n_genres} genres it sounds like.
Grad-CAM then shows which parts of each segment drove that decision.
"""

INPUT_HINT = """
{formats}; any sample rate, mono or stereo, up to {max_size}. At least {min_seconds:g} s of music;
the first {max_minutes:g} minutes of longer recordings are analysed. Uploads and recordings are
analysed at once, on this server only, and their files deleted within about {keep_hours:g} hours.
"""

GRADCAM_GUIDE = """
**How to read these pictures.** Each panel is one {segment:g}-second segment of the recording.
Left to right is time (seconds within the recording); bottom to top are the {n_mfcc} MFCC
coefficients: 0 is overall loudness, low numbers the broad shape of the spectrum (dark or bright,
full or thin), higher numbers finer detail. The grey picture underneath is the MFCC the network
received. The colour on top is Grad-CAM: the brighter, the more that region pushed the network
towards the genre named in the title. Each panel is scaled to its own strongest evidence, so compare
places within a panel, not brightness between panels. Choose a genre to see the evidence for it
instead of each segment's own top genre.
"""

STRIP_NOTE = (
    "Each column is a stretch of the recording, each row a genre: the brighter, the more probable. "
    "The dot marks the top genre of each segment."
)

APP_CSS = """
#top-genre h2 { text-transform: capitalize; }
"""


def theme() -> gr.themes.Base:
    """Passed to launch() (Gradio 6 takes theme and css there)."""
    return gr.themes.Soft(primary_hue="orange", secondary_hue="indigo")


def build_demo(
    classifier: GenreClassifier,
    *,
    examples: list[Example] | None = None,
    model_card: str | None = None,
) -> gr.Blocks:
    """Declare the page for a loaded classifier.

    Parameters
    ----------
    classifier : loaded and warmed up.
    examples : bundled examples; None reads ``examples/examples.json``.
    model_card : Markdown of the model card shown under "About the model", if any.

    Returns
    -------
    The Blocks, queued (bounded) but not launched.
    """
    analyser = Analyser(classifier)
    examples = load_examples() if examples is None else examples
    features = classifier.metadata.features
    genres = classifier.genres

    with gr.Blocks(title=TITLE, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(INTRO.format(segment=features.segment_seconds, n_genres=len(genres)))
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                audio = gr.Audio(
                    sources=["upload", "microphone"],
                    type="filepath",
                    label="Your recording",
                    elem_id="audio-input",
                )
                classify_button = gr.Button("Classify", variant="primary", elem_id="classify-button")
                gr.Markdown(
                    INPUT_HINT.format(
                        formats=SUPPORTED_FORMATS,
                        max_size=MAX_FILE_SIZE.upper().replace("MB", " MB"),
                        min_seconds=MIN_SECONDS,
                        max_minutes=MAX_SECONDS / 60.0,
                        keep_hours=sum(DELETE_CACHE) / 3600.0,
                    ),
                    elem_id="input-hint",
                )
                example_block = None
                if examples:
                    example_block = gr.Examples(
                        examples=[[str(example.path)] for example in examples],
                        inputs=[audio],
                        example_labels=[example.label for example in examples],
                        examples_per_page=max(10, len(examples)),
                        label="Examples: click one to analyse it",
                        elem_id="examples",
                        cache_examples=False,
                        api_name="load_example",
                    )
                    with gr.Accordion("Example credits", open=False, elem_id="example-credits"):
                        gr.Markdown(credits_markdown(examples))
            with gr.Column(scale=6):
                top_genre = gr.Label(num_top_classes=1, label="Top genre", elem_id="top-genre")
                probability_chart = gr.BarPlot(
                    x="genre",
                    y="probability",
                    sort="-y",
                    y_lim=[0, 100],
                    x_title="genre",
                    y_title="probability (%)",
                    x_label_angle=-45,
                    tooltip=["genre", "probability"],
                    label="Probability of each genre",
                    height=260,
                    elem_id="probability-chart",
                )
                analysis_note = gr.Markdown(elem_id="analysis-note")

        genre_strip = gr.HTML(
            label="Genre over time",
            show_label=True,
            container=True,
            html_template='<div style="padding-top: 2.2em">${value}</div>',  # below the floating label
            js_on_load=None,
            elem_id="genre-strip",
        )
        gr.Markdown(STRIP_NOTE, elem_id="strip-note")

        gr.Markdown("## Where the network found its evidence (Grad-CAM)")
        gr.Markdown(GRADCAM_GUIDE.format(segment=features.segment_seconds, n_mfcc=features.n_mfcc), elem_id="gradcam-guide")
        with gr.Row():
            genre_select = gr.Dropdown(
                choices=analyser.genre_choices,
                value=OWN_GENRE,
                label="Explain which genre?",
                elem_id="genre-select",
            )
            segment_range = gr.Dropdown(
                choices=[("segments 1–20", 0)],
                value=0,
                label="Segments shown",
                visible=False,
                elem_id="segment-range",
            )
        heatmap_note = gr.Markdown(elem_id="heatmap-note")
        heatmaps = gr.HTML(css_template=plots.HEATMAP_CSS, elem_id="heatmaps", js_on_load=None)

        with gr.Accordion("The numbers (JSON)", open=False, elem_id="result-json-accordion"):
            result = gr.JSON(label="Result", elem_id="result-json")
        with gr.Accordion("About the model", open=False, elem_id="about-model"):
            gr.Markdown(about_markdown(classifier.metadata))
            if model_card:
                with gr.Accordion("Model card", open=False, elem_id="model-card"):
                    gr.Markdown(model_card)

        outputs = [
            top_genre,
            probability_chart,
            genre_strip,
            analysis_note,
            genre_select,
            segment_range,
            heatmaps,
            heatmap_note,
            result,
        ]
        run_classify = dict(fn=analyser.classify, inputs=audio, outputs=outputs, concurrency_id=ANALYSIS)
        classify_button.click(**run_classify, api_name="classify")
        audio.upload(**run_classify, api_name="classify_upload", api_visibility="undocumented")
        audio.stop_recording(**run_classify, api_name="classify_recording", api_visibility="undocumented")
        if example_block is not None:
            example_block.load_input_event.then(**run_classify, api_name="classify_example", api_visibility="undocumented")
        gr.on(
            [genre_select.input, segment_range.input],
            analyser.explain,
            inputs=[audio, genre_select, segment_range],
            outputs=[heatmaps, heatmap_note],
            api_name="explain",
            concurrency_id=ANALYSIS,
        )
        # API only: the same upload and queue as `classify`, no work; measures Gradio's own cost.
        ping_button = gr.Button("ping", visible=False, elem_id="ping-upload")
        ping_button.click(ping, inputs=audio, outputs=None, api_name="ping_upload", api_visibility="undocumented")
        audio.clear(
            clear_outputs,
            outputs=outputs,
            api_name="clear",
            api_visibility="undocumented",
            queue=False,
            show_progress="hidden",
        )

    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    return demo


def ping(audio: str | None) -> None:
    """Nothing: the reply of the ``ping_upload`` endpoint."""


def clear_outputs() -> tuple:
    """Empty every output (the recording was removed)."""
    return (
        None,
        None,
        "",
        "",
        gr.update(value=OWN_GENRE),
        gr.update(visible=False),
        "",
        "",
        None,
    )
