"""Media (§10): what one ``log`` of a media value costs the caller, whether the sidecar keeps
up with 100 images/s beside scalars, and what ``watch`` adds to a training step.

Usage: python benchmarks/bench_media.py [--calls N] [--seconds S] [--watch-steps N] [--device cpu|cuda]
"""

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import percentiles, private_env  # noqa: E402


def caller_cost(run, make, calls: int, pace: float = 0.0) -> dict:
    """p50/p99 of ``run.log({"m": make()})``, construction of the media object included.

    ``pace`` seconds between calls: a training step's worth of time, in which the sidecar
    takes the record (without it, a burst of 100 MB fills the unacknowledged window and the
    transport spills to disk, which the burst figures show).
    """
    samples, cpu = [], []
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    gc.collect()
    for _ in range(calls):
        t0, c0 = clock(), cpu_clock()
        run.log({"m": make()})
        cpu.append(cpu_clock() - c0)
        samples.append(clock() - t0)
        if pace:
            time.sleep(pace)
    return {**percentiles(samples), "cpu_p50": statistics.median(cpu) / 1000.0}


def keep_up(run, img, seconds: float, rate: float = 0.0) -> str:
    """Images at 100/s and scalars as fast as the loop goes (or ``rate`` rows/s); then how
    long finish waits.

    ``img`` None: the same loop with scalars only, the baseline of that wait (on 2 cores the
    loop alone outruns the sidecar's ingest, so finish always waits for some rows).
    """
    import tracker

    start = time.perf_counter()
    images = scalars = 0
    while (now := time.perf_counter()) - start < seconds:
        if img is not None and images < (now - start) * 100:
            run.log({"img": tracker.Image(img), "x": float(scalars)})
            images += 1
        elif rate and scalars > (now - start) * rate:
            continue
        else:
            run.log({"x": float(scalars)})
        scalars += 1
    elapsed = time.perf_counter() - start
    t0 = time.perf_counter()
    run.finish()
    fin = time.perf_counter() - t0
    return (
        f"{images / elapsed:.0f} images/s with {scalars / elapsed:,.0f} rows/s for {elapsed:.0f} s; "
        f"finish then waited {fin:.2f} s "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )


def watch_overhead(steps: int, device: str) -> str:
    import torch
    import tracker

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(1024, 2048), torch.nn.ReLU(),
        torch.nn.Linear(2048, 2048), torch.nn.ReLU(),
        torch.nn.Linear(2048, 1024), torch.nn.ReLU(),
        torch.nn.Linear(1024, 1024),
    ).to(device)  # fmt: skip
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    x = torch.randn(64, 1024, device=device)

    def train(run, n):
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if device == "cuda":
                torch.cuda.synchronize()
            run.log({"loss": loss.item()})
            times.append(time.perf_counter() - t0)
        return times

    run = tracker.init(project="bench-watch")
    train(run, 20)
    # blocks of log_freq steps, plain and watched in turn, so that the load of a shared
    # machine drifts over both alike; each watched block has exactly one logging step
    plain, watched = [], []
    for _ in range(max(1, steps // 200)):
        plain.append(sum(train(run, 100)) / 100)
        run.watch(model, log="all", log_freq=100)
        watched.append(sum(train(run, 100)) / 100)
        run.unwatch(model)
    plain.sort()
    watched.sort()
    p, w = plain[len(plain) // 2], watched[len(watched) // 2]
    # what one logging step adds: histograms of every parameter and every gradient
    t0 = time.perf_counter()
    for p_ in model.parameters():
        tracker.Histogram(p_.detach())
        tracker.Histogram(p_.detach())  # the gradients' are as large
    if device == "cuda":
        torch.cuda.synchronize()
    hist = time.perf_counter() - t0
    run.finish()
    return (
        f"watch(log='all', log_freq=100) on {params / 1e6:.1f}M parameters ({device}), median of "
        f"{len(plain)} blocks of 100 steps: step {p * 1000:.1f} ms -> {w * 1000:.1f} ms "
        f"({(w / p - 1) * 100:+.1f}%); the histograms of one logging step take "
        f"{hist * 1000:.1f} ms = {hist / (100 * p) * 100:.2f}% of 100 plain steps"
    )


PHASES = ("caller", "keepup-none", "keepup-gradient", "keepup-noise", "watch")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--watch-steps", type=int, default=1000)  # 5 blocks: a median
    parser.add_argument("--rate", type=float, default=0.0, help="scalar rows/s (0: flat out)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--phase", choices=PHASES, help="one phase (default: each in its own process)"
    )
    args = parser.parse_args()
    if args.phase is None:
        # each phase in a fresh process with its own store and sidecar: one phase's backlog
        # never weighs on the next one's figures
        for phase in PHASES:
            if phase == "watch" and not args.watch_steps:
                continue
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--phase", phase], check=False)
        return
    private_env()
    import numpy as np
    import tracker

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    if args.phase == "caller":
        caller_phase(tracker, rng, img, args.calls)
    elif args.phase == "keepup-gradient":
        yy, xx = np.mgrid[0:256, 0:256]
        smooth = np.stack([xx, yy, (xx + yy) // 2], axis=2)
        smooth = (smooth + rng.integers(0, 8, smooth.shape)).clip(0, 255).astype(np.uint8)
        run = tracker.init(project="bench-keepup")
        print("gradient + light noise: " + keep_up(run, smooth, args.seconds, args.rate))
    elif args.phase == "keepup-none":
        run = tracker.init(project="bench-keepup")
        print("no images (baseline): " + keep_up(run, None, args.seconds, args.rate))
    elif args.phase == "keepup-noise":
        run = tracker.init(project="bench-keepup")
        print("uniform noise (worst case for PNG): " + keep_up(run, img, args.seconds, args.rate))
    else:
        print(watch_overhead(args.watch_steps, args.device))


def caller_phase(tracker, rng, img, calls: int) -> None:
    floats = rng.normal(size=100_000)
    rows = [[i, float(i) * 0.5] for i in range(10_000)]
    run = tracker.init(project="bench-media")
    cases = {
        "Image 256x256x3 uint8": lambda: tracker.Image(img),
        "Histogram of 100,000 floats": lambda: tracker.Histogram(floats),
        "Table of 10,000 rows x 2 columns": lambda: tracker.Table(columns=["a", "b"], data=rows),
    }
    for name, make in cases.items():
        caller_cost(run, make, 10)  # warm-up: first imports
        paced = caller_cost(run, make, calls, pace=0.01)
        burst = caller_cost(run, make, calls)
        print(
            f"log({name}): p50 {paced['p50'] / 1000:.3f} ms  p99 {paced['p99'] / 1000:.3f} ms "
            f"(10 ms apart; caller thread CPU p50 {paced['cpu_p50'] / 1000:.3f} ms); "
            f"back to back: p50 {burst['p50'] / 1000:.3f} ms  p99 {burst['p99'] / 1000:.3f} ms "
            f"(CPU p50 {burst['cpu_p50'] / 1000:.3f} ms); load average {os.getloadavg()[0]:.1f}"
        )
    t0 = time.perf_counter()
    run.finish()
    print(f"  (finish after them: {time.perf_counter() - t0:.2f} s)")


if __name__ == "__main__":
    main()
