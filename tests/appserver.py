"""``python -m app`` started as a real subprocess on a free port: for the app tests and the load script.

Plain functions (no pytest), so that ``scripts/load_test.py`` starts the app the same way the
tests do; ``tests/app/conftest.py`` turns a failed start into a test failure.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 240.0  # seconds: TensorFlow import, model load and warm-up on a slow CI machine
READY_MARK = "genre-cam: ready in"  # the line app/__main__.py prints once it serves


class AppStartError(RuntimeError):
    """The app exited or stayed silent before serving; the message holds its whole output."""


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

    def stop(self, signal_number: int = signal.SIGTERM, *, timeout: float = 15.0) -> None:
        """Send ``signal_number`` and wait up to ``timeout`` seconds; kill it if it is still there."""
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
            try:
                self.process.wait(timeout=timeout)
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

    Raises
    ------
    AppStartError : the server exited or did not serve within ``timeout``; the message has its output.
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
            raise AppStartError(
                f"`{' '.join(command)}` exited with {process.returncode} before serving:\n{server.output}"
            )
        if READY_MARK in server.output and _serves(server.url):
            return server
        time.sleep(0.5)
    server.stop()
    raise AppStartError(f"`{' '.join(command)}` did not serve within {timeout:.0f} s:\n{server.output}")
