"""The whole job on Ray: every file once with the CLI's genre, no work the second time, resuming after
SIGINT and SIGKILL, and a two-node cluster that loses a node midway."""

from __future__ import annotations

import html
import signal
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the library job needs Ray Data: pip install -r requirements-library.txt")

from library.store import read_batches
from tests.library.conftest import (
    descendants,
    end_processes,
    run_library,
    started_library,
    wait_for_parts,
)

pytestmark = pytest.mark.slow


def read_output(out: Path) -> list[dict]:
    return [row for table in read_batches(out) for row in table.to_pylist()]


def rows_in(parts: Path) -> int:
    return sum(table.num_rows for part in parts.glob("part-*.parquet") for table in read_batches(part))


def check_every_file_once_as_the_cli_says(rows: list[dict], reference: dict[str, dict]) -> None:
    """One row per file, the CLI's genre and probabilities for music, the CLI's reason for the rest."""
    expected = {str(Path(path).resolve()): result for path, result in reference.items()}
    paths = [row["path"] for row in rows]
    assert len(paths) == len(set(paths)) and set(paths) == set(expected)
    for row in rows:
        result = expected[row["path"]]
        if "reason" in result:
            assert row["status"] == result["reason"] and row["genre"] is None, row
        else:
            assert (row["status"], row["genre"]) == ("ok", result["genre"]), row
            probabilities = [row["p_" + genre] for genre in result["probabilities"]]
            assert np.allclose(probabilities, list(result["probabilities"].values()), atol=1e-4)


def test_every_file_once_with_the_cli_s_genre_then_a_second_run_does_no_work(tmp_path, library, reference):
    root, files = library
    out, report = tmp_path / "tags.parquet", tmp_path / "report.html"
    first = run_library(str(root), "--out", str(out), "--report", str(report))
    assert first.returncode == 0, first.stderr[-3000:]
    rows = read_output(out)
    check_every_file_once_as_the_cli_says(rows, reference)
    failed = [row for row in rows if row["status"] != "ok"]
    assert len(failed) == 3 and f"{len(files)} files, {len(files) - 3} ok, 3 failed" in first.stdout
    assert f"{len(files)} tagged now" in first.stdout and "files/s" in first.stderr and "left" in first.stderr
    page = report.read_text()
    assert "<svg" in page and all(html.escape(row["path"]) in page for row in failed)
    assert not out.with_name("tags.parquet.parts").exists()

    written = out.stat().st_mtime_ns
    second = run_library(str(root), "--out", str(out))
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{len(files)} already in tags.parquet, 0 to tag" in second.stderr
    assert f"0 tagged now, {len(files)} already there" in second.stdout
    assert out.stat().st_mtime_ns == written


@pytest.mark.parametrize(
    "signal_number, suffix", [(signal.SIGINT, ".csv"), (signal.SIGKILL, ".jsonl")], ids=["SIGINT", "SIGKILL"]
)
def test_a_run_killed_midway_then_restarted_ends_with_every_file_once(
    tmp_path, library, reference, signal_number, suffix
):
    root, files = library
    out = tmp_path / f"tags{suffix}"
    parts = out.with_name(out.name + ".parts")
    arguments = (str(root), "--out", str(out), "--cpus", "1", "--batch-files", "2")
    with started_library(*arguments) as job:
        wait_for_parts(parts, count=1, process=job)
        ray_processes = descendants(job.pid)
        job.send_signal(signal_number)
        _, stderr = job.communicate(timeout=120)
    if signal_number == signal.SIGINT:
        assert job.returncode == 1 and "run the same command again to continue" in stderr
    else:
        time.sleep(3)  # Ray's own processes notice the driver is gone
        end_processes(ray_processes)
    kept = rows_in(parts)
    assert 2 <= kept < len(files) and not out.exists()  # stopped midway, finished chunks on disk

    again = run_library(*arguments)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{len(files) - kept} tagged now, {kept} already there" in again.stdout
    check_every_file_once_as_the_cli_says(read_output(out), reference)


def test_a_cluster_that_loses_a_worker_node_midway_tags_every_file_once(tmp_path, library, reference):
    from ray.cluster_utils import Cluster

    root, files = library
    out = tmp_path / "tags.parquet"
    parts = out.with_name(out.name + ".parts")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        worker = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)  # to see the cluster's free CPUs
        with started_library(str(root), "--out", str(out), "--address", cluster.address, "--batch-files", "2") as job:
            wait_for_parts(parts, count=1, process=job)
            deadline = time.monotonic() + 120
            while ray.available_resources().get("CPU", 0) > 0:  # until a worker runs on each node
                assert time.monotonic() < deadline and job.poll() is None, "the job never used both nodes"
                time.sleep(0.2)
            assert rows_in(parts) < len(files)
            cluster.remove_node(worker)
            stdout, stderr = job.communicate(timeout=600)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert job.returncode == 0, stderr[-3000:]
    assert f"{len(files)} tagged now" in stdout
    check_every_file_once_as_the_cli_says(read_output(out), reference)
