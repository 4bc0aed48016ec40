"""A shared store (§13): PostgreSQL + S3 (moto) on loopback, several simulated hosts.

Prints three figures:

1. throughput: H hosts x R ranks x N rows into one group, each host its own sidecar
   (``TRACKER_RUNTIME_DIR`` + ``TRACKER_HOST``); aggregate rows/s into the shared store and,
   with the same layout, into a local store; every row checked stored once.
2. visibility lag: a row logged on one host until ``Api(store=...)`` on another host (no
   sidecar there, so parts only) sees it through ``scan_history``: p50/p95/max.
3. faults: the S3 endpoint down for ``--outage`` seconds, then PostgreSQL restarted, during a
   run: rows lost and duplicated, and the time to catch up once the service is back.

PostgreSQL and moto are started the way the tests start them (``tests/shared_services.py``).

Usage: python benchmarks/bench_shared_store.py [--hosts 4] [--ranks 2] [--rows 100000]
       [--outage 30] [--lag-seconds 20] [--only throughput,lag,faults]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from common import percentiles, private_env, release_together  # noqa: E402
from shared_services import Postgres, S3Server  # noqa: E402

RANK = r"""
import sys, time, tracker
run = tracker.init(project=sys.argv[2], group="bench", job_type="train")
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[1])):
    run.log({"i": i, "loss": 1.0 / (i + 1)})
