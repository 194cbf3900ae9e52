"""A model with a tag head in the app: the "Sounds like" line, Grad-CAM for a tag, the tags in the JSON,
and the teacher in "About the model"; and the committed model (no tag head) showing none of it.

The tagged network is untrained (`tagged_model`): these tests check the plumbing, not the tags.
"""

from __future__ import annotations

import re

import pytest

from app.about import about_markdown
from app.page import Outputs
from app.text import OWN_GENRE, SHOWN_TAGS, TAG_CHOICE, TAG_THRESHOLD, explain_choices, explain_label, summary
from model.artifact import read_metadata
from tests.app.conftest import TEACHER
from tests.app.test_api import figure_count


def test_without_a_tag_head_nothing_about_tags_is_shown(untagged_model, full_clip):
    from model.classifier import GenreClassifier

    classifier = GenreClassifier.load(untagged_model)
    result = classifier.classify(full_clip)
    assert not result.tags and "tags" not in result.to_dict()
    assert "Sounds like" not in summary(result)
    assert explain_choices(classifier.genres, classifier.tags) == [(OWN_GENRE, OWN_GENRE)] + [
        (genre, genre) for genre in classifier.genres
    ]
    assert explain_label(classifier.tags) == "Explain which genre?"
    about = about_markdown(classifier.metadata)
    assert "tags" not in about and "teacher" not in about.lower()


def test_about_names_the_teacher_and_what_it_was_taught_on(tagged_model):
    about = about_markdown(read_metadata(tagged_model))
    trained = about.split("### How it was trained", 1)[1].split("###", 1)[0]
    assert f"**Teacher:** {TEACHER}." in trained and "distillation (`python -m training.distill`)" in trained
    assert "logistic regression, C=0.01" in trained
    assert "268 labelled training clips (4000 segments) and 120 unlabelled tracks (9000 segments)" in trained
    assert "50 tags (rock, pop, " in about


# --- a real server with the tagged model, through gradio_client ---------------------------


@pytest.fixture(scope="module")
def tagged_client(tagged_app):
    from gradio_client import Client

    return Client(tagged_app.url, verbose=False)


@pytest.fixture(scope="module")
def tagged_outputs(tagged_client, full_clip) -> Outputs:
    from gradio_client import handle_file

    return Outputs.from_list(list(tagged_client.predict(handle_file(str(full_clip)), api_name="/classify")))


@pytest.mark.slow
def test_the_result_carries_the_tags_and_the_summary_says_what_it_sounds_like(tagged_outputs, tagged_model):
    tags = read_metadata(tagged_model).tags
    result = tagged_outputs.result
    assert list(result["tags"]) == list(tags)
    assert all(list(segment["tags"]) == list(tags) for segment in result["segments"])
    top = sorted(result["tags"].items(), key=lambda item: -item[1])[:SHOWN_TAGS]
    expected = " · ".join(f"**{tag}** {p:.0%}" for tag, p in top if p >= TAG_THRESHOLD)
    assert expected, "an untrained tag head gives every tag about 50%"
    assert f"Sounds like: {expected}\n" in tagged_outputs.summary
    assert "Million Song Dataset" in tagged_outputs.summary and "not genres" in tagged_outputs.summary


@pytest.mark.slow
def test_explain_a_tag_where_did_it_hear_guitar(tagged_client, tagged_outputs, full_clip):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    api = tagged_client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "Explain which genre or tag?" in [item["label"] for item in api["/classify"]["returns"]]
    html, note = tagged_client.predict(handle_file(str(full_clip)), TAG_CHOICE + "guitar", 0, api_name="/explain")
    segments = tagged_outputs.result["segments"]
    assert figure_count(html) == len(segments) and "the tag **guitar**" in note
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", html)
    assert all(
        caption.endswith(f" · showing tag: guitar {segment['tags']['guitar']:.0%}")
        for caption, segment in zip(captions, segments, strict=True)
    ), captions[:2]
    strengths = [float(value) for value in re.findall(r'data-strength="([\d.]+)"', html)]
    assert strengths == pytest.approx([segment["tags"]["guitar"] for segment in segments], abs=1e-3)
    with pytest.raises(AppError, match="tag: banjo is not in the list of choices"):
        tagged_client.predict(handle_file(str(full_clip)), TAG_CHOICE + "banjo", 0, api_name="/explain")
