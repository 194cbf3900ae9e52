"""Servers for the app tests: ``python -m app`` started as a real subprocess (`tests.appserver`).

``running_app`` is one server (the committed model, default options) shared by the whole
session; ``start_app`` is a factory for servers with other arguments, e.g.
``start_app("--share")``, ``start_app("--model", "runs/first.keras")`` or
``start_app(env={"GENRE_CAM_AUTH": "ann:secret"})``. Every server started here is
terminated at the end of the session.
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
