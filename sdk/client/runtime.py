"""Where the sidecar for a (user, host, store) is found: socket, lock and info files.

Layout, in a per-user directory of mode 0700 (``TRACKER_RUNTIME_DIR``, else
``$XDG_RUNTIME_DIR/tracker``, else ``/tmp/tracker-<uid>``)::

    <runtime>/<store-hash>/sidecar.sock   ZeroMQ ipc endpoint (no TCP port)
    <runtime>/<store-hash>/sidecar.lock   flock held by the live sidecar
    <runtime>/<store-hash>/sidecar.json   pid, store, start time (written once bound)
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import socket
from dataclasses import dataclass

from tracker.settings import Env


def runtime_root() -> str:
    """The per-user runtime directory, created with mode 0700."""
    base = Env.get(Env.RUNTIME_DIR)
    if not base:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        base = (
            os.path.join(xdg, "tracker")
            if xdg and os.path.isdir(xdg)
            else f"/tmp/tracker-{os.getuid()}"
        )
    os.makedirs(base, mode=0o700, exist_ok=True)
    os.chmod(base, 0o700)
    return base


@dataclass(frozen=True)
class SidecarPaths:
    """The files through which one sidecar is found."""

    store: str
    folder: str

    @property
    def socket(self) -> str:
        return os.path.join(self.folder, "sidecar.sock")

    @property
    def endpoint(self) -> str:
        return "ipc://" + self.socket

    @property
    def lock(self) -> str:
        return os.path.join(self.folder, "sidecar.lock")

    @property
    def info(self) -> str:
        return os.path.join(self.folder, "sidecar.json")

    @property
    def log(self) -> str:
        return os.path.join(self.folder, "sidecar.log")


def sidecar_paths(store: str) -> SidecarPaths:
    """Paths of the sidecar serving ``store`` for this user on this host."""
    key = f"{socket.gethostname()}\0{os.path.abspath(store)}".encode()
    folder = os.path.join(runtime_root(), hashlib.sha1(key).hexdigest()[:16])
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return SidecarPaths(store=os.path.abspath(store), folder=folder)


def sidecar_alive(paths: SidecarPaths) -> bool:
    """True while some process holds the sidecar's lock."""
    try:
        fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return True
        raise
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def read_info(paths: SidecarPaths) -> dict | None:
    """The live sidecar's info file, or None."""
    try:
        with open(paths.info) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def all_sidecars() -> list[SidecarPaths]:
    """Every sidecar folder of this user (live or stale)."""
    root = runtime_root()
    found = []
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        info_path = os.path.join(folder, "sidecar.json")
        if os.path.isfile(info_path):
            try:
                with open(info_path) as fh:
                    store = json.load(fh).get("store", "")
            except (OSError, ValueError):
                continue
            found.append(SidecarPaths(store=store, folder=folder))
    return found
