"""All process-global state of the SDK, in one place, aware of its pid.

A forked child inherits this module's memory but must not reuse its parent's socket or
treat its parent's run as its own; every accessor checks the pid first.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from tracker.client.transport import Transport
    from tracker.training_run import Run

_lock = threading.RLock()
_pid = os.getpid()
_active: Run | None = None
_transports: dict[str, Transport] = {}


def _check_fork() -> None:
    global _pid, _active, _transports
    if os.getpid() != _pid:
        _pid = os.getpid()
        _active = None
        _transports = {}


def active_run() -> Run | None:
    _check_fork()
    return _active


def set_active_run(run: Run | None) -> None:
    global _active
    with _lock:
        _check_fork()
        _active = run


def transport_for(endpoint: str) -> Transport | None:
    _check_fork()
    return _transports.get(endpoint)


def remember_transport(endpoint: str, transport: Transport) -> None:
    with _lock:
        _check_fork()
        _transports[endpoint] = transport


def forget_transport(endpoint: str) -> None:
    with _lock:
        _check_fork()
        t = _transports.pop(endpoint, None)
    if t is not None:
        t.close()


def lock() -> threading.RLock:
    return _lock
