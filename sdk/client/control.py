"""Talking to running sidecars from outside a run: status, start, stop (used by the CLI)."""

from __future__ import annotations

import time
from typing import Any

from tracker.errors import Error
from tracker.proto.messages import Kind, encode
from tracker.client.runtime import SidecarPaths, all_sidecars, sidecar_alive, sidecar_paths


def request(paths: SidecarPaths, kind: Kind, timeout: float = 5.0) -> Any:
    """Send a request that takes only a request id to a sidecar; return its answer."""
    from tracker.client.transport import Transport

    transport = Transport(paths.endpoint)
    try:
        rid = transport.next_request_id()
        return transport.deliver(rid, encode(kind, rid), timeout)
    finally:
        transport.close()


def running_sidecars() -> list[SidecarPaths]:
    return [p for p in all_sidecars() if sidecar_alive(p)]


def sidecar_statuses() -> list[dict[str, Any]]:
    """The status of every live sidecar of this user (unreachable ones say so)."""
    out = []
    for paths in running_sidecars():
        try:
            out.append(request(paths, Kind.SIDECAR_STATUS))
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
    request(paths, Kind.SHUTDOWN)
    deadline = time.monotonic() + timeout
    while sidecar_alive(paths):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
