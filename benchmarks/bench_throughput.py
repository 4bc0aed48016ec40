"""(b) end-to-end throughput into parquet and (d) peak memory of both processes.

Logs N rows as fast as possible (one scalar per row, then ten), calls ``finish()``, then reads
every row back with plain pyarrow from the store's folder. Prints rows/s from the first
``log`` until ``finish()`` returned, how long ``finish()`` took after the last ``log``, the
parts exported while the run went on and the history files left after the compaction at
finish (with the compaction's seconds, from the run's sidecar log), the training process's
RSS growth and the sidecar's peak RSS (VmHWM). The transaction log is fsynced as in
production (group commit every ``--fsync-interval`` seconds, default 0.2).

Usage: python benchmarks/bench_throughput.py [--rows N] [--keys 1 10] [--fsync-interval S]
"""

import argparse
import os
import re
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import private_env, sidecar_pid  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def compaction(run_dir: str) -> tuple[int, float] | None:
    """(parts, seconds) of the history compaction, from the run's sidecar log; None if none."""
    with open(os.path.join(run_dir, "logs", "sidecar.log")) as fh:
        for line in fh:
            m = re.search(r"compacted (\d+) parts into \S+/history/\S+ in ([\d.]+) s", line)
            if m:
                return int(m.group(1)), float(m.group(2))
    return None


def history_files(store: str, path: list[str]) -> list[str]:
    folder = os.path.join(store, "runs", *path, "history")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if not f.startswith("."))


def one(rows: int, keys: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import tracker

    run = tracker.init(project="bench", reinit=True)
    pid = sidecar_pid()
    names = [f"m{k}" for k in range(keys)]
    payloads = [{n: float(i + j) for j, n in enumerate(names)} for i in range(1000)]
    base_rss = rss_mb()
    log = run.log
    t0 = time.perf_counter()
    for i in range(rows):
        log(payloads[i % 1000])
    t_last = time.perf_counter()
    fsyncs = sidecar_fsyncs()
    run.finish()
    t_done = time.perf_counter()
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base_rss
    api = tracker.Api()
    files = history_files(api.store_root, api.run(run.path).path)
    merged = compaction(run.sync_dir)
    if merged is None:
        merge = f"{len(files)} history file(s), not compacted"
    else:
        merge = f"{merged[0]} parts compacted into {len(files)} file(s) in {merged[1]:.2f} s"
    t_read = time.perf_counter()
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    import pyarrow.dataset as ds

    table = ds.dataset(files, schema=schema).to_table(columns=["_step"])
    read_s = time.perf_counter() - t_read
    steps = table.column("_step")
    assert table.num_rows == rows, (table.num_rows, rows)
    assert steps[0].as_py() == 0 and steps[rows - 1].as_py() == rows - 1
    print(
        f"{rows:,} rows x {keys} scalar(s): {rows / (t_done - t0):,.0f} rows/s end to end "
        f"(log loop {rows / (t_last - t0):,.0f} calls/s); finish() returned {t_done - t_last:.2f} s "
        f"after the last log; {merge}; all {rows:,} rows read back in {read_s:.2f} s; "
        f"training RSS +{max(growth, 0):.1f} MB; sidecar peak RSS {peak_mb(pid):.0f} MB; "
        f"transaction log fsynced every {os.environ['TRACKER_FSYNC_INTERVAL']} s "
        f"({fsyncs} fsyncs by the end of the log loop)"
    )


def sidecar_fsyncs() -> int:
    """How many fsyncs of transaction logs the store's sidecar has done."""
    from tracker.client.control import sidecar_statuses
    from tracker.settings import default_store

    return sum(s.get("fsyncs", 0) for s in sidecar_statuses(default_store()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, nargs="*", default=[1, 10])
    parser.add_argument(
        "--fsync-interval", default="0.2", help="settings.fsync_interval (0: every flush)"
    )
    args = parser.parse_args()
    private_env()
    os.environ["TRACKER_FSYNC_INTERVAL"] = args.fsync_interval
    for k in args.keys:
        one(args.rows, k)


if __name__ == "__main__":
    main()
