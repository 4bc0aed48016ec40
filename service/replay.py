"""Feeding a run's persisted records (from its transaction log) back through a session.

Used by ``tracker-service sync`` for offline runs and by a new sidecar that takes over the
runs of one that died: both rebuild the same state the live path would have built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from tracker.proto import frames
from tracker.proto.messages import Kind
from tracker.proto.payloads import SaveSpec
from tracker.service.session import RunSession

# What each persisted record does to a run, for the live path and for replay alike
# (INIT opens the run; FINISH closes it: both are the registry's and the sidecar's).
APPLY: dict[Kind, Callable[[RunSession, Any], Any]] = {
    Kind.LOG: lambda s, m: s.on_log(m.step, m.commit, m.ts, m.data),
    Kind.SUMMARY: lambda s, m: s.on_summary(m.set, m.remove),
    Kind.CONFIG: lambda s, m: s.on_config(m.data),
    Kind.DEFINE_METRIC: lambda s, m: s.on_define_metric(m.spec),
    Kind.PREEMPTING: lambda s, m: s.on_preempting(),
    Kind.RUN_UPDATE: lambda s, m: s.on_changes(m.changes),
    Kind.EDIT_RUN: lambda s, m: s.on_changes(m.changes),
    Kind.SAVE: lambda s, m: s.on_save(m.spec),
    # alerts.jsonl has the alert already; the live path (which also delivers) writes it
    Kind.ALERT: lambda s, m: s.on_alert(m.spec, write_file=False),
    Kind.ARTIFACT: lambda s, m: s.artifacts.on_record(m.spec),
}


def apply_records(
    sess: RunSession,
    messages: Iterable[Any],
    save_spec: Callable[[SaveSpec], SaveSpec] | None = None,
) -> tuple[bool, int | None, int]:
    """Apply every record after the INIT; return (saw FINISH, its exit code, last seq)."""
    last_seq = 0
    for msg in messages:
        kind = msg.KIND
        if kind == Kind.INIT:
            continue
        seq = getattr(msg, "seq", 0) or 0
        if seq and seq <= last_seq:
            continue  # a record sent twice around a sidecar restart
        last_seq = max(last_seq, seq)
        if kind == Kind.FINISH:
            return True, msg.exit_code, last_seq
        if kind == Kind.SAVE and save_spec is not None:
            sess.on_save(save_spec(msg.spec))
        elif kind in APPLY:
            APPLY[kind](sess, msg)
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
