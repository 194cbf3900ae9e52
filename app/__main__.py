"""Start the demo: python -m app [--host H] [--port P] [--share] [--model PATH].

Loads and warms up the model once, then serves. Prints one line with the local URL when
ready and, with ``--share``, one line saying whether a public link could be made (offline
it cannot; the app keeps serving locally). With GENRE_CAM_AUTH="user:password" in the
environment (several pairs separated by commas) the page asks for a login.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):  # run as a file (python app/__main__.py, e.g. a Hugging Face Space)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any

from model.artifact import DEFAULT_MODEL_PATH  # noqa: E402


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


PREFIX = "genre-cam:"
# "user:password[,user:password...]", read from the environment so that passwords stay out of
# the shell history and the process list
AUTH_VARIABLE = "GENRE_CAM_AUTH"


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """Parse "ann:secret,bob:other" into [("ann", "secret"), ("bob", "other")]; None or "" gives None."""
    if not value:
        return None
    pairs = []
    for item in value.split(","):
        user, separator, password = item.strip().partition(":")
        if not separator or not user or not password:
            raise ValueError(f"{AUTH_VARIABLE} must be user:password pairs separated by commas")
        pairs.append((user, password))
    return pairs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app", description="Serve the genre-cam demo.")
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="interface to listen on (0.0.0.0 for every one; default %(default)s or $GRADIO_SERVER_NAME)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        help="port (default %(default)s or $GRADIO_SERVER_PORT)",
    )
    parser.add_argument("--share", action="store_true", help="also ask Gradio for a temporary public link")
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL_PATH, help="the .keras artifact (default: the committed model)"
    )
    return parser.parse_args(argv)


def read_model_card(model_path: Path) -> str | None:
    """The README.md beside the artifact (the model card), if there is one."""
    card = Path(model_path).resolve().parent / "README.md"
    return card.read_text(encoding="utf-8") if card.is_file() else None


def _launch(demo, args: argparse.Namespace, auth: list[tuple[str, str]] | None) -> bool:
    """Start serving (without blocking); False, with one line on stderr, when it cannot."""
    from app.layout import APP_CSS, MAX_FILE_SIZE, theme

    gradio_says = io.StringIO()  # without a link Gradio prints a page of instructions; we print one line
    try:
        with contextlib.redirect_stdout(gradio_says):
            demo.launch(
                server_name=args.host,
                server_port=args.port,
                share=args.share,
                max_file_size=MAX_FILE_SIZE,
                auth=auth,
                auth_message="genre-cam: please log in." if auth else None,
                theme=theme(),
                css=APP_CSS,
                prevent_thread_lock=True,
                quiet=True,
            )
    except OSError as error:  # e.g. the port is taken
        print(f"{PREFIX} cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr, flush=True)
        return False
    finally:
        if gradio_says.getvalue().strip():
            logging.getLogger("app").info("Gradio at launch: %s", gradio_says.getvalue().strip())
    return True


def main(argv: list[str] | None = None, *, extend: Callable[[Any], None] | None = None) -> int:
    """Load the model, build the page and serve it until Ctrl-C or SIGTERM.

    ``extend`` is called with the built Blocks before they are launched (the benchmarks add an
    endpoint of their own there).
    """
    args = parse_args(argv)
    try:
        auth = parse_auth(os.environ.get(AUTH_VARIABLE))
    except ValueError as error:
        print(f"{PREFIX} {error}", file=sys.stderr, flush=True)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    print(f"{PREFIX} loading the model {args.model} ...", flush=True)

    from model.artifact import ArtifactError
    from model.classifier import GenreClassifier

    try:
        classifier = GenreClassifier.load(args.model)
    except ArtifactError as error:
        print(f"{PREFIX} cannot load the model: {error}", file=sys.stderr, flush=True)
        return 2
    classifier.warm_up()

    from app.layout import build_demo

    demo = build_demo(classifier, model_card=read_model_card(args.model))
    if extend is not None:
        extend(demo)
    if not _launch(demo, args, auth):
        return 2
    if args.share:  # before the ready line, so that whoever waits for "ready" has both
        if demo.share_url:
            print(f"{PREFIX} public link {demo.share_url} (temporary; anyone with it can use the app)", flush=True)
        else:
            print(
                f"{PREFIX} no public link could be created (offline or the share service is unreachable); "
                "serving locally only",
                flush=True,
            )
    login = f" (login required: {len(auth)} user{'s' if len(auth) > 1 else ''})" if auth else ""
    print(f"{PREFIX} ready in {time.perf_counter() - started:.1f} s at {demo.local_url}{login}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM gets Ctrl-C's clean-up of uploaded files
    demo.block_thread()  # until Ctrl-C or SIGTERM
    return 0


if __name__ == "__main__":
    sys.exit(main())
