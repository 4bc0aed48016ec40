"""Helpers shared by the benchmarks: a private store, percentiles, the sidecar's pid."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time


def private_env() -> str:
    """Point tracker at a fresh store, run root and runtime dir; return the temp folder.

    The folder is removed when the benchmark exits (runs of 1M rows leave gigabytes), unless
    ``TRACKER_BENCH_KEEP`` is set.
    """
    base = tempfile.mkdtemp(prefix="trkbench-", dir="/tmp")
    if not os.environ.get("TRACKER_BENCH_KEEP"):
        atexit.register(shutil.rmtree, base, ignore_errors=True)
    os.environ["TRACKER_STORE"] = os.path.join(base, "store")
    os.environ["TRACKER_DIR"] = os.path.join(base, "work")
    os.environ["TRACKER_RUNTIME_DIR"] = os.path.join(base, "rt")
    os.environ.setdefault("TRACKER_SILENT", "1")
    os.environ.setdefault("TRACKER_IDLE_TIMEOUT", "3")
    os.makedirs(os.environ["TRACKER_DIR"], exist_ok=True)
    return base


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    """p50/p99/p99.9/max in microseconds."""
    s = sorted(samples_ns)
    n = len(s)

    def p(q: float) -> float:
        return s[min(n - 1, int(q * n))] / 1000.0

    return {"p50": p(0.50), "p99": p(0.99), "p99.9": p(0.999), "max": s[-1] / 1000.0}


def sidecar_pid() -> int | None:
    from tracker.client.runtime import sidecar_paths
    from tracker.settings import default_store

    try:
        with open(sidecar_paths(default_store()).info) as fh:
            return json.load(fh)["pid"]
    except (OSError, ValueError, KeyError):
        return None


def release_together(procs: list[subprocess.Popen]) -> float:
    """Wait until every child printed ``ready``, then tell all to go; the start time."""
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    return t0
