"""Edits made through the read API, and who applies them (§5 ``update()``, §13).

A run's catalogue row has one writer. While a sidecar holds the run, an edit is sent to it
(``EDIT_RUN``): the sidecar logs it in the run's transaction log, applies it to the run's
state and writes the row, so the edit is never overwritten by the sidecar's next write and
survives a takeover. A run no sidecar holds (finished, crashed, synced) is edited in the
store directly.
"""

from __future__ import annotations

from typing import Any

from tracker.proto.payloads import RunChanges

_EDIT_TIMEOUT = 10.0

# RunChanges field -> catalogue column
_COLUMNS = {
    "name": "name",
    "notes": "notes",
    "tags": "tags",
    "group": "group_name",
    "job_type": "job_type",
}


def run_changes(record: dict[str, Any], edited: dict[str, Any]) -> RunChanges:
    """What ``edited`` (the read-side run's attributes) changes in the catalogue ``record``.

    Config and summary carry only the keys whose values changed, so that a summary value
    the run keeps updating is not turned into a fixed override by an unrelated edit.
    """
    changes = RunChanges()
    for field, column in _COLUMNS.items():
        if edited[field] != record.get(column):
            setattr(changes, field, edited[field])
    for field in ("config", "summary"):
        before = record.get(field) or {}
        delta = {k: v for k, v in edited[field].items() if k not in before or before[k] != v}
        if delta:
            setattr(changes, field, delta)
    return changes


def send_to_sidecar(store_root: str, ref: tuple[str, str, str], changes: RunChanges) -> bool:
    """Have the sidecar holding run ``ref`` apply ``changes``; False when none holds it.

    Raises:
        CommError: the sidecar holds the run but did not answer in time.
    """
    from tracker.client import request
    from tracker.client.runtime import sidecar_alive, sidecar_paths
    from tracker.proto.messages import Kind
    from tracker.proto.payloads import RunRef

    paths = sidecar_paths(store_root, create=False)
    if not sidecar_alive(paths):
        return False
    body = request(paths, Kind.EDIT_RUN, RunRef(*ref), changes, timeout=_EDIT_TIMEOUT)
    return bool(body.get("applied"))
