"""``python -m benchmarks [--model PATH] [--repeats N] [--json FILE]``: print the performance table.

Measures, in one run on the same two recordings (a whole 30-s GTZAN clip and a 5-minute
recording concatenated from GTZAN clips into a temporary FLAC):

1. floor: decode + MFCC of every segment;
2. classify (features + CNN);
3. classify + Grad-CAM of every segment;
4. a full request through the running app (gradio_client) beside Gradio's own minimum, the same
   upload to the app's constant endpoint; and the app's cold start;
5. the seed project's pipeline (its own network, librosa MFCC per 6-s slice, model reloaded per
   request); beside it, for information, the same steps with our network and 3-s slices;
6. CLI batch throughput over 50 clips.

Then the ratios the project promises, each against its target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.clips import DEFAULT_GTZAN, as_mp3, concatenate, distinct_copies, full_clips
from benchmarks.timing import Timing

LONG_SECONDS = 300.0  # the long recording: 5 minutes
LONG_CLIPS = 10  # GTZAN clips concatenated into it
CLI_CLIPS = 50  # files given to one CLI call
MP3_RATE = 44100  # the 30-s clip is also measured as a 44.1-kHz stereo MP3 (floor only)

# the ratios the project promises (each measured in one run)
TARGET_GRADCAM_OVER_FLOOR = 2.0
TARGET_APP_OVER_GRADIO_IN_FLOORS = 2.0
TARGET_SEED_SPEEDUP = 10.0
TARGET_LONG_OVER_SHORT = 11.0
TARGET_COLD_START_S = 10.0
BUSY_LOAD = 0.5  # load average per CPU above which the table carries a warning


def _parser() -> argparse.ArgumentParser:
    from model.artifact import DEFAULT_MODEL_PATH

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL_PATH, help="a .keras artifact (default: the committed one)"
    )
    parser.add_argument("--gtzan", type=Path, default=DEFAULT_GTZAN, help="GTZAN folder with MANIFEST.csv")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per measure, after one warm-up")
    parser.add_argument("--seed-repeats", type=int, default=5, help="timed calls of the (slow) seed pipeline")
    parser.add_argument("--cli-repeats", type=int, default=3, help="timed CLI runs (each a fresh process)")
    parser.add_argument("--skip-app", action="store_true", help="leave out item 4 and the cold start")
    parser.add_argument("--skip-cli", action="store_true", help="leave out item 6")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write every figure as JSON")
    return parser


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1.0 else f"{seconds:.2f} s"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x" if value >= 10 else f"{value:.2f}x"


def _median(timing) -> float | None:
    return timing.median if isinstance(timing, Timing) else None


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.system()}, {os.cpu_count()} CPUs ({cpu}), load average {load:.2f} at start"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from model.runtime import import_tensorflow

    tf = import_tensorflow()
    from benchmarks.pipeline import measure_pipeline, save_seed_network
    from model.classifier import GenreClassifier

    clips = full_clips(args.gtzan)
    short = clips[0]
    classifier = GenreClassifier.load(args.model)
    classifier.warm_up()
    results: dict = {"model": str(args.model), "machine": _machine(), "repeats": args.repeats}
    print(f"genre-cam benchmark | model {args.model} | {results['machine']}", flush=True)
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > BUSY_LOAD * (os.cpu_count() or 1):
        print(
            "note: other work is using this machine: times are inflated, ratios (timed in rounds) less so", flush=True
        )
    intra_op = tf.config.threading.get_intra_op_parallelism_threads() or "auto"
    inter_op = tf.config.threading.get_inter_op_parallelism_threads() or "auto"
    print(
        f"TensorFlow {tf.__version__}: intra-op threads {intra_op}, inter-op {inter_op} | "
        f"median of {args.repeats} after a warm-up",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="genre-cam-bench-") as scratch:
        scratch = Path(scratch)
        long = concatenate(clips[:LONG_CLIPS], seconds=LONG_SECONDS, out=scratch / "five_minutes.flac")
        recordings = {"30s": short, "5min": long}
        print(
            f"clips: 30-s = {short.name}; 5-min = {LONG_CLIPS} GTZAN clips concatenated into a temporary FLAC",
            flush=True,
        )
        mp3 = as_mp3(short, rate=MP3_RATE, out=scratch / "thirty_seconds.mp3")
        print("measuring in process ...", file=sys.stderr, flush=True)
        results.update(
            measure_pipeline(
                classifier,
                recordings,
                model_path=args.model,
                seed_model_path=save_seed_network(scratch / "seed_cnn.keras", n_genres=len(classifier.genres)),
                repeats=args.repeats,
                seed_repeats=args.seed_repeats,
                floor_only={"30s_mp3": mp3} if mp3 else None,
            )
        )
        results["app"] = _measure_app(args, recordings, scratch)
        results["cli"] = _measure_cli(args, clips) if not args.skip_cli else None
    _print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_jsonable(results), indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


def _measure_app(args, recordings: dict[str, Path], scratch: Path) -> dict:
    """Item 4 and the cold start, or the reason they were left out."""
    if args.skip_app:
        return {"skipped": "--skip-app"}
    from benchmarks.serving import measure_app, running_app

    copies = {}
    for key, path in recordings.items():
        folder = scratch / f"uploads-{key}"
        folder.mkdir()
        copies[key] = distinct_copies(
            path, count=2 * (args.repeats + 1) + 2, out=folder
        )  # + cold start, + ping warm-up
    first = copies["30s"].pop()
    print("starting the app ...", file=sys.stderr, flush=True)
    try:
        with running_app(model_path=args.model, first_clip=first, scratch=scratch) as app:
            results: dict = {"cold_start": app.cold_start_s}
            results.update(measure_app(app, copies, repeats=args.repeats))
    except RuntimeError as error:
        return {"skipped": str(error)}
    return results


def _measure_cli(args, clips: list[Path]) -> dict:
    from benchmarks.serving import measure_cli

    print(f"running the CLI on {CLI_CLIPS} clips ...", file=sys.stderr, flush=True)
    files = (clips * ((CLI_CLIPS // len(clips)) + 1))[:CLI_CLIPS]
    return {"files": len(files), **measure_cli(files, model_path=args.model, repeats=args.cli_repeats)}


def paired_ratio(numerator: Timing, denominator: Timing) -> float:
    """Median over rounds of numerator / denominator: each pair saw the same background load."""
    return statistics.median(a / b for a, b in zip(numerator.samples, denominator.samples))


def _verdict(value: float | None, target: float, *, at_most: bool) -> str:
    if value is None:
        return "not measured"
    return "ok" if (value <= target if at_most else value >= target) else "MISSED"


def _print_table(results: dict) -> None:
    short, long = results["30s"], results["5min"]
    app = results["app"]
    rows = [
        ("1 floor: decode + MFCC of all segments", "floor"),
        ("2 classify (features + CNN)", "classify"),
        ("3 classify + Grad-CAM of every segment", "classify_gradcam"),
        ("    Grad-CAM of a classified recording", "gradcam"),
        ("    Grad-CAM of one segment (tf-keras-vis per call)", "gradcam_one_segment"),
        ("5 seed pipeline (its net, MFCC per 6-s slice, reloaded)", "seed"),
        ("    the same with our net and 3-s slices (info)", "seed_our_network"),
    ]
    width = 52
    print()
    print(f"{'measure (median)':{width}} {'30-s clip':>11} {'5-min clip':>11} {'5-min/30-s':>11}")
    print(f"{'  segments':{width}} {short['segments']:>11} {long['segments']:>11}")
    for label, key in rows:
        a, b = _median(short[key]), _median(long[key])
        print(f"{label:{width}} {_duration(a):>11} {_duration(b):>11} {_ratio(b / a if a and b else None):>11}")
        if key == "floor" and "30s_mp3" in results:
            mp3 = _median(results["30s_mp3"]["floor"])
            print(f"{'    the 30-s clip as 44.1-kHz stereo MP3':{width}} {_duration(mp3):>11}")
    if "skipped" in app:
        print(f"4 app request: not measured ({app['skipped']})")
    else:
        for label, key in [
            ("4 app request (gradio_client, classify)", "app_request"),
            ("    Gradio minimum (same upload, constant reply)", "gradio_minimum"),
        ]:
            a, b = _median(app["30s"][key]), _median(app["5min"][key])
            print(f"{label:{width}} {_duration(a):>11} {_duration(b):>11} {_ratio(b / a if a and b else None):>11}")
        if "note" in app:
            print(f"    note: {app['note']}")
        print(f"{'  app cold start (process start to first result)':{width}} {_duration(app['cold_start']):>11}")
    cli = results["cli"]
    if cli:
        one, many = _median(cli["cli_one"]), _median(cli["cli_all"])
        n = cli["files"]
        print(
            f"6 CLI batch: {n} clips in {_duration(many)} = {n / many:.1f} clips/s "
            f"(1 clip: {_duration(one)}, so {(n - 1) / (many - one):.1f} clips/s after start-up)"
        )

    def ratio(numerator, denominator):
        return numerator / denominator if numerator and denominator else None

    floor_s, floor_l = _median(short["floor"]), _median(long["floor"])
    both_s = _median(short["classify_gradcam"])
    lines = [
        (
            "classify + Grad-CAM / floor, 30-s",
            paired_ratio(short["classify_gradcam"], short["floor"]),
            TARGET_GRADCAM_OVER_FLOOR,
            True,
        ),
        (
            "classify + Grad-CAM / floor, 5-min (info)",
            paired_ratio(long["classify_gradcam"], long["floor"]),
            None,
            True,
        ),
        (
            "tf-keras-vis per-call cost / classify + Grad-CAM, 30-s",
            paired_ratio(short["gradcam_one_segment"], short["classify_gradcam"]),
            None,
            True,
        ),
    ]
    if "skipped" not in app and app["30s"]["gradio_minimum"] is not None:
        for key, floor_value, label in [("30s", floor_s, "30-s"), ("5min", floor_l, "5-min")]:
            request, minimum = app[key]["app_request"].samples, app[key]["gradio_minimum"].samples
            extra = statistics.median(a - b for a, b in zip(request, minimum))  # paired by round
            target = TARGET_APP_OVER_GRADIO_IN_FLOORS if key == "30s" else None
            lines.append((f"(app request - Gradio minimum) / floor, {label}", extra / floor_value, target, True))
    lines += [
        (
            "seed pipeline / classify, 30-s",
            ratio(_median(short["seed"]), _median(short["classify"])),
            TARGET_SEED_SPEEDUP,
            False,
        ),
        ("seed pipeline / classify + Grad-CAM, 30-s (info)", ratio(_median(short["seed"]), both_s), None, False),
        (
            "seed steps with our net / classify, 30-s (info)",
            ratio(_median(short["seed_our_network"]), _median(short["classify"])),
            None,
            False,
        ),
        (
            "5-min / 30-s, classify + Grad-CAM",
            paired_ratio(long["classify_gradcam"], short["classify_gradcam"]),
            TARGET_LONG_OVER_SHORT,
            True,
        ),
    ]
    if "skipped" not in app:
        lines.append(
            (
                "5-min / 30-s, app request",
                ratio(_median(app["5min"]["app_request"]), _median(app["30s"]["app_request"])),
                TARGET_LONG_OVER_SHORT,
                True,
            )
        )
    print()
    print("ratios of measures timed in the same rounds are medians of the per-round ratios")
    print(f"{'ratio':{width}} {'value':>11} {'target':>11} {'':>11}")
    for label, value, target, at_most in lines:
        target_text = "" if target is None else f"{'<=' if at_most else '>='} {target:g}"
        verdict = "" if target is None else _verdict(value, target, at_most=at_most)
        print(f"{label:{width}} {_ratio(value):>11} {target_text:>11} {verdict:>11}")
    if "skipped" not in app:
        cold = app["cold_start"]
        target_text = f"< {TARGET_COLD_START_S:g} s"
        verdict = _verdict(cold, TARGET_COLD_START_S, at_most=True)
        print(f"{'app cold start':{width}} {_duration(cold):>11} {target_text:>11} {verdict:>11}")


def _jsonable(value):
    if isinstance(value, Timing):
        return value.to_dict()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


if __name__ == "__main__":
    sys.exit(main())
