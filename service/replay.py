"""Feeding a run's persisted records (from its transaction log) back through a session.

Used by ``tracker-service sync`` for offline runs and by a new sidecar that takes over the
runs of one that died: both rebuild the same state the live path would have built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from tracker.proto import frames
from tracker.proto.messages import Message
from tracker.service.session import RunSession


def apply_records(
    sess: RunSession,
    messages: Iterable[Message],
    save_spec: Callable[[dict], dict] | None = None,
) -> tuple[bool, int | None, int]:
    """Apply every record after the INIT; return (saw FINISH, its exit code, last seq)."""
    last_seq = 0
    for msg in messages:
        kind, f = msg.kind.name, msg.fields
        if kind == "INIT":
            continue
        seq = f.get("seq") or 0
        if seq and seq <= last_seq:
            continue  # a record sent twice around a sidecar restart
        last_seq = max(last_seq, seq)
        if kind == "LOG":
            sess.on_log(f["step"], f["commit"], f["ts"], f["data"])
        elif kind == "FINISH":
            return True, f["exit_code"], last_seq
        elif kind == "SAVE":
            sess.files.add(save_spec(f["spec"]) if save_spec else f["spec"])
        elif kind == "ALERT":
            sess.on_alert(f["spec"], write_file=False)
        elif kind in ("SUMMARY", "CONFIG", "DEFINE_METRIC", "RUN_UPDATE", "PREEMPTING"):
            sess.apply(kind, f)
    return False, None, last_seq


def intact_length(path: str) -> int:
    """Bytes of the transaction log up to the end of its last intact frame."""
    report = frames.ReadReport()
    with open(path, "rb") as fh:
        for _ in frames.read_frames(fh, report):
            pass
    return report.end


def truncate_torn_tail(path: str) -> int:
    """Cut a torn tail off a transaction log (before appending to it); return bytes cut."""
    size = os.path.getsize(path)
    end = intact_length(path)
    if 0 < end < size:
        with open(path, "r+b") as fh:
            fh.truncate(end)
        return size - end
    return 0