run.finish()
print("done", flush=True)
"""

TICKER = r"""
import sys, time, tracker
run = tracker.init(project="bench-lag")
print(run.id, flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    run.log({"t": time.time()})
    time.sleep(0.05)
run.finish()
"""


def host_env(base: str, host: str, store: str) -> dict:
    runtime = tempfile.mkdtemp(prefix=f"rt-{host}-", dir="/tmp")
    work = os.path.join(base, host)
    os.makedirs(work, exist_ok=True)
    return {
        **os.environ,
        "TRACKER_STORE": store,
        "TRACKER_RUNTIME_DIR": runtime,
        "TRACKER_HOST": host,
        "TRACKER_DIR": work,
    }


def throughput(store: str, hosts: int, ranks: int, rows: int, base: str, project: str) -> float:
    procs = []
    for h in range(hosts):
        env = host_env(base, f"{project}-host{h}", store)
        for _ in range(ranks):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", RANK, str(rows), project],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            )
    t0 = release_together(procs)
    for p in procs:
        assert p.wait() == 0
    elapsed = time.perf_counter() - t0
    import tracker

    runs = tracker.Api(store=store).runs(project, filters={"group": "bench"}, per_page=1000)
    assert len(runs) == hosts * ranks, len(runs)
    for r in runs:
        seen = [row["i"] for row in r.scan_history(keys=["i"], page_size=100_000)]
        assert seen == list(range(rows)), f"{r.id}: {len(seen)} rows"
    return hosts * ranks * rows / elapsed


def lag(store: str, seconds: float, base: str) -> dict:
    import tracker

    env = host_env(base, "lag-writer", store)
    proc = subprocess.Popen(
        [sys.executable, "-c", TICKER, str(seconds)], stdout=subprocess.PIPE, text=True, env=env
    )
    run_id = proc.stdout.readline().strip()
    api = tracker.Api(store=store)
    lags, next_step = [], 0
    while proc.poll() is None:
        try:
            run = api.run(f"{os.environ['TRACKER_ENTITY']}/bench-lag/{run_id}")
        except tracker.Error:
            time.sleep(0.1)
            continue
        now = time.time()
        for row in run.scan_history(keys=["t"], min_step=next_step):
            lags.append(int((now - row["t"]) * 1e9))
            next_step = row["_step"] + 1
        time.sleep(0.1)
    lags.sort()
    p95 = lags[min(len(lags) - 1, int(0.95 * len(lags)))] / 1e6
    return {k: v / 1e3 for k, v in percentiles(lags).items()} | {"rows": len(lags), "p95": p95}


def backlog(store: str) -> dict:
    out = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "tracker-service"),
            "status",
            "--store",
            store,
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    sidecars = json.loads(out.stdout)["sidecars"] if out.returncode == 0 else []
    return sidecars[0].get("backlog", {}) if sidecars else {}


def caught_up(b: dict) -> bool:
    return (
        not b.get("failing_since") and not b.get("export_errors") and not b.get("catalogue_writes")
    )


def faults(store: str, pg: Postgres, s3: S3Server, outage: float, base: str) -> dict:
    import tracker

    stop = os.path.join(base, "stop")
    code = (
        "import os, time, tracker\n"
        "run = tracker.init(project='bench-faults')\n"
        "i = 0\n"
        f"while not os.path.exists({stop!r}):\n"
        "    for _ in range(100):\n"
        "        run.log({'i': i}); i += 1\n"
        "    time.sleep(0.01)\n"
        "run.finish()\n"
        "print(i)\n"
    )
    env = {**os.environ, "TRACKER_STORE": store}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    time.sleep(5)
    s3.front.stop()
    time.sleep(outage)
    seen_s3 = backlog(store)
    s3.front.start()
    t0 = time.monotonic()
    while not caught_up(backlog(store)):
        time.sleep(0.2)
    s3_catch_up = time.monotonic() - t0
    pg.stop()
    time.sleep(5)
    seen_pg = backlog(store)
    pg.start()
    t0 = time.monotonic()
    while not caught_up(backlog(store)):
        time.sleep(0.2)
    pg_catch_up = time.monotonic() - t0
    open(stop, "w").close()
    rows = int(proc.communicate(timeout=300)[0].split()[-1])
    (run,) = tracker.Api(store=store).runs("bench-faults")
    seen = [row["i"] for row in run.scan_history(keys=["i"], page_size=100_000)]
    return {
        "rows": rows,
        "lost": rows - len(set(seen)),
        "duplicated": len(seen) - len(set(seen)),
        "backlog_during_s3_outage": seen_s3,
        "backlog_during_pg_restart": seen_pg,
        "s3_catch_up_s": round(s3_catch_up, 2),
        "pg_catch_up_s": round(pg_catch_up, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--outage", type=float, default=30.0)
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--only", default="throughput,lag,faults")
    args = parser.parse_args()
    base = private_env()
    os.environ.setdefault("TRACKER_ENTITY", "bench")
    local = os.environ["TRACKER_STORE"]
    pg, s3 = Postgres(), S3Server()
    try:
        os.environ.update(
            AWS_ENDPOINT_URL=s3.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )
        shared = f"{pg.url(pg.new_database())}?blobs=s3://{s3.new_bucket()}/tracker"
        os.environ["TRACKER_STORE"] = shared
        layout = f"{args.hosts} hosts x {args.ranks} ranks x {args.rows:,} rows, one group"
        if "throughput" in args.only:
            rate_shared = throughput(shared, args.hosts, args.ranks, args.rows, base, "tp-shared")
            rate_local = throughput(local, args.hosts, args.ranks, args.rows, base, "tp-local")
            print(
                f"throughput ({layout}): shared store {rate_shared:,.0f} rows/s, local store "
                f"{rate_local:,.0f} rows/s ({rate_shared / rate_local:.2f}x); every row stored once"
            )
        if "lag" in args.only:
            figures = lag(shared, args.lag_seconds, base)
            print(
                f"visibility lag, another host via scan_history ({figures['rows']} rows, one "
                f"every 50 ms): p50 {figures['p50']:.0f} ms, p95 {figures['p95']:.0f} ms, p99 {figures['p99']:.0f} ms, "
                f"max {figures['max']:.0f} ms"
            )
        if "faults" in args.only:
            print(f"faults (S3 down {args.outage:.0f} s, then PostgreSQL restarted):")
            print(json.dumps(faults(shared, pg, s3, args.outage, base), indent=1, default=str))
    finally:
        s3.close()
        pg.close()


if __name__ == "__main__":
    main()
