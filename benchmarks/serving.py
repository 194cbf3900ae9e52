"""Measures across processes: the running app through gradio_client, and the CLI over many files."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.app_with_ping import PING_API
from benchmarks.clips import REPO
from benchmarks.timing import Timing, measure, measure_rounds

CLASSIFY_API = "/classify"
START_TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment() -> dict[str, str]:
    return {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}


@dataclasses.dataclass
class RunningApp:
    """The app started as a subprocess, with a connected client and its cold start."""

    process: subprocess.Popen
    client: object
    url: str
    cold_start_s: float
    log: Path

    def request(self, path: Path, api_name: str):
        from gradio_client import handle_file

        return self.client.predict(handle_file(str(path)), api_name=api_name)


def _tail(log: Path, *, lines: int = 5) -> str:
    return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])


@contextlib.contextmanager
def running_app(*, model_path: Path, first_clip: Path, scratch: Path):
    """Start the app (``python -m app`` with the benchmark's ``/ping_upload``, `benchmarks.app_with_ping`)
    on a free local port; yield it once it has served ``first_clip``.

    The cold start runs from just before the process starts to the first classify result in
    hand (connection retried until the server answers). The app is stopped on exit.
    """
    from gradio_client import Client, handle_file

    if not (REPO / "app" / "__main__.py").is_file():
        raise RuntimeError("app/__main__.py does not exist yet")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = scratch / "app.log"
    downloads = scratch / "downloads"
    command = [sys.executable, "-m", "benchmarks.app_with_ping", "--port", str(port), "--model", str(model_path)]
    # the app's uploads (copies of GTZAN audio) go to the scratch folder and leave with it
    environment = {**_environment(), "GRADIO_TEMP_DIR": str(scratch / "gradio")}
    started = time.perf_counter()
    with open(log, "wb") as log_handle:
        process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log_handle, stderr=subprocess.STDOUT)
    try:
        client = None
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the app exited with code {process.returncode}: {_tail(log)}")
            if time.perf_counter() - started > START_TIMEOUT_S:
                raise RuntimeError(f"the app did not serve a result within {START_TIMEOUT_S:g} s: {_tail(log)}")
            try:
                if client is None:
                    client = Client(url, verbose=False, download_files=str(downloads))
                client.predict(handle_file(str(first_clip)), api_name=CLASSIFY_API)
                break
            except Exception:  # not listening yet, or still starting: try again shortly
                time.sleep(0.05)
        cold_start = time.perf_counter() - started
        yield RunningApp(process, client, url, cold_start, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure_app(app: RunningApp, copies: dict[str, list[Path]], *, repeats: int) -> dict[str, dict[str, Timing | None]]:
    """Full classify requests, and the constant endpoint's round trip for the same uploads.

    ``copies`` holds, per recording, at least ``2 * (repeats + 1) + 1`` distinct copies: every request
    uploads a file the app has not seen (see `distinct_copies`).
    """
    uploads = {key: iter(paths) for key, paths in copies.items()}

    def request(key: str, api_name: str):
        return lambda: app.request(next(uploads[key]), api_name)

    app.request(next(uploads[next(iter(copies))]), f"/{PING_API}")  # warm-up
    calls = {}
    for key in copies:
        calls[(key, "app_request")] = request(key, CLASSIFY_API)
        calls[(key, "gradio_minimum")] = request(key, f"/{PING_API}")
    timings = measure_rounds(calls, repeats=repeats)
    return {key: {name: timings.get((key, name)) for name in ("app_request", "gradio_minimum")} for key in copies}


def measure_cli(files: list[Path], *, model_path: Path, repeats: int) -> dict[str, Timing]:
    """``python -m model classify`` on one file, then on all of them, each in a fresh process."""

    def run(paths: list[Path]) -> None:
        command = [sys.executable, "-m", "model", "classify", "--model", str(model_path), *map(str, paths)]
        subprocess.run(command, cwd=REPO, env=_environment(), check=True, stdout=subprocess.DEVNULL)

    return {
        "cli_one": measure(lambda: run(files[:1]), repeats=repeats, warmup=1),
        "cli_all": measure(lambda: run(files), repeats=repeats, warmup=0),
    }
