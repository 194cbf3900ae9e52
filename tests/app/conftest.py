"""Servers for the app tests: ``python -m app`` started as a real subprocess.

``running_app`` is one server (the committed model, default options) shared by the whole
session; ``start_app`` is a factory for servers with other arguments, e.g.
``start_app("--share")``, ``start_app("--model", "runs/first.keras")`` or
``start_app(env={"GENRE_CAM_AUTH": "ann:secret"})``. Every server started here is
terminated at the end of the session.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 240.0  # seconds: TensorFlow import, model load and warm-up on a slow CI machine
READY_MARK = "genre-cam: ready in"  # the line app/__main__.py prints once it serves


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclasses.dataclass
class AppServer:
    """A running ``python -m app`` and everything it has printed so far."""

    url: str
    process: subprocess.Popen
    lines: list[str]
    args: tuple[str, ...]

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _collect(stream, lines: list[str]) -> None:
    for line in iter(stream.readline, ""):
        lines.append(line)
    stream.close()


def _serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def launch_app(*args: str, env: dict[str, str] | None = None, timeout: float = STARTUP_TIMEOUT) -> AppServer:
    """Start ``python -m app --port <free> *args`` and wait until it prints its ready line and serves.

    ``env`` adds environment variables to this process's.

    Fails the test with the server's whole output when it exits or stays silent too long.
    """
    port = free_port()
    command = [sys.executable, "-m", "app", "--port", str(port), *args]
    environment = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(
        command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines: list[str] = []
    threading.Thread(target=_collect, args=(process.stdout, lines), daemon=True).start()
    server = AppServer(url=f"http://127.0.0.1:{port}/", process=process, lines=lines, args=tuple(args))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            time.sleep(0.2)  # let the reader thread take the last lines
            pytest.fail(f"`{' '.join(command)}` exited with {process.returncode} before serving:\n{server.output}")
        if READY_MARK in server.output and _serves(server.url):
            return server
        time.sleep(0.5)
    server.stop()
    pytest.fail(f"`{' '.join(command)}` did not serve within {timeout:.0f} s:\n{server.output}")


@pytest.fixture(scope="session")
def start_app():
    """Factory: ``start_app(*extra_args, env=None) -> AppServer``; all servers stop at the end of the session."""
    servers: list[AppServer] = []

    def start(*args: str, env: dict[str, str] | None = None, timeout: float = STARTUP_TIMEOUT) -> AppServer:
        server = launch_app(*args, env=env, timeout=timeout)
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
