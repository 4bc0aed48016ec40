"""Talking to running sidecars from outside a run: status, start, stop (used by the CLI)."""

from __future__ import annotations

import time
from typing import Any

from tracker.client.runtime import SidecarPaths, all_sidecars, sidecar_alive, sidecar_paths
from tracker.client.transport import request
from tracker.errors import Error
from tracker.proto.messages import Kind


def running_sidecars(store: str | None = None) -> list[SidecarPaths]:
    """The live sidecars of this user: all of them, or the one serving ``store``.

    Args:
        store: a store folder (absolute), or None for every store.
    """
    if store is not None:
        paths = sidecar_paths(store, create=False)
        return [paths] if sidecar_alive(paths) else []
    return [p for p in all_sidecars() if sidecar_alive(p)]


def sidecar_statuses(store: str | None = None) -> list[dict[str, Any]]:
    """The status of the live sidecar of ``store``, or of every live sidecar of this user
    when ``store`` is None (unreachable ones say so)."""
    out = []
    for paths in running_sidecars(store):
        try:
            out.append(request(paths, Kind.SIDECAR_STATUS, timeout=5.0))
        except Error as exc:
            out.append({"store": paths.store, "error": str(exc), "runs": []})
    return out


def start(store: str, idle_timeout: float, timeout: float = 30.0) -> dict[str, Any]:
    """Start the sidecar for ``store`` (if not running) and wait until it answers."""
    from tracker.client.launcher import spawn_sidecar

    paths = sidecar_paths(store)
    if not sidecar_alive(paths):
        spawn_sidecar(paths, idle_timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return request(paths, Kind.PING, timeout=2.0)
        except Error:
            if time.monotonic() > deadline:
                raise Error(f"the sidecar for {store} did not start; see {paths.log}") from None


def stop(paths: SidecarPaths, timeout: float = 60.0) -> bool:
    """Ask a sidecar to finalize its runs and exit; wait until it has."""
    request(paths, Kind.SHUTDOWN, timeout=5.0)
    deadline = time.monotonic() + timeout
    while sidecar_alive(paths):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
