"""(e) The workload of (a) through tracker and through W&B offline, side by side in one run.

Needs the ``bench`` extra (``pip install -e '.[bench]'``); without wandb it says so and exits.

Usage: python benchmarks/bench_vs_wandb.py [--calls N]
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_log_latency import measure  # noqa: E402
from common import private_env  # noqa: E402


def line(name: str, r: dict) -> str:
    return (
        f"{name:8s} p50 {r['p50']:7.2f} us  p99 {r['p99']:7.2f} us  p99.9 {r['p99.9']:8.2f} us  "
        f"max {r['max']:8.0f} us  {r['calls_per_s']:>10,.0f} calls/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    try:
        import wandb
    except ImportError:
        print("wandb is not installed: pip install -e '.[bench]' to compare")
        return
    private_env()
    import tracker

    results = {}
    t0 = time.perf_counter()
    run = tracker.init(project="bench")
    init_tracker = time.perf_counter() - t0
    measure(run.log, 5_000)
    results["tracker"] = measure(run.log, args.calls)
    run.finish()

    os.environ["WANDB_SILENT"] = "true"
    wdir = tempfile.mkdtemp(prefix="wandb-bench-")
    t0 = time.perf_counter()
    wrun = wandb.init(project="bench", mode="offline", dir=wdir)
    init_wandb = time.perf_counter() - t0
    measure(wrun.log, 5_000)
    results["wandb"] = measure(wrun.log, args.calls)
    wrun.finish()

    print(
        f"log(10 floats) x{args.calls}, same process, same machine (wandb {wandb.__version__} offline):"
    )
    for name, r in results.items():
        print(line(name, r))
    t, w = results["tracker"], results["wandb"]
    print(
        f"tracker is {w['p50'] / t['p50']:.1f}x faster at p50, {w['p99'] / t['p99']:.1f}x at p99; "
        f"init {init_tracker * 1000:.0f} ms vs {init_wandb * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
