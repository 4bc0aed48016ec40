"""The web UI's server-side figures (§11) and, with Chromium, the first chart on screen.

1. Run page of a 1M-row run with 20 keys: every chart's data (20 series, 1,000 buckets each)
   through the app's series endpoint: server time, in one request and key by key.
2. Runs table of a project with 10,000 runs: the first page, and a filtered page.
3. ``Run.history(samples=500)`` on the same 1M-row run (the read API, for comparison).
4. With /usr/bin/chromium: navigation to the run page until the first chart is drawn.
5. ``run.log`` p50 of a live run with and without a browser-like poller asking the UI
   for its charts every second.

The 1M-row history and the 10,000 runs are written through the store interface (a parquet
part as the exporter writes it; catalogue records in one batch), so that setting up takes
seconds; the live figure (5) uses a real run and a real ``tracker-service ui``.

Usage: python benchmarks/bench_ui.py [--rows N] [--keys K] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_log_latency import measure  # noqa: E402
from common import private_env  # noqa: E402


def fill_big_run(store, rows: int, keys: int) -> list[str]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tracker.store.keys import stream_prefix
    from tracker.store.parts import part_key

    steps = np.arange(rows)
    cols = {"_step": steps, "_runtime": steps * 0.001, "_timestamp": 1.7e9 + steps * 0.001}
    names = [f"train/m{k:02d}" for k in range(keys)]
    rng = np.random.default_rng(0)
    for name in names:
        cols[name] = rng.standard_normal(rows)
    prefix = stream_prefix("me", "big", "r1m", "history")
    # ~4 MiB row groups as the exporter and the compaction write them
    with store.blobs.writer(part_key(prefix, 0)) as out:
        pq.write_table(pa.table(cols), out, row_group_size=20_000)
    store.catalogue.put_run(
        {"entity": "me", "project": "big", "run_id": "r1m", "state": "finished",
         "history_keys": list(cols), "last_step": rows - 1, "created_at": time.time()}
    )  # fmt: skip
    return names


def fill_many_runs(store, n: int) -> None:
    now = time.time()
    store.catalogue.write_runs(
        [
            {"entity": "me", "project": "many", "run_id": f"r{i:05d}", "name": f"run-{i}",
             "state": "finished" if i % 3 else "failed", "created_at": now - i,
             "config": {"lr": 10 ** -(i % 5), "batch": 32 * (1 + i % 4), "opt": "adam"},
             "summary": {"loss": 1.0 / (1 + i), "acc": (i % 100) / 100}, "tags": ["bench"]}
            for i in range(n)
        ]
    )  # fmt: skip


class Figure:
    """Median wall time and CPU time of this process (the app runs in it) of a few calls: on a
    shared machine the CPU time says what the work costs when the wall time is inflated."""

    def __init__(self, fn, repeat: int = 5) -> None:
        fn()  # warm: the first read opens files and the catalogue
        walls, cpus = [], []
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        self.wall, self.cpu = statistics.median(walls), statistics.median(cpus)

    def __format__(self, spec: str) -> str:
        return f"{self.wall:.3f} s (cpu {self.cpu:.3f} s)"


timed = Figure


def server_figures(store_dir: str, names: list[str]) -> None:
    from starlette.testclient import TestClient
    from tracker.ui.app import create_app

    c = TestClient(create_app(store_dir))
    url = "/api/run/me/big/r1m/series"
    all_keys = timed(lambda: c.get(url, params={"key": names}).raise_for_status())
    one = timed(lambda: [c.get(url, params={"key": k}).raise_for_status() for k in names], 2)
    zoom = timed(lambda: c.get(url, params={"key": names[0], "lo": 500_000, "hi": 500_999}))
    print(f"run page data, {len(names)} keys x 1000 buckets: {all_keys} in one request; "
          f"{one} key by key; a zoomed range (1,000 rows, full resolution) {zoom}")  # fmt: skip
    first = timed(lambda: c.get("/api/runs/me/many").raise_for_status())
    flt = '{"config.lr": {"$gt": 0.005}, "state": "finished"}'
    filtered = timed(lambda: c.get("/api/runs/me/many", params={"filter": flt}).raise_for_status())
    ordered = timed(lambda: c.get("/api/runs/me/many", params={"order": "-summary.loss"}))
    print(f"runs table, 10,000 runs: first page {first}; filtered {filtered}; "
          f"ordered by a summary key {ordered}")  # fmt: skip


def api_figures(store_dir: str) -> None:
    import tracker

    api = tracker.Api(store=store_dir)
    run = api.run("me/big/r1m")
    hist = timed(lambda: run.history(samples=500, pandas=False), 2)
    runs = timed(lambda: list(api.runs("me/many")), 2)  # Runs is lazy: list reads them all
    print(f"read API: Run.history(samples=500) on 1M rows {hist}; "
          f"list(api.runs(...)) over 10,000 runs {runs}")  # fmt: skip


def start_ui(store_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker.service.cli", "ui", "--port", "0", "--store", store_dir],
        stderr=subprocess.PIPE,
        text=True,
    )
    while True:
        line = proc.stderr.readline()
        if "tracker UI: " in line:
            return proc, line.split("tracker UI: ")[1].split()[0]
        if not line:
            raise SystemExit("the UI did not start")


def browser_figure(base: str, ui_pid: int | None = None) -> None:
    """First chart on screen after navigation (best of 3), with the load average and the CPU
    time the UI's process spent until then (on a loaded machine the wall time is inflated)."""
    if not os.path.exists("/usr/bin/chromium"):
        print("first chart in Chromium: skipped (no /usr/bin/chromium)")
        return
    from playwright.sync_api import sync_playwright

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
        page = browser.new_page()
        page.goto(base + "/")  # warm the browser and the server once
        times = []
        for _ in range(3):
            c0 = _cpu(ui_pid)
            t0 = time.perf_counter()
            page.goto(f"{base}/me/big/runs/r1m")
            page.wait_for_selector("#charts .chart .u-over")
            first, c1 = time.perf_counter() - t0, _cpu(ui_pid)
            page.wait_for_function("() => Object.keys(window.trackerCharts).length >= 20")
            times.append((first, time.perf_counter() - t0, c1 - c0, _cpu(ui_pid) - c0))
        browser.close()
    first, every, cpu_first, cpu_every = min(times)
    print(f"Chromium, run page of 1M rows x 20 keys: first chart drawn {first:.2f} s after "
          f"navigation (UI process cpu {cpu_first:.2f} s), all 20 charts {every:.2f} s "
          f"(cpu {cpu_every:.2f} s); best of 3, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")  # fmt: skip


