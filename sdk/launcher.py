"""Find the sidecar for a store, or spawn it detached; return a connected transport.

The sidecar is ``python -m tracker.service`` in a new process session, so a Ctrl+C or a
scheduler's SIGTERM to the job reaches the training processes and not the sidecar, which
then finalizes the runs they leave behind (§6).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from tracker import state
from tracker.errors import CommError
from tracker.runtime import SidecarPaths, sidecar_alive, sidecar_paths
from tracker.transport import Transport


def spawn_sidecar(paths: SidecarPaths, idle_timeout: float) -> subprocess.Popen:
    """Start a detached sidecar for ``paths.store``; returns at once."""
    log = open(paths.log, "ab")
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tracker.service",
                "--store",
                paths.store,
                "--idle-timeout",
                repr(float(idle_timeout)),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        log.close()


class Connection:
    """A transport to the sidecar of one store, respawning the sidecar when it is gone."""

    def __init__(self, store: str, idle_timeout: float) -> None:
        self.paths = sidecar_paths(store)
        self.idle_timeout = idle_timeout
        self.proc: subprocess.Popen | None = None
        self.transport = self._connect()

    def _connect(self) -> Transport:
        if not sidecar_alive(self.paths):
            self.proc = spawn_sidecar(self.paths, self.idle_timeout)
        transport = state.transport_for(self.paths.endpoint)
        if transport is None:
            transport = Transport(self.paths.endpoint)
            state.remember_transport(self.paths.endpoint, transport)
        return transport

    def request(self, encode: Any, timeout: float) -> Any:
        """Send a request built by ``encode(request_id)`` and wait for the answer.

        While waiting, checks that a sidecar is alive; if it died (or exited idle just as the
        request was sent) a new one is spawned and the request sent again.

        Raises:
            CommError: no answer within ``timeout``; the message says why.
            Error: the sidecar refused the request.
        """
        deadline = time.monotonic() + timeout
        transport = self.transport
        while True:
            rid = transport.next_request_id()
            payload = encode(rid)
            try:
                return transport.deliver_wait(rid, payload, deadline, self._still_there)
            except _SidecarGone:
                state.forget_transport(self.paths.endpoint)
                self.transport = transport = self._connect()

    def _still_there(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            if self.proc.returncode != 0:
                raise CommError(
                    f"the tracker sidecar exited with code {self.proc.returncode} while "
                    f"starting; its output:\n{_tail(self.paths.log)}"
                )
            self.proc = None  # lost a spawn race to another process's sidecar: fine
        if sidecar_alive(self.paths):
            return True
        if self.proc is not None:
            return True  # still starting
        raise _SidecarGone()


class _SidecarGone(Exception):
    pass


def _tail(path: str, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            return fh.read().decode(errors="replace")
    except OSError:
        return "(no output)"
