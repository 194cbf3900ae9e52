"""Command line: ``python -m library tag MUSIC_DIR... --out tags.parquet [--address auto|ray://HOST:10001]``.

Prints the progress on stderr and a summary on stdout. Exit code 0 when every file has a row
(files that could not be classified included: their status column says why), 1 when rows are
missing or the job was interrupted (run the same command again to continue), 2 for a usage
error, an unusable model, or Ray not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

INSTALL_HINT = "pip install -r requirements-library.txt    (or: pip install 'ray[data]==2.60.0')"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m library", description="Tag a whole music library with genres.")
    commands = parser.add_subparsers(dest="command", required=True)
    tag = commands.add_parser("tag", help="tag every audio file under the folders; re-run to continue or update")
    tag.add_argument("folders", nargs="+", type=Path, metavar="MUSIC_DIR", help="folders searched recursively")
    tag.add_argument("--out", type=Path, required=True, help="the output: .parquet, .csv or .jsonl (one row per file)")
    tag.add_argument(
        "--address",
        default=None,
        help="a Ray cluster: 'auto' (this machine is part of one) or ray://HOST:10001; default: Ray on this machine",
    )
    tag.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray, one worker each (default: all)")
    tag.add_argument("--model", type=Path, default=None, help="a .keras artifact (default: the committed one)")
    tag.add_argument(
        "--report", type=Path, default=None, metavar="HTML", help="also write a page: genre chart, failed files"
    )
    tag.add_argument("--batch-files", type=int, default=None, help="files per worker call (default 8)")
    return parser


def _missing() -> list[str]:
    """The packages of Ray Data that cannot be found (looked up without importing them: Ray is slow to import)."""
    return [name for name in ("ray", "pyarrow", "pandas") if importlib.util.find_spec(name) is None]


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.cpus is not None and args.cpus < 1 or args.batch_files is not None and args.batch_files < 1:
        parser.error("--cpus and --batch-files must be at least 1")
    missing = _missing()
    if missing:
        print(
            f"error: tagging a library needs Ray Data ({', '.join(missing)} not installed). Install it with:\n"
            f"  {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    from library.job import BATCH_FILES, LibraryError, tag_library
    from library.store import output_format
    from model.artifact import DEFAULT_MODEL_PATH, ArtifactError, read_metadata

    try:
        output_format(args.out)
        read_metadata(args.model or DEFAULT_MODEL_PATH)
    except ValueError as error:
        parser.error(str(error))
    except ArtifactError as error:
        print(f"error: cannot use the model: {error}", file=sys.stderr)
        return 2
    # Ray's C++ core and the audio decoders write notes straight to fd 2: keep our own messages on a
    # duplicate of stderr and send fd 2 to /dev/null (Python's errors still reach sys.stderr).
    sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        summary = tag_library(
            args.folders,
            out=args.out,
            model_path=args.model,
            address=args.address,
            cpus=args.cpus,
            batch_files=args.batch_files or BATCH_FILES,
        )
    except LibraryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ConnectionError as error:  # ray.init found no cluster at --address
        print(f"error: cannot reach the Ray cluster at {args.address}: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: finished chunks are kept beside {args.out}; run the same command again to continue",
            file=sys.stderr,
        )
        return 1
    print(summary.text())
    if args.report:
        from library.report import report_html

        args.report.write_text(report_html(summary), encoding="utf-8")
        print(f"report: {args.report}")
    return 1 if summary.missing else 0


if __name__ == "__main__":
    sys.exit(main())
