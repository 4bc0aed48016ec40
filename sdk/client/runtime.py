"""Where the sidecar for a (user, host, store) is found: socket, lock and info files.

Layout, in a per-user directory of mode 0700 (``TRACKER_RUNTIME_DIR``, else
``$XDG_RUNTIME_DIR/tracker``, else ``/tmp/tracker-<uid>``)::

    <runtime>/<store-hash>/sidecar.sock   ZeroMQ ipc endpoint (no TCP port)
    <runtime>/<store-hash>/sidecar.lock   flock held by the live sidecar
    <runtime>/<store-hash>/sidecar.json   pid, store, start time (written once bound)
    <runtime>/<store-hash>/sidecar.log    the sidecar's output (touched by each spawner)

A folder lives as long as its sidecar: the sidecar removes it as it exits
(:func:`remove_sidecar_folder`), and a folder left by one that died is removed by the next
spawn or listing (:func:`clean_stale_folders`). The lock file is the truth: a folder is only
removed by a process holding its lock, by renaming it away first, so that whoever comes next
starts in a new folder rather than in one being emptied; and only when it is not fresh (a
spawner touches ``sidecar.log`` before it starts a sidecar, which takes the lock later).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass

from tracker.settings import Env

# A folder whose lock nobody holds is removed once nothing in it changed for this long: a
# spawner touches the log just before it starts a sidecar, which takes the lock within
# about a second (the interpreter's start-up).
STALE_AFTER = 10.0
_FOLDER_NAME = re.compile(r"[0-9a-f]{16}")
_TOMBSTONE = ".removing-"


def runtime_root() -> str:
    """The per-user runtime directory, created with mode 0700."""
    base = Env.get(Env.RUNTIME_DIR)
    if not base:
        xdg = Env.get(Env.XDG_RUNTIME_DIR)
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


def sidecar_paths(store: str, create: bool = True) -> SidecarPaths:
    """Paths of the sidecar serving ``store`` for this user on this host.

    Args:
        store: the store folder, or a shared store's URI.
        create: make the folder (mode 0700) if it does not exist; only a sidecar and its
            spawner need it, someone merely looking for a sidecar passes False.
    """
    store = store if "://" in store else os.path.abspath(store)  # a folder, or a shared store
    key = f"{Env.get(Env.HOST) or socket.gethostname()}\0{store}".encode()
    folder = os.path.join(runtime_root(), hashlib.sha1(key).hexdigest()[:16])
    if create:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    return SidecarPaths(store=store, folder=folder)


def sidecar_alive(paths: SidecarPaths) -> bool:
    """True while some process holds the sidecar's lock."""
    try:
        # never create the lock here: a lock file nobody holds would keep a folder alive
        fd = os.open(paths.lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    """Take the flock of ``fd`` without waiting; False when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def read_info(paths: SidecarPaths) -> dict | None:
    """The live sidecar's info file, or None."""
    try:
        with open(paths.info) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def remove_sidecar_folder(paths: SidecarPaths) -> None:
    """Remove a sidecar's runtime folder; the sidecar calls it as it exits.

    The caller must hold the folder's lock (the exiting sidecar does, until after this):
    the folder is renamed away before it is emptied, so a sidecar starting meanwhile makes a
    new one instead of losing its files.
    """
    _bury(paths.folder)


def _bury(folder: str) -> None:
    """Rename ``folder`` to a tombstone beside it, then delete the tombstone."""
    parent, name = os.path.split(folder)
    tomb = os.path.join(parent, f"{_TOMBSTONE}{name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(folder, tomb)
    except OSError:
        return  # gone already
    shutil.rmtree(tomb, ignore_errors=True)


def clean_stale_folders(keep: str | None = None, min_age: float = STALE_AFTER) -> list[str]:
    """Remove the folders of sidecars that are gone, and tombstones left half-deleted.

    A folder is stale when no process holds its lock, no process listens on its socket
    and nothing in it changed for ``min_age`` seconds. The lock is taken (and held until
    the folder is gone) before the last two are checked, so a sidecar that starts
    meanwhile finds it held and leaves the work to its spawner's next try.

    Args:
        keep: a folder never to remove (the caller's own).
        min_age: seconds without change before a folder without a lock holder is stale.

    Returns:
        The folders removed.
    """
    root = runtime_root()
    removed = []
    now = time.time()
    for name in os.listdir(root):
        folder = os.path.join(root, name)
        if folder == keep:
            continue
        if name.startswith(_TOMBSTONE):
            if now - _newest_change(folder) >= min_age:
                shutil.rmtree(folder, ignore_errors=True)
            continue
        if _FOLDER_NAME.fullmatch(name) and _remove_if_stale(folder, min_age):
            removed.append(folder)
    return removed


def _remove_if_stale(folder: str, min_age: float) -> bool:
    if time.time() - _newest_change(folder) < min_age:
        return False  # cheap check first: most folders are in use
    paths = SidecarPaths(store="", folder=folder)
    try:
        fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        if not _try_lock(fd):
            return False
        # a spawner may have touched the log since the check above; it counts from now on
        changed = _newest_change(folder, skip=("sidecar.lock",))
        if time.time() - changed < min_age or _socket_in_use(paths.socket):
            return False
        _bury(folder)
        return True
    finally:
        os.close(fd)


def _newest_change(folder: str, skip: tuple[str, ...] = ()) -> float:
    """The latest modification time of ``folder`` and the files in it (0 if it is gone)."""
    try:
        newest = os.stat(folder).st_mtime if not skip else 0.0
        for entry in os.scandir(folder):
            if entry.name not in skip:
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    except OSError:
        return 0.0
    return newest


def _socket_in_use(path: str) -> bool:
    """True when a process accepts connections on the unix socket ``path``."""
    if not os.path.exists(path):
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def all_sidecars() -> list[SidecarPaths]:
    """Every sidecar folder of this user with an info file (live, or just gone).

    Stale folders (see :func:`clean_stale_folders`) are removed first.
    """
    clean_stale_folders()
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


def ui_info_path(store: str) -> str:
    """The file by which ``tracker-service ui`` says it serves ``store`` (``ui-<hash>.json``
    in the runtime directory: pid and base URL, written when it listens, removed at exit)."""
    key = f"{socket.gethostname()}\0{os.path.abspath(store)}".encode()
    return os.path.join(runtime_root(), f"ui-{hashlib.sha1(key).hexdigest()[:16]}.json")


def serving_ui(store: str) -> str | None:
    """The base URL of a live UI serving ``store`` on this host, or None."""
    try:
        with open(ui_info_path(store)) as fh:
            info = json.load(fh)
        os.kill(int(info["pid"]), 0)
        return str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
