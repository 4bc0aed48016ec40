"""The sidecar process: ``python -m tracker.service --store S``.

Takes the store's lock (one sidecar per user, host and store), binds the socket, writes the
info file through which SDKs and the CLI find it, and serves until it is idle or stopped
(:mod:`tracker.service.sidecar` is the sidecar itself). SIGTERM stops it the way
``tracker-service stop`` does; SIGINT is ignored (a Ctrl+C meant for the training job).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import signal
import sys
from typing import Any

from tracker.client.runtime import SidecarPaths, sidecar_paths
from tracker.service.sidecar import Sidecar
from tracker.settings import Env

log = logging.getLogger("tracker.sidecar")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tracker.service``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tracker.service")
    parser.add_argument("--store", required=True)
    parser.add_argument("--idle-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    # Arrow's jemalloc pool, not its default mimalloc: it hands freed row groups back to the
    # system, so the sidecar's peak for 1M rows is ~20 MB lower (benchmarks/bench_throughput.py;
    # compaction alone peaks at +5 MB instead of +17 MB). Before pyarrow is first imported;
    # a user's own choice wins.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(process)d %(levelname)s %(message)s",
    )
    store_path = args.store[len("file://") :] if args.store.startswith("file://") else args.store
    paths = sidecar_paths(store_path)
    lock_fd = _take_lock(paths.lock)
    if lock_fd is None:
        log.info("another sidecar already serves %s", store_path)
        return 0
    sidecar = Sidecar(
        store_path,
        args.idle_timeout,
        paths.endpoint,
        paths.socket,
        file_watch=Env.file_watch(),
        stop_grace=Env.stop_grace(),
        s3_defaults=Env.s3_defaults(),
    )

    def _terminate(signum: int, frame: Any) -> None:
        sidecar.stop()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _write_info(paths, sidecar.started)
    log.info("sidecar %d serving %s at %s", os.getpid(), paths.store, paths.endpoint)
    try:
        sidecar.serve()
    finally:
        sidecar.close()
        try:
            os.unlink(paths.info)
        except OSError:
            pass
        log.info("sidecar %d exiting", os.getpid())
        if sys.exc_info()[0] is None:
            # still holding the lock; a sidecar that failed keeps its log for its spawner
            from tracker.client.runtime import remove_sidecar_folder

            remove_sidecar_folder(paths)
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)
    return 0


def _take_lock(path: str) -> int | None:
    """The store's sidecar lock, held by the returned descriptor; None if another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return fd


def _write_info(paths: SidecarPaths, started: float) -> None:
    """The info file through which SDKs and the CLI find this sidecar (written atomically)."""
    info = {
        "pid": os.getpid(),
        "store": paths.store,
        "endpoint": paths.endpoint,
        "started": started,
    }
    tmp = paths.info + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(info, fh)
    os.replace(tmp, paths.info)
