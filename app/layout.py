"""The page: its components (with the elem_ids the browser tests rely on) and how events connect them.

`build_demo(classifier)` declares everything and returns the Blocks without launching it:
the functions ``*_components`` each declare one part of the page, `wire` connects the
events. Events and their ``api_name``: ``classify`` (audio -> every output, `app.page.Outputs`)
and ``explain`` (audio, genre, first segment -> `app.page.Panels`) for API clients, whose
bad input raises an error; the page's own events (``show_upload``, ``show_recording``,
``show_example``, ``show_button``, ``explain_shown``, ``jump``, ``load_example``, ``clear``)
are undocumented and put a problem into words on the page instead.
"""

from __future__ import annotations

import dataclasses

import gradio as gr

from app import plots, text
from app.about import about_markdown
from app.examples import Example, credits_markdown, load_examples
from app.handlers import Analyser, empty_outputs
from app.page import Outputs, Panels
from model.audio import SUPPORTED_FORMATS
from model.classifier import GenreClassifier
from model.features import MAX_SECONDS, MIN_SECONDS, FeatureConfig

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
Grad-CAM then shows which parts of each segment drove that decision, and you can play each segment.
"""

INPUT_HINT = """
{formats}; any sample rate, mono or stereo, up to {max_size}. At least {min_seconds:g} s of music;
the first {max_minutes:g} minutes of longer recordings are analysed. Uploads and recordings are
analysed at once, on this server only, and their files deleted within about {keep_hours:g} hours.
"""

GRADCAM_GUIDE = """
**How to read these pictures.** Each panel is one {segment:g}-second segment of the recording; press
its Play button to hear it. Left to right is time (seconds within the recording); bottom to top are
the {n_mfcc} MFCC coefficients: 0 is overall loudness, low numbers the broad shape of the spectrum
(dark or bright, full or thin), higher numbers finer detail. The grey picture underneath is the MFCC
the network received. The colour on top is Grad-CAM: the brighter, the more that region pushed the
network towards the genre named in the title. Choose a genre to see the evidence for it instead of
each segment's own top genre: each panel's colour is then scaled by how probable that genre is in
the segment next to its top genre (the bar under the title), so evidence for an unlikely genre looks faint.
"""

# Added to the intro and the guide for a model with a tag head.
INTRO_TAGS = """It also says which of {n_tags} tags from the Million Song Dataset's listeners (such as {tag})
a tagger would give it."""
GRADCAM_GUIDE_TAGS = """
Tags, listed after the genres ("{choice}"), are explained the same way: where did the network hear
{tag}? Their panels' colour is scaled by the tag's own probability in the segment.
"""

APP_CSS = """
#audio-input { min-height: 280px; }  /* the same empty or holding a recording: what is below stays put */
#result-summary h3 { margin: 0 0 .2em; font-size: 1.6em; }
#result-summary:empty { display: none; }
"""

# The Grad-CAM panels' Play buttons, and jumps from the strip (see STRIP_JS): a jump to a panel
# that is not drawn waits for the next redraw of the panels.
HEATMAPS_JS = """
let pendingJump = null;
const play = async (panel) => {
  const audio = panel.querySelector("audio.gc-audio");
  const button = panel.querySelector("button.gc-play");
  if (!audio || !button) return;
  if (!audio.getAttribute("src")) {
    button.disabled = true;
    button.textContent = "Loading…";
    let reply = null;
    try {
      reply = await server.segment_audio([panel.closest(".gc-page").dataset.recording, Number(panel.dataset.segment)]);
    } catch (error) { reply = null; }
    button.disabled = false;
    if (!reply || !reply.audio) {
      button.textContent = (reply && reply.error) || "This segment could not be loaded.";
      return;
    }
    audio.src = reply.audio;
  }
  button.hidden = true;
  audio.hidden = false;
  audio.play().catch(() => {});
};
const jumpTo = (index) => {
  const panel = element.querySelector(`.gc-panel[data-segment="${index}"]`);
  if (!panel) return false;
  element.querySelectorAll(".gc-jumped").forEach((other) => other.classList.remove("gc-jumped"));
  panel.classList.add("gc-jumped");
  panel.scrollIntoView({ behavior: "smooth", block: "center" });
  play(panel);
  return true;
};
element.addEventListener("click", (event) => {
  const button = event.target.closest("button.gc-play");
  if (button) play(button.closest(".gc-panel"));
});
document.addEventListener("genre-cam-jump", (event) => {
  pendingJump = jumpTo(event.detail) ? null : event.detail;
});
watch("value", () => {
  if (pendingJump !== null && jumpTo(pendingJump)) pendingJump = null;
});
"""

# A click on a segment's column of the genre strip jumps to its panel (drawing its page first
# when it is not on the page shown).
STRIP_JS = """
element.addEventListener("click", (event) => {
  const column = event.target.closest("button.gs-seg");
  if (!column) return;
  const index = Number(column.dataset.segment);
  const drawn = document.querySelector(`#heatmaps .gc-panel[data-segment="${index}"]`);
  document.dispatchEvent(new CustomEvent("genre-cam-jump", { detail: index }));
  if (!drawn) trigger("click", { segment: index });
});
"""


def theme() -> gr.themes.Base:
    """Passed to launch() (Gradio 6 takes theme and css there)."""
    return gr.themes.Soft(primary_hue="orange", secondary_hue="indigo")


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What a visitor acts on."""

    audio: gr.Audio
    classify_button: gr.Button
    examples: gr.Examples | None


