"""Load test: concurrent gradio_client users sending good and bad recordings to a local app.

    .venv/bin/python scripts/load_test.py                    # starts python -m app itself
    .venv/bin/python scripts/load_test.py --clients 4 --requests 5
    .venv/bin/python scripts/load_test.py --url http://127.0.0.1:7860/ --pid 1234 --upload-dir /tmp/gradio

Each of ``--clients`` threads has its own gradio_client and sends ``--requests`` requests one
after another (bounded: clients x requests in all, each with a time limit), a seeded mix of good
recordings (GTZAN excerpts from ../shared/gtzan when present, the bundled examples, short
excerpts written at run time) and bad ones (tests/badinputs.py). It prints the failures of good
requests (must be 0), bad requests answered without the model's own message, p50/p95 latency
of each, the server's peak RSS (sampled), the files in the upload folder before, after, and
after the app is stopped (SIGTERM by default), and the total time. Exit code 1 if a good
request failed or a request got no answer.

Started by this script, the app gets a fresh GRADIO_TEMP_DIR, so that the file counts are its
own. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import badinputs  # noqa: E402
from tests.appserver import launch_app  # noqa: E402

GTZAN_SNIPPETS = REPO.parent / "shared" / "gtzan" / "snippets"
START_TIMEOUT = 300.0  # seconds for the app to load TensorFlow, the model and warm up
REQUEST_TIMEOUT = 300.0  # seconds per request, queueing included (16 users, one analysis at a time)
GOOD_SHARE = 0.6  # of the requests
GENERIC = ("something went wrong", "upstream gradio app has raised an exception", "error raised")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent users (default %(default)s)")
    parser.add_argument("--requests", type=int, default=25, help="requests per user (default %(default)s)")
    parser.add_argument("--url", help="an app already running (default: start python -m app on a free port)")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, for its memory")
    parser.add_argument("--upload-dir", type=Path, help="with --url: its GRADIO_TEMP_DIR (default /tmp/gradio)")
    parser.add_argument("--seed", type=int, default=5, help="the request mix (default %(default)s)")
    parser.add_argument(
        "--stop-signal",
        choices=["TERM", "INT"],
        default="TERM",
        help="how the started app is stopped: TERM as a service manager does, INT as Ctrl-C does",
    )
    return parser.parse_args(argv)


def count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder)) if folder.is_dir() else 0


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def good_files(scratch: Path, *, needed: int) -> list[Path]:
    """Distinct valid recordings: GTZAN excerpts, the bundled examples, then 5-s excerpts written here."""
    files = sorted(GTZAN_SNIPPETS.glob("*/*.flac")) if GTZAN_SNIPPETS.is_dir() else []
    files += sorted(path for path in (REPO / "examples").iterdir() if path.suffix in {".ogg", ".mp3", ".flac", ".wav"})
    index = 0
    while len(files) < needed:
        files.append(badinputs.write_good(scratch, index=index))
        index += 1
    return files


def bad_cases(scratch: Path) -> list[badinputs.Case]:
    """Every quick case whose answer is a refusal (the oversize file never leaves gradio_client)."""
    return [case for case in badinputs.write_cases(scratch) if not case.app.valid]


def run_user(
    url: str, plan: list[tuple[str, Path, badinputs.Case | None]], results: list, lock: threading.Lock
) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(url, verbose=False, download_files=False)
    for kind, path, case in plan:
        started = time.monotonic()
        outcome = "ok"
        detail = ""
        try:
            job = client.submit(handle_file(str(path)), api_name="/classify")
            outputs = job.result(timeout=REQUEST_TIMEOUT)
            if kind == "bad":
                outcome, detail = "unexpected result", str(outputs[-1])[:80]
        except AppError as error:
            if kind == "good":
                outcome, detail = "failed", str(error)[:160]
            else:
                message = error.message.lower()
                clear = not any(generic in message for generic in GENERIC) and all(
                    word in message for word in case.app.words
                )
                outcome = "ok" if clear else "unclear"
                detail = error.message[:160]
        except Exception as error:  # timeouts, connection errors, queue full: all count as failures
            outcome, detail = "failed", f"{type(error).__name__}: {error}"[:160]
        with lock:
            results.append((kind, case.name if case else path.name, outcome, time.monotonic() - started, detail))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="genre-cam-load-"))
    started = time.monotonic()
    app = None
    try:
        total = args.clients * args.requests
        rng = random.Random(args.seed)
        goods = good_files(scratch / "good", needed=total)
        rng.shuffle(goods)
        bads = bad_cases(scratch / "bad")
        plans: list[list] = [[] for _ in range(args.clients)]
        for number in range(total):
            if rng.random() < GOOD_SHARE:
                item = ("good", goods[number % len(goods)], None)
            else:
                case = rng.choice(bads)
                item = ("bad", case.path, case)
            plans[number % args.clients].append(item)

        if args.url:
            url, upload_dir, pid = args.url, args.upload_dir or Path(tempfile.gettempdir()) / "gradio", args.pid
        else:
            print("starting python -m app ...", flush=True)
            upload_dir = scratch / "gradio-temp"
            app = launch_app(env={"GRADIO_TEMP_DIR": str(upload_dir)}, timeout=START_TIMEOUT)
            url, pid = app.url, app.process.pid
        before = count_files(upload_dir)
        sampler = badinputs.PeakRss(pid, interval=0.1) if pid else None
        print(
            f"{args.clients} clients x {args.requests} requests against {url} "
            f"({sum(kind == 'good' for plan in plans for kind, _, _ in plan)} good, "
            f"{sum(kind == 'bad' for plan in plans for kind, _, _ in plan)} bad)",
            flush=True,
        )
        results: list = []
        lock = threading.Lock()
        load_started = time.monotonic()
        users = [threading.Thread(target=run_user, args=(url, plan, results, lock)) for plan in plans]
        for user in users:
            user.start()
        for user in users:
            user.join()
        load_seconds = time.monotonic() - load_started
        peak = sampler.stop() if sampler else 0
        after = count_files(upload_dir)
        after_stop = None
        alive = app.process.poll() is None if app else None
        if app:
            app.stop(getattr(signal, f"SIG{args.stop_signal}"), timeout=60)
            after_stop = count_files(upload_dir)
    finally:
        if app:
            app.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    good = [r for r in results if r[0] == "good"]
    bad = [r for r in results if r[0] == "bad"]
    good_failures = [r for r in good if r[2] != "ok"]
    unclear = [r for r in bad if r[2] != "ok"]
    print()
    print(f"requests answered            {len(results)} of {total}")
    print(f"good requests failed         {len(good_failures)} of {len(good)}  (must be 0)")
    for _, name, outcome, _, detail in good_failures[:10]:
        print(f"    {name}: {outcome}: {detail}")
    print(f"bad requests without the model's own message  {len(unclear)} of {len(bad)}")
    for _, name, outcome, _, detail in unclear[:10]:
        print(f"    {name}: {outcome}: {detail}")
    for label, rows in (("good", good), ("bad", bad)):
        latencies = [r[3] for r in rows]
        mean = statistics.fmean(latencies) if latencies else float("nan")
        print(
            f"latency {label:<4}  p50 {percentile(latencies, 0.5):6.2f} s   p95 {percentile(latencies, 0.95):6.2f} s"
            f"   max {max(latencies, default=float('nan')):6.2f} s   mean {mean:.2f} s"
        )
    print(
        f"server peak RSS              {peak / 2**20:.0f} MiB"
        if peak
        else "server peak RSS              not measured (give --pid)"
    )
    print(f"upload folder {upload_dir}")
    print(
        f"    files before {before}, after the load {after}"
        + (f", after the app's stop by SIG{args.stop_signal} {after_stop}" if after_stop is not None else "")
    )
    if alive is not None:
        print(f"server alive after the load  {alive}")
    print(
        f"load time {load_seconds:.1f} s ({len(results) / load_seconds:.2f} requests/s); "
        f"total time {time.monotonic() - started:.1f} s"
    )
    return 1 if good_failures or len(results) < total else 0


if __name__ == "__main__":
    sys.exit(main())
