"""Find the sidecar for a store, or spawn it detached; return a connected transport.

The sidecar is ``python -m tracker.service`` in a new process session, so a Ctrl+C or a
scheduler's SIGTERM to the job reaches the training processes and not the sidecar, which
then finalizes the runs they leave behind (§6).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

from tracker import state
from tracker.client.runtime import (
    SidecarPaths,
    clean_stale_folders,
    read_info,
    sidecar_alive,
    sidecar_paths,
)
from tracker.client.transport import Transport, request
from tracker.errors import CommError
from tracker.proto.messages import Kind
from tracker.settings import Env


def spawn_sidecar(paths: SidecarPaths, idle_timeout: float) -> subprocess.Popen:
    """Start a detached sidecar for ``paths.store``; returns at once.

    The folders of sidecars that are gone are removed first (never ``paths.folder``).
    """
    clean_stale_folders(keep=paths.folder)
    # the folder may have been removed by its last sidecar since we looked it up
    os.makedirs(paths.folder, mode=0o700, exist_ok=True)
    log = open(paths.log, "ab")
    # a fresh log marks the folder as in use until the new sidecar holds the lock
    os.utime(paths.log)
    try:
        proc = subprocess.Popen(
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
            # the child must find the same folder as we do, whatever the environment is now
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                Env.RUNTIME_DIR: os.path.dirname(paths.folder),
            },
        )
    finally:
        log.close()
    # reaped the moment it exits: a long-lived process that started sidecars for many stores
    # (a test session, a notebook) would otherwise keep one zombie per store
    threading.Thread(target=proc.wait, name="tracker-sidecar-reaper", daemon=True).start()
    return proc


class Connection:
    """The transport to the sidecar of one store; starts the sidecar, and a new one if it dies."""

    def __init__(self, store: str, idle_timeout: float, max_queue_bytes: int) -> None:
        self.paths = sidecar_paths(store)
        self.idle_timeout = idle_timeout
        self.proc: subprocess.Popen | None = None
        self.sidecar_pid: int | None = None
        self.seen_pids: set[int] = set()
        if not sidecar_alive(self.paths):
            self._spawn()
        transport = state.transport_for(self.paths.endpoint)
        if transport is None:
            transport = Transport(
                self.paths.endpoint,
                respawn=self._spawn,
                alive=self._alive,
                max_queue_bytes=max_queue_bytes,
            )
            state.remember_transport(self.paths.endpoint, transport)
        self.transport = transport

    def _spawn(self) -> None:
        if not sidecar_alive(self.paths):
            self.proc = spawn_sidecar(self.paths, self.idle_timeout)

    def _alive(self) -> bool:
        """Our sidecar holds the lock, or the one we spawned is still starting.

        A sidecar with another pid than the one our runs were registered with has taken
        over from a dead one (started by another process): that counts as not alive, so
        that the transport registers our runs with it.
        """
        if sidecar_alive(self.paths):
            info = read_info(self.paths)
            pid = info.get("pid") if info else None
            if self.sidecar_pid is None or pid is None or pid == self.sidecar_pid:
                self.note_sidecar(self.sidecar_pid or pid)
                return True
            self.note_sidecar(pid)
            return False
        return self.proc is not None and self.proc.poll() is None

    def request(
        self, kind: Kind, *fields: Any, timeout: float, token: int = 0, seq: int = 0
    ) -> Any:
        """:func:`tracker.client.request` on this connection's transport.

        A sidecar that dies meanwhile is replaced by the transport, which sends the request
        again; the wait goes on until ``timeout``. ``token`` and ``seq`` mark a persisted
        request (``FINISH``, ``DEFINE_METRIC``) as the run's record ``seq``.

        Raises:
            CommError: no answer within ``timeout``, or the sidecar failed to start.
            Error: the sidecar refused the request.
        """
        return request(
            self.transport,
            kind,
            *fields,
            timeout=timeout,
            check=self._check_start,
            token=token,
            seq=seq,
        )

    def note_sidecar(self, pid: int | None) -> None:
        """The sidecar that answered our runs' registration."""
        if pid:
            self.sidecar_pid = pid
            self.seen_pids.add(pid)

    def _check_start(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is None:
            return
        self.proc = None
        if proc.returncode != 0 and proc.pid not in self.seen_pids:
            raise CommError(
                f"the tracker sidecar exited with code {proc.returncode} while "
                f"starting; its output:\n{_tail(self.paths.log)}"
            )


def _tail(path: str, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            return fh.read().decode(errors="replace")
    except OSError:
        return "(no output)"
