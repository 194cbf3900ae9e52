"""``python -m benchmarks.library [--files 200] [--memory-files 2000] [--cpus 1 2] [--json FILE]``.

The library job (``python -m library tag``) against the single-process CLI (``python -m model classify``)
on the same 30-s GTZAN clips, each command a fresh process, as a person runs them:

1. start-up: the whole command on one file;
2. files/s after start-up, (N - 1) / (time for N files - time for 1 file), for the CLI on one CPU (pinned)
   and on all, and for the library with each ``--cpus``;
3. peak memory (proportional set size, summed over the command and every process it starts, Ray's
   included) of the library on
   ``--files`` and on ``--memory-files`` files with the most CPUs.

The clips are linked (not copied) into a temporary folder under distinct names, so a library of any
size costs no disk; Ray reads them like any other files. Then the ratios against the targets of the
library issue.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.clips import DEFAULT_GTZAN, full_clips

REPO = Path(__file__).resolve().parents[1]
TARGET_TWO_OVER_ONE_CPU = 1.7  # files/s with 2 CPUs over 1 CPU, at least
TARGET_ONE_CPU_OVER_CLI = 0.85  # library on 1 CPU over the CLI on 1 CPU, at least (Ray's overhead within 15 %)
TARGET_MEMORY_RATIO = 1.2  # peak memory on --memory-files over --files, at most (flat in the number of files)
SAMPLE_SECONDS = 0.5  # how often memory is sampled


def link_library(clips: list[Path], *, count: int, folder: Path) -> Path:
    """``count`` files in ``folder``, symbolic links to the clips in turn (``0000 blues.00000.flac`` ...)."""
    folder.mkdir(parents=True)
    for index in range(count):
        clip = clips[index % len(clips)]
        (folder / f"{index:05d} {clip.name}").symlink_to(clip.resolve())
    return folder


def _tree_memory(process) -> int:
    """Proportional set size (shared pages split between their users) of a process and all its descendants."""
    import psutil

    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def run_measured(command: list[str], *, one_cpu: bool = False) -> dict:
    """Run a command to the end: {"seconds", "peak_bytes", "stdout", "stderr"}; pinned to CPU 0 with ``one_cpu``."""
    import psutil

    environment = dict(os.environ, PYTHONUNBUFFERED="1")
    pin = (lambda: os.sched_setaffinity(0, {0})) if one_cpu else None
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, preexec_fn=pin)
    peak = [0]
    finished = threading.Event()

    def sample() -> None:
        process = psutil.Process(child.pid)
        while not finished.is_set():
            try:
                peak[0] = max(peak[0], _tree_memory(process))
            except psutil.Error:
                return
            finished.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = child.communicate()
    seconds = time.perf_counter() - start
    finished.set()
    sampler.join()
    if child.returncode not in (0, 1):  # the CLI exits 1 when a file fails; none should here
        raise RuntimeError(f"{' '.join(command[:4])} ... failed ({child.returncode}): {stderr[-2000:]}")
    return {"seconds": seconds, "peak_bytes": peak[0], "stdout": stdout, "stderr": stderr}


def cli(files: list[Path], *, model: Path, one_cpu: bool) -> dict:
    return run_measured([sys.executable, "-m", "model", "classify", "--model", str(model), *map(str, files)],
                        one_cpu=one_cpu)


def library(folder: Path, *, out: Path, model: Path, cpus: int) -> dict:
    result = run_measured([sys.executable, "-m", "library", "tag", str(folder), "--out", str(out),
                           "--model", str(model), "--cpus", str(cpus)])
    if " 0 failed;" not in result["stdout"] or "0 already there" not in result["stdout"]:
        raise RuntimeError(f"the library job did not tag every file afresh: {result['stdout']}")
    return result


def rate_after_start(*, one: dict, many: dict, files: int) -> float:
    """Files per second once started: the extra files over the extra time."""
    return (files - 1) / max(many["seconds"] - one["seconds"], 1e-9)


def _parser() -> argparse.ArgumentParser:
    from model.artifact import DEFAULT_MODEL_PATH

    parser = argparse.ArgumentParser(prog="python -m benchmarks.library", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200, help="clips for the throughput measures")
    parser.add_argument("--memory-files", type=int, default=2000, help="clips for the memory measure (0: skip it)")
    parser.add_argument("--cpus", type=int, nargs="+", default=[1, 2], help="--cpus of the library runs")
    parser.add_argument("--gtzan", type=Path, default=DEFAULT_GTZAN, help="GTZAN folder with MANIFEST.csv")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH, help="a .keras artifact")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write every figure as JSON")
    return parser


def measure(args, scratch: Path) -> dict:
    clips = full_clips(args.gtzan)
    files = [clips[index % len(clips)] for index in range(args.files)]
    one = link_library(clips, count=1, folder=scratch / "one")
    many = link_library(clips, count=args.files, folder=scratch / "many")
    results: dict = {"files": args.files, "load_at_start": os.getloadavg()[0], "cpu_count": os.cpu_count()}
    for name, one_cpu in (("cli_1cpu", True), ("cli", False)):
        print(f"CLI{' on one CPU' if one_cpu else ''}: 1 file, then {args.files} ...", file=sys.stderr, flush=True)
        first, all_files = cli(files[:1], model=args.model, one_cpu=one_cpu), cli(files, model=args.model, one_cpu=one_cpu)
        results[name] = {"start_s": first["seconds"], "all_s": all_files["seconds"],
                         "files_per_s": rate_after_start(one=first, many=all_files, files=args.files)}
    for cpus in args.cpus:
        print(f"library --cpus {cpus}: 1 file, then {args.files} ...", file=sys.stderr, flush=True)
        first = library(one, out=scratch / f"one-{cpus}.parquet", model=args.model, cpus=cpus)
        all_files = library(many, out=scratch / f"many-{cpus}.parquet", model=args.model, cpus=cpus)
        results[f"library_{cpus}cpu"] = {
            "start_s": first["seconds"], "all_s": all_files["seconds"],
            "files_per_s": rate_after_start(one=first, many=all_files, files=args.files),
            "peak_bytes": all_files["peak_bytes"]}
    if args.memory_files:
        cpus = max(args.cpus)
        print(f"library --cpus {cpus}: {args.memory_files} files for memory ...", file=sys.stderr, flush=True)
        big = link_library(clips, count=args.memory_files, folder=scratch / "big")
        run = library(big, out=scratch / "big.parquet", model=args.model, cpus=cpus)
        results["memory"] = {"cpus": cpus, "files": args.memory_files, "seconds": run["seconds"],
                             "peak_bytes": run["peak_bytes"],
                             "small_peak_bytes": results[f"library_{cpus}cpu"]["peak_bytes"]}
    return results


def print_table(results: dict) -> None:
    print(f"\nlibrary job vs CLI on {results['files']} 30-s GTZAN clips | {results['cpu_count']} CPUs, "
          f"load average {results['load_at_start']:.2f} at start")
    print(f"{'command':34} {'start-up (1 file)':>18} {'N files':>9} {'files/s after start':>20}")
    for key, label in [("cli_1cpu", "CLI, pinned to one CPU"), ("cli", "CLI, all CPUs")] + [
            (key, f"library --cpus {key.split('_')[1][:-3]}") for key in results if key.startswith("library_")]:
        row = results[key]
        print(f"{label:34} {row['start_s']:>17.1f}s {row['all_s']:>8.1f}s {row['files_per_s']:>20.1f}")
    lines = []
    one, two = results.get("library_1cpu"), results.get("library_2cpu")
    if one and two:
        lines.append(("library 2 CPUs / 1 CPU (files/s)", two["files_per_s"] / one["files_per_s"], TARGET_TWO_OVER_ONE_CPU, False))
    if one:
        lines.append(("library 1 CPU / CLI on 1 CPU (files/s)", one["files_per_s"] / results["cli_1cpu"]["files_per_s"],
                      TARGET_ONE_CPU_OVER_CLI, False))
    if "memory" in results:
        memory = results["memory"]
        print(f"peak memory, library --cpus {memory['cpus']}: {memory['small_peak_bytes'] / 2**20:.0f} MiB for "
              f"{results['files']} files, {memory['peak_bytes'] / 2**20:.0f} MiB for {memory['files']} files "
              f"({memory['seconds']:.0f} s)")
        lines.append((f"peak memory {memory['files']} / {results['files']} files",
                      memory["peak_bytes"] / memory["small_peak_bytes"], TARGET_MEMORY_RATIO, True))
    print(f"\n{'ratio':44} {'value':>7} {'target':>8}")
    for label, value, target, at_most in lines:
        verdict = "ok" if (value <= target if at_most else value >= target) else "MISSED"
        print(f"{label:44} {value:>6.2f}x {'<=' if at_most else '>='} {target:<5g} {verdict}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="genre-cam-library-bench-") as scratch:
        results = measure(args, Path(scratch))
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
