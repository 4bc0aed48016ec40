"""The run's transaction log ``run-<id>.trk``: every accepted record, appended first.

See :mod:`tracker.proto.frames` for the format. The writer keeps a buffer and is flushed by
the sidecar after every burst it reads (a record is acknowledged only once it is in the OS
page cache); the :class:`LogSyncer` thread fsyncs every log that has unsynced bytes at least
every ``fsync_interval`` seconds (group commit: one fsync covers every record flushed since
the last), so a power loss costs at most that window. :func:`replay` reads a log back for
``sync`` and recovery, skipping damaged frames and reporting them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

from tracker.proto import frames
from tracker.proto.messages import Message, ProtoError, iter_batch, to_message
from tracker.service.worker import StageErrors


class TxLogWriter:
    """Appends framed payloads to one transaction log.

    ``append`` and ``flush`` run on the ingest thread; ``sync`` may run on the log syncer's
    thread at the same time (fsync of a file another thread writes is safe; the lock only
    keeps ``close`` from pulling the descriptor away under an fsync).
    """

    def __init__(self, path: str, fsync_interval: float = 0.2) -> None:
        self.path = path
        self.fsync_interval = fsync_interval
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        self._fh = open(path, "ab", buffering=1 << 20)
        if new:
            self._fh.write(frames.HEADER)
        self._lock = threading.Lock()
        self.dirty = False
        self.bytes = 0
        self.seq = 0  # highest sequence number appended
        self.flushed_bytes = 0  # handed to the OS
        self.flushed_seq = 0
        self.synced_bytes = 0  # on disk (fsynced)
        self.synced_seq = 0
        self.synced_at: float | None = None
        self.last_sync = time.monotonic()

    def append(self, payload: bytes, seq: int = 0) -> None:
        self._fh.write(frames.frame(payload))
        self.bytes += len(payload) + 8
        if seq > self.seq:
            self.seq = seq
        self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            self._fh.flush()
            self.dirty = False
            self.flushed_bytes, self.flushed_seq = self.bytes, self.seq

    @property
    def unsynced(self) -> bool:
        return self.flushed_bytes > self.synced_bytes

    def sync(self) -> None:
        """fsync what has been flushed (any thread)."""
        with self._lock:
            if self._fh.closed:
                return
            upto, seq = self.flushed_bytes, self.flushed_seq
            os.fsync(self._fh.fileno())
        self.synced_bytes, self.synced_seq = upto, seq
        self.synced_at = time.time()
        self.last_sync = time.monotonic()

    def close(self) -> None:
        """Flush, fsync and close (a finished run's log is complete on disk)."""
        if self._fh.closed:
            return
        self.flush()
        try:
            self.sync()
        finally:
            with self._lock:
                self._fh.close()

    def status(self) -> dict[str, object]:
        return {
            "log_bytes": self.bytes,
            "log_synced_bytes": self.synced_bytes,
            "log_synced_seq": self.synced_seq,
            "log_synced_at": self.synced_at,
        }


class LogSyncer:
    """The thread that fsyncs transaction logs: each at least every ``fsync_interval``."""

    TICK = 0.01

    def __init__(self) -> None:
        self.errors = StageErrors("log syncer")
        self.fsyncs = 0
        self._logs: dict[int, TxLogWriter] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, writer: TxLogWriter) -> None:
        with self._lock:
            self._logs[id(writer)] = writer
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="log-syncer", daemon=True)
            self._thread.start()

    def remove(self, writer: TxLogWriter) -> None:
        with self._lock:
            self._logs.pop(id(writer), None)

    def _loop(self) -> None:
        while not self._stop.wait(self.TICK):
            self.sync_due(time.monotonic())

    def sync_due(self, now: float) -> None:
        with self._lock:
            logs = list(self._logs.values())
        for writer in logs:
            if writer.unsynced and now - writer.last_sync >= writer.fsync_interval:
                try:
                    writer.sync()
                    self.fsyncs += 1
                except (OSError, ValueError) as exc:
                    self.errors.record(f"fsync of {writer.path}", exc)

    def stop(self) -> None:
        """Sync every log one last time and end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.sync_due(float("inf"))


def replay(path: str, report: frames.ReadReport | None = None) -> Iterator[Message]:
    """Every intact message of a transaction log, in order.

    Damaged frames, and messages that do not decode, are skipped and counted in ``report``.
    """
    report = report if report is not None else frames.ReadReport()
    with open(path, "rb") as fh:
        for payload in frames.read_frames(fh, report):
            try:
                for obj, _, _ in iter_batch(payload):
                    yield to_message(obj)
            except ProtoError as exc:
                report.dropped += 1
                report.damaged.append((-1, f"undecodable record: {exc}"))
