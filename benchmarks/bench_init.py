"""(c) ``import tracker``, cold ``init`` (no sidecar running: it is spawned) and warm ``init``.

Each figure is measured in a fresh interpreter, as a training script would see it.

Usage: python benchmarks/bench_init.py [--repeat N]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import private_env  # noqa: E402

CHILD = r"""
import json, time
t0 = time.perf_counter()
import tracker
t1 = time.perf_counter()
run = tracker.init(project="bench-init")
t2 = time.perf_counter()
run.log({"a": 1})
run.finish(quiet=True)
print(json.dumps({"import": t1 - t0, "init": t2 - t1}))
"""


def child() -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def stop_sidecar() -> None:
    from tracker.client.control import stop
    from tracker.client.runtime import sidecar_alive, sidecar_paths
    from tracker.settings import default_store

    paths = sidecar_paths(default_store())
    if sidecar_alive(paths):
        stop(paths)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    private_env()
    os.environ["TRACKER_IDLE_TIMEOUT"] = "60"
    cold, warm, imports = [], [], []
    for _ in range(args.repeat):
        stop_sidecar()
        c = child()
        cold.append(c["init"])
        imports.append(c["import"])
        w = child()
        warm.append(w["init"])
        imports.append(w["import"])
    stop_sidecar()

    def ms(xs: list[float]) -> str:
        return (
            f"median {statistics.median(xs) * 1000:.0f} ms "
            f"(min {min(xs) * 1000:.0f}, max {max(xs) * 1000:.0f})"
        )

    print(f"import tracker: {ms(imports)}")
    print(f"cold init (spawns the sidecar): {ms(cold)}")
    print(f"warm init (sidecar running): {ms(warm)}")


if __name__ == "__main__":
    main()
