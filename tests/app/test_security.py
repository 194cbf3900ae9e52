"""The running app serves no file outside Gradio's upload/cache folders and names no server path.

Requests go to 127.0.0.1 only, through ``http.client`` so that the request target is sent
byte for byte (httpx and browsers remove ``../`` before sending). Gradio's file routes
(``/gradio_api/file=``, the older ``/gradio_api/file/``, ``/static/``, ``/assets/``,
``/gradio_api/proxy=``) must refuse absolute paths, ``../`` traversal and its URL-encoded and
double-encoded forms, and the prediction API must refuse file paths that were not uploaded.
No reply may contain a server path (the checkout, the virtual environment, the upload folder)
beyond what the request itself said, except where Gradio's protocol hands a client the
location of its own upload or output file.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import tempfile
import urllib.parse
from pathlib import Path

import gradio
import httpx
import pytest
from packaging.version import Version

from tests import badinputs
from tests.conftest import REPO

pytestmark = pytest.mark.slow

PATCHED_GRADIO = Version("6.16")  # the release line with the published path-traversal and SSRF fixes
UPLOAD_DIR = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
REFUSED = {400, 403, 404, 405}
MODEL_JSON = REPO / "model" / "genre_cnn.json"
APP_SOURCE = REPO / "app" / "handlers.py"
# Fragments of the protected files: none may ever come back.
SECRETS = [b"root:x:0:0", MODEL_JSON.read_bytes()[:40], b"def user_errors", b"[core]"]
SERVER_PATHS = sorted({str(REPO), str(Path(sys.prefix)), str(Path(gradio.__file__).parent), str(UPLOAD_DIR)}, key=len)


def traversals() -> list[str]:
    """Request targets for files that must not be served."""
    repo = str(REPO)
    absolute = [
        "/etc/passwd",
        f"{repo}/model/genre_cnn.json",
        f"{repo}/app/handlers.py",
        f"{repo}/.git/config",
        f"{sys.prefix}/pyvenv.cfg",
        "/proc/self/environ",
        "/proc/self/cwd/model/genre_cnn.json",
    ]
    relative = [
        "model/genre_cnn.json",
        "examples/../model/genre_cnn.json",
        "../../../../../../etc/passwd",
        f"{UPLOAD_DIR}/../../../../etc/passwd",
        f"{UPLOAD_DIR}/../../../..{repo}/app/handlers.py",
    ]
    targets = []
    for path in absolute + relative:
        once = urllib.parse.quote(path, safe="")  # / and . as %2F, %2E stays '.': encode dots by hand too
        dots = path.replace(".", "%2e").replace("/", "%2f")
        twice = urllib.parse.quote(dots, safe="")  # %252e%252e%252f
        for form in (path, once, dots, twice):
            targets.append(f"/gradio_api/file={form}")
        targets.append(f"/gradio_api/file/{path.lstrip('/')}")
    for prefix in ("/static/", "/assets/", "/gradio_api/file/", "/svelte/"):
        targets += [
            f"{prefix}../../../../../../../etc/passwd",
            f"{prefix}%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            f"{prefix}..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
            f"{prefix}%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        ]
    targets += [
        "/file=/etc/passwd",
        "/gradio_api/file=file:///etc/passwd",
        "/gradio_api/file=//etc/passwd",
        f"/gradio_api/file={UPLOAD_DIR}",
        "/gradio_api/file=http://127.0.0.1:1/",  # the server must not fetch local URLs for anyone (SSRF)
        "/gradio_api/proxy=http://127.0.0.1:1/",
    ]
    return targets


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def echoes(text: str) -> set[str]:
    """What a reply may repeat of a request: any tail of it (after "=" or a "/"), decoded once or twice, as JSON."""
    tails = {text, text.split("=", 1)[-1]} | {text[index + 1 :] for index, char in enumerate(text) if char == "/"}
    forms = set()
    for tail in tails:
        forms |= {tail, urllib.parse.unquote(tail), urllib.parse.unquote(urllib.parse.unquote(tail))}
    return {form for form in forms | {json.dumps(form)[1:-1] for form in forms} if form}


def server_paths_in(body: bytes | str, *, sent: str = "") -> list[str]:
    """Server paths in a reply, once everything the request itself said is removed."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    for form in sorted(echoes(sent), key=len, reverse=True) if sent else []:
        text = text.replace(form, "")
    return [path for path in SERVER_PATHS if path in text or json.dumps(path)[1:-1] in text]


def test_gradio_has_the_path_traversal_fixes():
    assert Version(gradio.__version__) >= PATCHED_GRADIO, gradio.__version__


@pytest.mark.parametrize("target", traversals())
def test_file_routes_refuse_files_outside_the_upload_folders(running_app, target):
    status, body = raw_get(running_app, target)
    assert status in REFUSED, (status, body[:200])
    assert not any(secret in body for secret in SECRETS)
    assert server_paths_in(body, sent=target) == [], body[:300]


