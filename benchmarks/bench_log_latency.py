"""(a) ``run.log`` latency for a dict of 10 floats, over 200,000 calls, in the training process.

Usage: python benchmarks/bench_log_latency.py [--calls N]
"""

import argparse
import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import percentiles, private_env  # noqa: E402


def measure(log, calls: int) -> dict:
    data = [{f"m{k}": float(i * 10 + k) for k in range(10)} for i in range(1000)]
    samples = [0] * calls
    clock = time.perf_counter_ns
    gc.collect()
    t_start = time.perf_counter()
    for i in range(calls):
        d = data[i % 1000]
        t0 = clock()
        log(d)
        samples[i] = clock() - t0
    elapsed = time.perf_counter() - t_start
    out = percentiles(samples)
    out["calls_per_s"] = calls / elapsed
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    private_env()
    import tracker

    run = tracker.init(project="bench")
    measure(run.log, 5_000)  # warm-up
    res = measure(run.log, args.calls)
    t0 = time.perf_counter()
    run.finish()
    fin = time.perf_counter() - t0
    print(
        f"tracker log(10 floats) x{args.calls}: p50 {res['p50']:.2f} us  p99 {res['p99']:.2f} us  "
        f"p99.9 {res['p99.9']:.2f} us  max {res['max']:.0f} us  {res['calls_per_s']:,.0f} calls/s"
        f"  (finish {fin:.2f} s)"
    )


if __name__ == "__main__":
    main()
