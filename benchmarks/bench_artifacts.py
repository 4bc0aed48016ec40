"""Artifacts (§12): what a training loop pays for ``log_artifact``, and what the sidecar does.

Figures:
- ``log_artifact`` of one SIZE_MB file: time the call blocks the caller (snapshot + send),
  then the time until the version is committed and the hash + store rate (MB/s);
- the same file logged again unchanged: time to commit and new bytes in the store (0);
- 100 files, one changed: new bytes in the store (one file's);
- ``download()`` into a folder that already holds the version (stat + cache check only).

Usage: python benchmarks/bench_artifacts.py [--size-mb 1024]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import private_env  # noqa: E402


def blob_bytes(api) -> int:
    from tracker.store.artifacts import BLOB_PREFIX

    blobs = api.store.blobs
    return sum(blobs.size(k) or 0 for k in blobs.list(BLOB_PREFIX))


def write_random(path: str, size: int) -> None:
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for _ in range(size >> 20):
            fh.write(chunk)
            chunk = chunk[1:] + chunk[:1]  # not one repeated MiB: no dedup inside the file


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    base = private_env()
    import tracker

    size = args.size_mb << 20
    ckpt = os.path.join(base, "ckpt.bin")
    write_random(ckpt, size)
    out: dict = {"size_mb": args.size_mb}
    run = tracker.init(project="bench-artifacts")
    api = tracker.Api()

    art = tracker.Artifact("ckpt", type="model")  # built before the call, as a script does
    art.add_file(ckpt)
    t0 = time.perf_counter()
    run.log_artifact(art)
    t1 = time.perf_counter()
    art.wait()
    t2 = time.perf_counter()
    out["log_artifact_call_ms"] = round((t1 - t0) * 1000, 3)
    out["commit_s"] = round(t2 - t0, 3)
    out["hash_and_store_MB_per_s"] = round(args.size_mb / (t2 - t0), 1)
    stored = blob_bytes(api)

    t0 = time.perf_counter()
    again = run.log_artifact(ckpt, name="ckpt", type="model")
    call = time.perf_counter() - t0
    again.wait()
    out["relog_unchanged"] = {
        "call_ms": round(call * 1000, 3),
        "commit_s": round(time.perf_counter() - t0, 3),
        "version": again.version,
        "new_bytes": blob_bytes(api) - stored,
    }

    folder = os.path.join(base, "many")
    os.makedirs(folder)
    for i in range(100):
        with open(os.path.join(folder, f"f{i:03d}.bin"), "wb") as fh:
            fh.write(os.urandom(1 << 20))
    run.log_artifact(folder, name="many", type="dataset").wait()
    before = blob_bytes(api)
    with open(os.path.join(folder, "f042.bin"), "wb") as fh:
        fh.write(os.urandom(1 << 20))
    t0 = time.perf_counter()
    v1 = run.log_artifact(folder, name="many", type="dataset")
    call = time.perf_counter() - t0
    v1.wait()
    out["one_of_100_changed"] = {
        "call_ms": round(call * 1000, 3),
        "version": v1.version,
        "new_bytes": blob_bytes(api) - before,
    }
    run.finish(quiet=True)

    stored_art = api.artifact("bench-artifacts/ckpt:v0")
    dest = os.path.join(base, "dl")
    t0 = time.perf_counter()
    stored_art.download(dest)
    out["download_fresh_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    stored_art.download(dest)
    out["download_again_s"] = round(time.perf_counter() - t0, 4)
    t0 = time.perf_counter()
    stored_art.verify(dest)
    out["verify_s"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