def input_components(examples: list[Example]) -> Inputs:
    """The recording (upload or microphone), the Classify button, the examples and their credits."""
    audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Your recording", elem_id="audio-input")
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
    return Inputs(audio=audio, classify_button=classify_button, examples=example_block)


def summary_components() -> tuple[gr.Markdown, gr.BarPlot, gr.Markdown]:
    """Beside the inputs: the top genre (or why there is none), every genre's probability, the analysis note."""
    summary = gr.Markdown(label="Top genre", elem_id="result-summary")
    chart = gr.BarPlot(
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
    analysis_note = gr.Markdown(label="What was analysed", elem_id="analysis-note")
    return summary, chart, analysis_note


def strip_component() -> gr.HTML:
    """Genre over time (empty, and so invisible, until there is a result)."""
    return gr.HTML(
        label="Genre over time",
        css_template=plots.STRIP_CSS,
        js_on_load=STRIP_JS,
        elem_id="genre-strip",
    )


def gradcam_components(
    analyser: Analyser, genres: tuple[str, ...], features: FeatureConfig, tags: tuple[str, ...] = ()
) -> tuple[gr.Dropdown, gr.Dropdown, Panels[gr.Component]]:
    """The Grad-CAM section: its guide, what to explain (genres, and tags when the model has them), which
    segments, the panels and their note."""
    gr.Markdown("## Where the network found its evidence (Grad-CAM)")
    guide = GRADCAM_GUIDE.format(segment=features.segment_seconds, n_mfcc=features.n_mfcc)
    if tags:
        tag = text.example_tag(tags)
        guide += GRADCAM_GUIDE_TAGS.format(choice=text.TAG_CHOICE + tag, tag=tag)
    gr.Markdown(guide, elem_id="gradcam-guide")
    with gr.Row():
        explain_choice = gr.Dropdown(
            choices=text.explain_choices(genres, tags),
            value=text.OWN_GENRE,
            label=text.explain_label(tags),
            elem_id="genre-select",
        )
        segment_range = gr.Dropdown(  # its choices come with each result; API clients may ask for any segment
            choices=[("segments 1–20", 0)],
            value=0,
            label="Segments shown",
            visible=False,
            allow_custom_value=True,
            elem_id="segment-range",
        )
    heatmap_note = gr.Markdown(label="About these panels", elem_id="heatmap-note")

    def segment_audio(request: list) -> dict[str, str]:
        """HEATMAPS_JS's ``server.segment_audio([recording, segment])`` (Gradio passes the arguments as one list)."""
        if not isinstance(request, (list, tuple)) or len(request) != 2:
            return {"error": "Expected [recording, segment]."}
        return analyser.segment_audio(*request)

    heatmaps = gr.HTML(
        label="Grad-CAM panels",
        css_template=plots.HEATMAP_CSS,
        js_on_load=HEATMAPS_JS,
        server_functions=[segment_audio],
        elem_id="heatmaps",
    )
    return explain_choice, segment_range, Panels(heatmaps=heatmaps, heatmap_note=heatmap_note)


def numbers_and_about_components(classifier: GenreClassifier, model_card: str | None) -> gr.JSON:
    """The result's JSON (folded) and what the model's metadata says about it."""
    with gr.Accordion("The numbers (JSON)", open=False, elem_id="result-json-accordion"):
        result = gr.JSON(label="Result (JSON)", elem_id="result-json")
    with gr.Accordion("About the model", open=False, elem_id="about-model"):
        gr.Markdown(about_markdown(classifier.metadata))
        if model_card:
            with gr.Accordion("Model card", open=False, elem_id="model-card"):
                gr.Markdown(model_card)
    return result


def wire(analyser: Analyser, inputs: Inputs, outputs: Outputs[gr.Component]) -> None:
    """Connect the events: the page's own (errors shown in words) and the API's (errors raised)."""
    audio, every_output, panels = inputs.audio, outputs.as_list(), outputs.panels.as_list()
    show = {
        "fn": analyser.show,
        "inputs": audio,
        "outputs": every_output,
        "concurrency_id": ANALYSIS,
        "api_visibility": "undocumented",
    }
    inputs.classify_button.click(**show, api_name="show_button")
    audio.upload(**show, api_name="show_upload")
    audio.stop_recording(**show, api_name="show_recording")
    if inputs.examples is not None:
        inputs.examples.load_input_event.then(**show, api_name="show_example")
    explain_inputs = [audio, outputs.explain_choice, outputs.segment_range]
    gr.on(
        [outputs.explain_choice.input, outputs.segment_range.input],
        analyser.explain_shown,
        inputs=explain_inputs,
        outputs=panels,
        api_name="explain_shown",
        api_visibility="undocumented",
        concurrency_id=ANALYSIS,
    )
    outputs.strip.click(
        analyser.jump,
        inputs=[audio, outputs.explain_choice],
        outputs=[outputs.segment_range, *panels],
        api_name="jump",
        api_visibility="undocumented",
        concurrency_id=ANALYSIS,
    )
    audio.clear(
        lambda: empty_outputs().as_list(),
        outputs=every_output,
        api_name="clear",
        api_visibility="undocumented",
        queue=False,
        show_progress="hidden",
    )
    # The API: the same work, no trigger on the page.
    gr.on(
        [],
        analyser.classify,
        inputs=audio,
        outputs=every_output,
        api_name="classify",
        api_description="Classify a recording: every output of the page, the numbers (JSON) last.",
        concurrency_id=ANALYSIS,
    )
    gr.on(
        [],
        analyser.explain,
        inputs=explain_inputs,
        outputs=panels,
        api_name="explain",
        api_description=text.explain_api_description(analyser.classifier.tags),
        concurrency_id=ANALYSIS,
    )


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
    examples = load_examples() if examples is None else examples
    analyser = Analyser(classifier, examples=examples)
    features = classifier.metadata.features
    with gr.Blocks(title=TITLE, delete_cache=DELETE_CACHE) as demo:
        intro = INTRO.format(segment=features.segment_seconds, n_genres=len(classifier.genres))
        if classifier.tags:
            intro += INTRO_TAGS.format(n_tags=len(classifier.tags), tag=text.example_tag(classifier.tags))
        gr.Markdown(intro)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                inputs = input_components(examples)
            with gr.Column(scale=6):
                summary, chart, analysis_note = summary_components()
        strip = strip_component()
        explain_choice, segment_range, panels = gradcam_components(
            analyser, classifier.genres, features, classifier.tags
        )
        result = numbers_and_about_components(classifier, model_card)
        outputs = Outputs(
            summary=summary,
            chart=chart,
            analysis_note=analysis_note,
            strip=strip,
            explain_choice=explain_choice,
            segment_range=segment_range,
            panels=panels,
            result=result,
        )
        wire(analyser, inputs, outputs)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    return demo
