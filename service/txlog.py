"""The run's transaction log ``run-<id>.trk``: every accepted record, appended first.

See :mod:`tracker.proto.frames` for the format. The writer keeps a buffer and is flushed by
the sidecar whenever its socket has nothing more to read, so a record is in the OS page
cache within milliseconds of arriving; :func:`replay` reads it back for ``sync`` and
recovery, skipping damaged frames and reporting them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from tracker.proto import frames
from tracker.proto.messages import Message, ProtoError, iter_batch, to_message


class TxLogWriter:
    """Appends framed payloads to one transaction log."""

    def __init__(self, path: str) -> None:
        self.path = path
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        self._fh = open(path, "ab", buffering=1 << 20)
        if new:
            self._fh.write(frames.HEADER)
        self.dirty = False
        self.bytes = 0

    def append(self, payload: bytes) -> None:
        self._fh.write(frames.frame(payload))
        self.bytes += len(payload) + 8
        self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            self._fh.flush()
            self.dirty = False

    def sync(self) -> None:
        self.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            self._fh.close()


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
