"""``python -m benchmarks.library [--files 200] [--memory-files 2000] [--cpus 1 2] [--json FILE]``.

The library job (``python -m library tag``) against the single-process CLI (``python -m model classify``)
on the same 30-s GTZAN clips, each command a fresh process, as a person runs them:

1. start-up: from the command's start to its first result (the CLI's first printed line, the library's
   first chunk on disk);
2. files/s after start-up, from the first result to the last, for the CLI on one CPU (pinned) and on
   all, and for the library with each ``--cpus``;
3. peak memory (proportional set size, summed over the command and every process it starts, Ray's
   included) of the library on ``--files`` and on ``--memory-files`` files with the most CPUs, in runs
   of their own: reading every process's memory map costs about 0.15 s of CPU per sample, which on a
   2-core machine would come out of the job's own CPUs, so the runs that measure files/s do not sample it.

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
from collections.abc import Callable
from pathlib import Path

from benchmarks.clips import DEFAULT_GTZAN, full_clips

REPO = Path(__file__).resolve().parents[1]
TARGET_TWO_OVER_ONE_CPU = 1.7  # files/s with 2 CPUs over 1 CPU, at least
TARGET_ONE_CPU_OVER_CLI = 0.85  # library on 1 CPU over the CLI on 1 CPU, at least (Ray's overhead within 15 %)
TARGET_MEMORY_RATIO = 1.2  # peak memory on --memory-files over --files, at most (flat in the number of files)
SAMPLE_SECONDS = 0.1  # how often the files done are sampled
MEMORY_EVERY = 5  # memory every this many samples


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


def run_measured(
    command: list[str], *, count: Callable[[list[str]], int], one_cpu: bool = False, memory: bool = False
) -> dict:
    """Run a command to the end, sampling its files done and its memory.

    Parameters
    ----------
    command : the command line, run in the repository.
    count : files done so far, from the stdout lines read so far (or from anything else it looks at).
    one_cpu : pin the command (and all it starts) to CPU 0.
    memory : sample the peak memory of the command's process tree (costs CPU; see the module docstring).

    Returns
    -------
    {"seconds": wall time, "first_s": time to the first result, "first_files": files done then,
    "last_s": time to the last result, "files": files done, "peak_bytes": peak PSS (0 unless ``memory``),
    "stdout", "stderr"}
    """
    import psutil

    pin = (lambda: os.sched_setaffinity(0, {0})) if one_cpu else None
    start = time.perf_counter()
    child = subprocess.Popen(
        command,
        cwd=REPO,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=pin,
    )
    lines: list[str] = []
    errors: list[str] = []
    readers = [
        threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True),
        threading.Thread(target=lambda: errors.append(child.stderr.read()), daemon=True),
    ]
    for reader in readers:
        reader.start()
    process, peak, events, tick = psutil.Process(child.pid), 0, [], 0
    while child.poll() is None:
        done = count(lines)
        if done and (not events or done != events[-1][1]):
            events.append((time.perf_counter() - start, done))
        if memory and tick % MEMORY_EVERY == 0:
            try:
                peak = max(peak, _tree_memory(process))
            except psutil.Error:
                pass
        tick += 1
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - start
    for reader in readers:
        reader.join()
    if child.returncode not in (0, 1):  # the CLI exits 1 when a file fails; none should here
        raise RuntimeError(f"{' '.join(command[:4])} ... failed ({child.returncode}): {''.join(errors)[-2000:]}")
    if not events:
        raise RuntimeError(f"{' '.join(command[:4])} ... gave no result")
    return {
        "seconds": seconds,
        "first_s": events[0][0],
        "first_files": events[0][1],
        "last_s": events[-1][0],
        "files": events[-1][1],
        "peak_bytes": peak,
        "stdout": "".join(lines),
        "stderr": "".join(errors),
    }


def cli(files: list[Path], *, model: Path, one_cpu: bool) -> dict:
    """The CLI on the files; a file is done when its line is printed."""
    return run_measured(
        [sys.executable, "-m", "model", "classify", "--model", str(model), *map(str, files)], count=len, one_cpu=one_cpu
    )


def library(folder: Path, *, out: Path, model: Path, cpus: int, memory: bool = False) -> dict:
    """The library job on a folder; a file is done when its chunk is on disk (a part file)."""
    parts = out.with_name(out.name + ".parts")
    rows: dict[str, int] = {}

    def count(lines: list[str]) -> int:
        import pyarrow.parquet as pq

        for part in parts.glob("part-*.parquet") if parts.is_dir() else []:
            if part.name not in rows:
                try:
                    rows[part.name] = pq.read_metadata(part).num_rows
                except OSError:  # merged and removed at the end
                    pass
        return sum(rows.values())

    result = run_measured(
        [
            sys.executable,
            "-m",
            "library",
            "tag",
            str(folder),
            "--out",
            str(out),
            "--model",
            str(model),
            "--cpus",
            str(cpus),
        ],
        count=count,
        memory=memory,
    )
    if " 0 failed;" not in result["stdout"] or "0 already there" not in result["stdout"]:
        raise RuntimeError(f"the library job did not tag every file afresh: {result['stdout']}")
    return result


def rate_after_start(run: dict) -> float | None:
    """Files per second from the first result to the last (start-up left out); None if they came together."""
    if run["last_s"] <= run["first_s"]:
        return None
    return (run["files"] - run["first_files"]) / (run["last_s"] - run["first_s"])


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


def _figures(run: dict) -> dict:
    return {
        "start_s": run["first_s"],
        "all_s": run["seconds"],
        "files_per_s": rate_after_start(run),
    }


def measure(args, scratch: Path) -> dict:
    clips = full_clips(args.gtzan)
    files = [clips[index % len(clips)] for index in range(args.files)]
    many = link_library(clips, count=args.files, folder=scratch / "many")
    results: dict = {"files": args.files, "load_at_start": os.getloadavg()[0], "cpu_count": os.cpu_count()}
    for name, one_cpu in (("cli_1cpu", True), ("cli", False)):
        print(f"CLI{' on one CPU' if one_cpu else ''}: {args.files} files ...", file=sys.stderr, flush=True)
        results[name] = _figures(cli(files, model=args.model, one_cpu=one_cpu))
    for cpus in args.cpus:
        print(f"library --cpus {cpus}: {args.files} files ...", file=sys.stderr, flush=True)
        results[f"library_{cpus}cpu"] = _figures(
            library(many, out=scratch / f"many-{cpus}.parquet", model=args.model, cpus=cpus)
        )
    if args.memory_files:
        cpus = max(args.cpus)
        big = link_library(clips, count=args.memory_files, folder=scratch / "big")
        peaks = {}
        for name, folder in (("small", many), ("big", big)):
            count = args.files if name == "small" else args.memory_files
            print(f"library --cpus {cpus}: {count} files for memory ...", file=sys.stderr, flush=True)
            peaks[name] = library(folder, out=scratch / f"{name}.parquet", model=args.model, cpus=cpus, memory=True)
        results["memory"] = {
            "cpus": cpus,
            "files": args.memory_files,
            "seconds": peaks["big"]["seconds"],
            "peak_bytes": peaks["big"]["peak_bytes"],
            "small_peak_bytes": peaks["small"]["peak_bytes"],
        }
    results["load_at_end"] = os.getloadavg()[0]
    return results


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator and denominator else None


def print_table(results: dict) -> None:
    print(
        f"\nlibrary job vs CLI on {results['files']} 30-s GTZAN clips | {results['cpu_count']} CPUs, "
        f"load average {results['load_at_start']:.2f} at start, {results['load_at_end']:.2f} at the end"
    )
    print(f"{'command':26} {'start-up (to 1st result)':>25} {'all files':>10} {'files/s after start-up':>23}")
    labels = [("cli_1cpu", "CLI, pinned to one CPU"), ("cli", "CLI, all CPUs")]
    labels += [(key, f"library --cpus {key.split('_')[1][:-3]}") for key in results if key.startswith("library_")]
    for key, label in labels:
        row = results[key]
        rate = "-" if row["files_per_s"] is None else f"{row['files_per_s']:.1f}"
        print(f"{label:26} {row['start_s']:>24.1f}s {row['all_s']:>9.1f}s {rate:>23}")
    one, two = results.get("library_1cpu", {}), results.get("library_2cpu", {})
    lines = [
        (
            "library 2 CPUs / 1 CPU (files/s)",
            _ratio(two.get("files_per_s"), one.get("files_per_s")),
            TARGET_TWO_OVER_ONE_CPU,
            False,
        ),
        (
            "library 1 CPU / CLI on 1 CPU (files/s)",
            _ratio(one.get("files_per_s"), results["cli_1cpu"]["files_per_s"]),
            TARGET_ONE_CPU_OVER_CLI,
            False,
        ),
        (
            "library start-up / CLI start-up, 1 CPU",
            _ratio(one.get("start_s"), results["cli_1cpu"]["start_s"]),
            None,
            True,
        ),
    ]
    if "memory" in results:
        memory = results["memory"]
        print(
            f"peak memory (PSS), library --cpus {memory['cpus']}: {memory['small_peak_bytes'] / 2**20:.0f} MiB for "
            f"{results['files']} files, {memory['peak_bytes'] / 2**20:.0f} MiB for {memory['files']} files "
            f"({memory['seconds']:.0f} s)"
        )
        lines.append(
            (
                f"peak memory {memory['files']} / {results['files']} files",
                _ratio(memory["peak_bytes"], memory["small_peak_bytes"]),
                TARGET_MEMORY_RATIO,
                True,
            )
        )
    print(f"\n{'ratio':44} {'value':>7} {'target':>8}")
    for label, value, target, at_most in lines:
        if value is None:
            print(f"{label:44} {'-':>7}  not measured (results came all at once)")
            continue
        verdict = "" if target is None else "ok" if (value <= target if at_most else value >= target) else "MISSED"
        target_text = "" if target is None else f"{'<=' if at_most else '>='} {target:g}"
        print(f"{label:44} {value:>6.2f}x {target_text:>8} {verdict}")


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
