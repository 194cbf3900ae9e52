"""Command line: ``python -m model classify FILE... [--json]``.

Prints one line (or with --json one JSON object) per file on stdout. A file that cannot
be classified gets a one-line reason on stderr; the others are still processed, and the
exit code is 1 if any file failed (2 for a usage error or an unusable model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

BATCH_FILES = 16  # files whose segments share network calls
TOP_TAGS = 3  # tags shown per file without --json, when the model has a tag head


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model", description="Music genre classification with Grad-CAM.")
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser("classify", help="classify audio files")
    classify.add_argument("files", nargs="+", type=Path, metavar="FILE", help="wav, flac, ogg, mp3 ...")
    classify.add_argument("--json", action="store_true", help="one JSON object per file (JSON lines)")
    classify.add_argument("--model", type=Path, default=None, help="a .keras artifact (default: the committed one)")
    classify.add_argument("--top", type=int, default=3, help="genres shown per file without --json")
    return parser


def _summary(name: str, result, *, top: int) -> str:
    ranked = ", ".join(f"{genre} {p:.0%}" for genre, p in result.ranked()[:top])
    note = f" (first {result.seconds:.0f} s of {result.source_seconds:.0f} s)" if result.truncated else ""
    tags = ", ".join(f"{tag} {p:.0%}" for tag, p in result.top_tags(TOP_TAGS))
    sounds = f"  sounds like: {tags}" if tags else ""
    return f"{name}: {result.genre}  [{ranked}]{sounds}  {len(result.starts)} segments{note}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from model.artifact import DEFAULT_MODEL_PATH, ArtifactError
    from model.classifier import GenreClassifier

    try:
        classifier = GenreClassifier.load(args.model or DEFAULT_MODEL_PATH)
    except ArtifactError as error:
        print(f"error: cannot use the model: {error}", file=sys.stderr)
        return 2
    # libmpg123 inside libsndfile writes decoder notes straight to fd 2: keep our own messages on a
    # duplicate of stderr and silence fd 2 while decoding, so each bad file costs exactly one line.
    messages = os.fdopen(os.dup(2), "w", buffering=1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    sys.stderr = messages
    failures = 0
    for first in range(0, len(args.files), BATCH_FILES):
        batch = args.files[first : first + BATCH_FILES]
        for path, result in zip(batch, classifier.classify_many([str(path) for path in batch])):
            if isinstance(result, Exception):
                failures += 1
                print(f"{path}: {result}", file=sys.stderr, flush=True)
            elif args.json:
                print(json.dumps({"file": str(path), **result.to_dict()}), flush=True)
            else:
                print(_summary(str(path), result, top=args.top), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
