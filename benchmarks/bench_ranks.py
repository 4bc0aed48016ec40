"""Eight training processes (one group) logging as fast as they can through one sidecar.

Prints the sidecar's aggregate throughput: total rows / time from the first start until the
last ``finish()`` returned, every row checked in the store.

Usage: python benchmarks/bench_ranks.py [--ranks 8] [--rows 100000]
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import private_env, release_together  # noqa: E402

CHILD = r"""
import sys, time, tracker
run = tracker.init(project="bench-ranks", group="bench", job_type="train")
print("ready", flush=True)
sys.stdin.readline()
t0 = time.perf_counter()
for i in range(int(sys.argv[1])):
    run.log({"i": i, "loss": 1.0 / (i + 1)})
run.finish()
print(time.perf_counter() - t0, flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ranks", type=int, default=8)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    private_env()
    import tracker

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(args.rows)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(args.ranks)
    ]
    t0 = release_together(procs)
    for p in procs:
        p.wait()
    elapsed = time.perf_counter() - t0
    runs = tracker.Api().runs("bench-ranks", filters={"group": "bench"})
    total = sum(r.lastHistoryStep + 1 for r in runs)
    assert total == args.ranks * args.rows, total
    print(
        f"{args.ranks} ranks x {args.rows:,} rows (2 scalars): {total / elapsed:,.0f} rows/s through one "
        f"sidecar, all {total:,} rows in the store, {elapsed:.1f} s until the last finish() returned"
    )


if __name__ == "__main__":
    main()