def upload(url: str, path: Path, name: str) -> str:
    with open(path, "rb") as handle:
        reply = httpx.post(f"{url}gradio_api/upload", files={"files": (name, handle, "audio/wav")}, timeout=60)
    reply.raise_for_status()
    return reply.json()[0]


def test_an_upload_is_served_but_nothing_beside_it(running_app, tmp_path):
    """The control: the route works for the caller's own upload, and ../ from there goes nowhere."""
    good = badinputs.write_good(tmp_path, index=7)
    served = upload(running_app, good, "mine.wav")
    status, body = raw_get(running_app, "/gradio_api/file=" + urllib.parse.quote(served))
    assert status == 200 and body == good.read_bytes()
    for escape in ("/../../../../etc/passwd", "/../../../.." + str(MODEL_JSON)):
        target = "/gradio_api/file=" + str(Path(served).parent) + escape
        status, body = raw_get(running_app, target)
        assert status in REFUSED and not any(secret in body for secret in SECRETS)


def call(url: str, api_name: str, data: list) -> tuple[int, str]:
    """The two-step HTTP API: POST the inputs, then read the event stream of the reply."""
    posted = httpx.post(f"{url}gradio_api/call/{api_name}", json={"data": data}, timeout=60)
    if posted.status_code != 200:
        return posted.status_code, posted.text
    event = posted.json()["event_id"]
    reply = httpx.get(f"{url}gradio_api/call/{api_name}/{event}", timeout=120)
    return reply.status_code, reply.text


NOT_UPLOADED = [
    "/etc/passwd",
    str(MODEL_JSON),
    "model/genre_cnn.json",
    "../../../../etc/passwd",
    str(REPO / "examples" / "lincity_city_blues.ogg"),
    f"{UPLOAD_DIR}/../../../../etc/passwd",
]


@pytest.mark.parametrize("path", NOT_UPLOADED)
def test_the_api_refuses_files_that_were_not_uploaded(running_app, path):
    for api_name, data in (
        ("classify", [{"path": path, "meta": {"_type": "gradio.FileData"}}]),
        ("explain", [{"path": path, "meta": {"_type": "gradio.FileData"}}, "jazz", 0]),
    ):
        status, text = call(running_app, api_name, data)
        assert status in REFUSED or "event: error" in text, text[:300]
        assert "event: complete" not in text
        assert not any(secret.decode(errors="replace") in text for secret in SECRETS)
        assert server_paths_in(text, sent=path) == [], text[:300]


@pytest.mark.parametrize(
    "target",
    [
        "/config",
        "/gradio_api/info",
        "/gradio_api/info?all_endpoints=true",
        "/gradio_api/openapi.json",
        "/",
        "/gradio_api/startup-events",
        "/manifest.json",
        "/gradio_api/no-such-route",
        "/favicon.ico",
        "/robots.txt",
    ],
)
def test_page_and_api_descriptions_name_no_server_path(running_app, target):
    status, body = raw_get(running_app, target)
    assert status < 500
    assert server_paths_in(body) == [], body[:300]


def test_error_replies_name_no_server_path(running_app, tmp_path_factory):
    """The bad inputs' error events, malformed requests and the oversize refusal."""
    folder = badinputs.session_folder(tmp_path_factory)
    replies = []
    for case in badinputs.write_cases(
        folder, names=("empty", "text_as_wav", "random_mp3", "nan_inf", "silence", "click", "header_only_stereo")
    ):
        served = upload(running_app, case.path, case.path.name)
        status, text = call(running_app, "classify", [{"path": served, "meta": {"_type": "gradio.FileData"}}])
        assert "event: error" in text, text[:300]
        replies.append((text, served))
    replies.append((call(running_app, "classify", ["not a file"])[1], ""))
    replies.append((call(running_app, "classify", [])[1], ""))
    replies.append((httpx.post(f"{running_app}gradio_api/call/classify", content=b"{not json", timeout=30).text, ""))
    replies.append((httpx.post(f"{running_app}gradio_api/upload", content=b"x", timeout=30).text, ""))
    oversize = badinputs.write_oversize(folder, limit=badinputs.app_max_file_size())
    with open(oversize.path, "rb") as handle:
        reply = httpx.post(f"{running_app}gradio_api/upload", files={"files": ("big.wav", handle)}, timeout=120)
        replies.append((reply.text, ""))
    for text, served in replies:
        assert server_paths_in(text, sent=served) == [], text[:300]


def test_a_result_names_only_its_own_files(running_app, tmp_path):
    """A classification's reply may point at its output image in the upload folder (Gradio's protocol), nothing else."""
    served = upload(running_app, badinputs.write_good(tmp_path, index=11), "result.wav")
    status, text = call(running_app, "classify", [{"path": served, "meta": {"_type": "gradio.FileData"}}])
    assert "event: complete" in text, text[:300]
    without_own_files = re.sub(re.escape(str(UPLOAD_DIR)) + r"/[0-9a-f]{16,}/[\w.-]+", "", text)
    assert server_paths_in(without_own_files) == [], text[:300]