def _cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def log_with_poller(base: str | None, calls: int) -> dict:
    import tracker

    run = tracker.init(project="polled", settings={"system_sample_interval": 0})
    stop = threading.Event()

    def poll() -> None:
        detail = f"{base}/api/run/{run.entity}/polled/{run.id}"
        keys = {"key": [f"m{k}" for k in range(10)]}
        series = f"{detail}/series?" + urllib.parse.urlencode(keys, doseq=True)
        while not stop.wait(1.0):
            for url in (detail, series, f"{detail}/output?offset=0"):  # what the page asks
                urllib.request.urlopen(url, timeout=10).read()

    poller = threading.Thread(target=poll, daemon=True) if base else None
    if poller:
        poller.start()
    out = measure(run.log, calls)  # the 10-float dicts of bench_log_latency
    stop.set()
    t0 = time.perf_counter()
    run.finish()
    out["finish_s"] = time.perf_counter() - t0
    if poller:
        poller.join(timeout=60)  # it may be amid a round of requests: the UI is stopped next
    # every row committed and exported once finish returns: the sidecar's rows/s end to end
    out["rows_per_s"] = calls / (calls / out["calls_per_s"] + out["finish_s"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    private_env()
    from tracker.store import open_store

    store_dir = os.environ["TRACKER_STORE"]
    store = open_store(store_dir)
    t0 = time.perf_counter()
    names = fill_big_run(store, args.rows, args.keys)
    fill_many_runs(store, args.runs)
    print(f"set-up: {args.rows:,} rows x {args.keys} keys, {args.runs:,} runs "
          f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    server_figures(store_dir, names)
    api_figures(store_dir)
    proc, base = start_ui(store_dir)
    try:
        browser_figure(base, proc.pid)
        off = log_with_poller(None, args.calls)
        on = log_with_poller(base, args.calls)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    for label, r in (("UI off", off), ("UI polled 1/s", on)):
        print(f"log(10 floats) x{args.calls} with {label}: p50 {r['p50']:.2f} us  "
              f"p99 {r['p99']:.2f} us  {r['calls_per_s']:,.0f} calls/s  "
              f"finish {r['finish_s']:.2f} s; sidecar {r['rows_per_s']:,.0f} rows/s "
              "(first log to finish returned)")  # fmt: skip


if __name__ == "__main__":
    main()
