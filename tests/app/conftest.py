"""Servers for the app tests: ``python -m app`` started as a real subprocess (`tests.appserver`).

``running_app`` is one server (the committed model, default options) shared by the whole
session; ``start_app`` is a factory for servers with other arguments, e.g.
``start_app("--share")``, ``start_app("--model", "runs/first.keras")`` or
``start_app(env={"GENRE_CAM_AUTH": "ann:secret"})``; ``tagged_app`` serves an untrained network
with a tag head (`tagged_model`). Every server started here is terminated at the end of the session.
"""

from __future__ import annotations

import pytest

from tests.appserver import STARTUP_TIMEOUT, AppServer, AppStartError, launch_app


@pytest.fixture(scope="session")
def start_app():
    """Factory: ``start_app(*extra_args, env=None) -> AppServer``; all servers stop at the end of the session."""
    servers: list[AppServer] = []

    def start(*args: str, env: dict[str, str] | None = None, timeout: float = STARTUP_TIMEOUT) -> AppServer:
        try:
            server = launch_app(*args, env=env, timeout=timeout)
        except AppStartError as error:
            pytest.fail(str(error))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def app_server(start_app) -> AppServer:
    """The app with the committed model and default options, shared by the session."""
    return start_app()


@pytest.fixture(scope="session")
def running_app(app_server) -> str:
    """URL of the shared app, e.g. "http://127.0.0.1:40123/"."""
    return app_server.url


TEACHER = "a teacher network (Example Lab), test weights, ISC licence"  # the tagged model's recorded teacher credit


@pytest.fixture(scope="session")
def tagged_model(tmp_path_factory):
    """An UNTRAINED network with a genre head and a 50-tag head, saved as an artifact whose metadata
    records a distillation like `training.distill`'s: the app's tag plumbing does not depend on training.

    Returns the artifact's path.
    """
    import dataclasses

    import keras

    from model.artifact import read_metadata, save_artifact
    from model.network import build_genre_cnn
    from training.teacher import TAGS

    committed = read_metadata()
    keras.utils.set_random_seed(13)
    network = build_genre_cnn(
        input_shape=committed.features.input_shape, n_genres=len(committed.genres), n_tags=len(TAGS), width=8
    )
    metadata = dataclasses.replace(
        committed,
        tags=TAGS,
        clip_model=None,
        metrics={},
        training={
            "data": "gtzan",
            "teacher": TEACHER,
            "teacher_head": "logistic regression, C=0.01",
            "train_clips": 268,
            "train_segments": 4000,
            "transfer_tracks": 120,
            "transfer_segments": 9000,
            "recipe": "training.distill",
        },
    )
    path = tmp_path_factory.mktemp("tagged-model") / "tagged.keras"
    save_artifact(network, metadata, path=path)
    return path


@pytest.fixture(scope="session")
def untagged_model(tmp_path_factory):
    """An UNTRAINED genre-only network (no tag head) saved as an artifact with the committed model's
    feature parameters, as models before the teacher were. Returns the artifact's path."""
    import dataclasses

    import keras

    from model.artifact import read_metadata, save_artifact
    from model.network import build_genre_cnn

    committed = read_metadata()
    keras.utils.set_random_seed(14)
    network = build_genre_cnn(input_shape=committed.features.input_shape, n_genres=len(committed.genres), width=8)
    metadata = dataclasses.replace(
        committed, tags=(), clip_model=None, metrics={}, training={"data": "gtzan", "recipe": "training.train"}
    )
    path = tmp_path_factory.mktemp("untagged-model") / "untagged.keras"
    save_artifact(network, metadata, path=path)
    return path


@pytest.fixture(scope="session")
def tagged_app(start_app, tagged_model) -> AppServer:
    """The app serving `tagged_model`, shared by the session."""
    return start_app("--model", str(tagged_model))
