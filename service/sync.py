"""``tracker-service sync``: put offline runs (or any run directory) into a store.

The run's transaction log is replayed through the same :class:`RunSession` pipeline the
sidecar uses, so a synced run reads back exactly like an online one. Syncing is idempotent:
a marker beside the log records what was synced, and a run already in the store from the
same directory is replaced as a whole, never appended to.
"""

from __future__ import annotations

import glob
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tracker.proto import frames
from tracker.proto.messages import Kind
from tracker.proto.payloads import RunInfo, SaveSpec
from tracker.service.export import Exporter
from tracker.service.replay import apply_records
from tracker.service.session import RunSession
from tracker.service.storewriter import StoreWriter
from tracker.service.syncer import Copier
from tracker.service.txlog import replay
from tracker.store import Store, open_store

MARKER = ".synced"


@dataclass
class SyncResult:
    """The outcome of syncing one run directory."""

    run_dir: str
    path: str = ""
    status: str = "synced"  # synced | skipped | failed
    rows: int = 0
    state: str = ""
    dropped: int = 0
    damaged: list = field(default_factory=list)
    message: str = ""


def find_run_dirs(paths: list[str]) -> list[str]:
    """Run directories under ``paths`` (a run dir, a ``tracker/`` dir, or a ``.trk`` file)."""
    found: list[str] = []
    for path in paths:
        path = os.path.abspath(path)
        if os.path.isfile(path) and path.endswith(".trk"):
            found.append(os.path.dirname(path))
        elif glob.glob(os.path.join(path, "run-*.trk")):
            found.append(path)
        else:
            for trk in sorted(glob.glob(os.path.join(path, "*", "run-*.trk"))):
                if os.path.islink(os.path.dirname(trk)):
                    continue
                found.append(os.path.dirname(trk))
    return list(dict.fromkeys(os.path.realpath(p) for p in found))


def sync_run_dir(
    run_dir: str, store_uri: str, force: bool = False, s3_defaults: dict | None = None
) -> SyncResult:
    """Replay one run directory's transaction log into the store at ``store_uri``.

    ``s3_defaults``: S3 options the URI leaves out (see :func:`tracker.store.open_store`).
    """
    result = SyncResult(run_dir=run_dir)
    logs = sorted(glob.glob(os.path.join(run_dir, "run-*.trk")))
    if not logs:
        result.status, result.message = "failed", "no transaction log (run-<id>.trk) here"
        return result
    txlog = logs[0]
    size = os.path.getsize(txlog)
    store = open_store(store_uri, s3_defaults)
    marker_path = os.path.join(run_dir, MARKER)
    marker = _read_marker(marker_path)
    if not force and marker.get("size") == size and marker.get("store") == store.uri:
        result.status, result.path = "skipped", marker.get("path", "")
        result.message = "already synced"
        return result

    report = frames.ReadReport()
    messages = replay(txlog, report)
    first = next(messages, None)
    if first is None or first.KIND != Kind.INIT:
        result.status, result.message = (
            "failed",
            "the transaction log does not start with the run's init",
        )
        return result
    info = first.run_info
    info.mode, info.pid, info.dir = "online", None, run_dir
    result.path = info.path
    existing = store.catalogue.get_run(*info.ref)
    if existing is not None:
        if (
            os.path.realpath(existing.get("run_dir") or "") != os.path.realpath(run_dir)
            and not force
        ):
            result.status = "failed"
            result.message = f"run {result.path} already exists in the store from another directory"
            return result
        store.delete_run(*info.ref)
    sess = replay_into(store, info, messages)
    result.rows = sess.rows_committed
    result.state = sess.state
    result.dropped = report.dropped
    result.damaged = report.damaged
    with open(marker_path, "w") as fh:
        json.dump({"size": size, "store": store.uri, "path": result.path, "time": time.time()}, fh)
    store.close()
    return result


def replay_into(store: Store, info: RunInfo, messages: Iterator[Any]) -> RunSession:
    """Feed a run's records through a session with its own stages until it is closed."""
    exporter, copier, store_writer = Exporter(), Copier(), StoreWriter()
    workers = (exporter, copier, store_writer)
    try:
        sess = RunSession(
            info,
            0,
            store,
            exporter,
            previous=None,
            write_txlog=False,
            copier=copier,
            store_writer=store_writer,
        )

        # the run's files/ holds each file's final content since the run finished
        def from_run_dir(spec: SaveSpec) -> SaveSpec:
            files = [[name, os.path.join(info.dir, "files", name)] for name, _ in spec.files]
            return SaveSpec(policy="end", files=files)

        finished, code, _ = apply_records(sess, messages, from_run_dir)
        if finished:
            sess.begin_finish("finished" if not code else "failed", code)
        else:
            sess.begin_finish("preempted" if sess.preempting else "crashed", None)
        while not sess.poll_finish():
            store_writer.flush(time.monotonic())
            if not sum(worker.run_completed() for worker in workers):
                time.sleep(0.005)
        store_writer.drain(timeout=30.0)
    finally:
        for worker in workers:
            worker.stop()
    return sess


def _read_marker(path: str) -> dict:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def unsynced_offline_runs(roots: list[str]) -> list[str]:
    """Offline run directories under ``<root>/tracker/`` with no sync marker."""
    out = []
    for root in roots:
        for d in sorted(glob.glob(os.path.join(root, "tracker", "offline-run-*"))):
            if os.path.isdir(d) and not os.path.exists(os.path.join(d, MARKER)):
                out.append(d)
    return out
