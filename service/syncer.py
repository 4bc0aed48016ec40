"""Saved files (§4.5): copied to the store by policy, by one copier thread per sidecar.

``now`` files are copied as soon as the request arrives; ``live`` files whenever their size or
mtime changed and ``live_interval`` has passed since their last copy (polled by the ingest
loop's housekeeping, a ``stat`` per file), and once more at finish; ``end`` files at finish.
Each copy goes to a blob key (``runs/<entity>/<project>/<run_id>/files/<name>``) through
:meth:`~tracker.store.base.BlobStore.put_file`: chunked (1 MiB) with its MD5 computed on the
way and appearing atomically, so a 1 GB file never sits in memory and never blocks ingest. A
file that is gone or unreadable when its copy is due is reported (status, the run's log),
never fatal. At finish every link in the run's ``files/`` is replaced by the file's final
content, so a finished run directory is self-contained: the stored copy, hard linked where
the store allows it (it is never rewritten in place), else a copy — never a link to the
user's own file, which the user may rewrite in place after the run.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracker.service.worker import Worker
from tracker.store.base import BlobStore

RETRY_AFTER = 2.0  # seconds between copies of a ``now`` file while the store is unreachable


class Copier(Worker):
    """The thread that copies files for every run of the sidecar."""

    def __init__(self) -> None:
        super().__init__("copier")

    def copy(self, src: str, blobs: BlobStore, key: str, on_done: Callable[[Any], None]) -> None:
        """Copy the local file ``src`` to the blob ``key``; ``on_done((size, md5) | exception)``."""
        self.submit(lambda: blobs.put_file(key, src), on_done, f"copy of {src}")


@dataclass
class Entry:
    name: str
    source: str
    policy: str
    copied_sig: tuple | None = None
    last_copy: float = 0.0
    inflight: bool = False
    copies: int = 0
    error: str | None = None
    watched: bool = False  # change events arrive for it (else its stat is polled)
    maybe_changed: bool = True
    size: int = 0
    md5: str = ""


class FileSyncer:
    """The saved files of one run.

    Args:
        run_dir: the run directory (its ``files/`` holds the saved files or links to them).
        copier: the sidecar's copier thread (None offline).
        blobs: the store's blobs (None offline).
        store_key: a saved file's name to its blob key (None offline).
        record: writes file records to the catalogue.
        log: writes a line to the run's log.
        live_interval: the least seconds between two copies of a ``live`` file.
        watcher: change events for live files, when available.
    """

    def __init__(
        self,
        run_dir: str,
        copier: Copier | None,
        blobs: BlobStore | None,
        store_key: Callable[[str], str] | None,
        record: Callable[[list[dict]], None],
        log: Callable[[str], None],
        live_interval: float,
        watcher: Any = None,
    ) -> None:
        self.watcher = watcher
        self.files_dir = os.path.join(run_dir, "files")
        self.copier = copier
        self.blobs = blobs
        self.store_key = store_key
        self.record = record
        self.log = log
        self.live_interval = live_interval
        self.entries: dict[str, Entry] = {}
        self.bytes_copied = 0
        self.copies = 0
        self.finishing = False
        self._final_rounds = 0

    @property
    def online(self) -> bool:
        return self.copier is not None and self.blobs is not None and self.store_key is not None

    def add(self, spec: dict[str, Any]) -> None:
        policy = spec.get("policy", "live")
        for name, source in spec.get("files") or []:
            entry = self.entries.get(name)
            if entry is None or entry.source != source or entry.policy != policy:
                entry = self.entries[name] = Entry(name, source, policy)
                if policy == "live" and self.watcher is not None and self.online:
                    entry.watched = self.watcher.watch(source)
            if policy == "now" and self.online:
                self._schedule(entry)

    def tick(self, now: float, changed: set[str] | None = None) -> None:
        """Copy the live files that changed (events for watched ones, ``stat`` for others)."""
        if not self.online or self.finishing:
            return
        for entry in self.entries.values():
            if entry.policy != "live":
                if entry.error and entry.policy == "now" and self._retry_due(entry, now):
                    self._schedule(entry)  # the store was unreachable: copy it again
                continue
            if entry.watched:
                if changed and entry.source in changed:
                    entry.maybe_changed = True
                if not entry.maybe_changed:
                    continue
            if entry.inflight:
                continue
            if entry.copies and now - entry.last_copy < self.live_interval:
                continue
            sig = _signature(entry.source)
            if sig is None:
                self._fail(entry, f"{entry.source} is missing or unreadable")
                entry.maybe_changed = not entry.watched
            elif sig != entry.copied_sig:
                self._schedule(entry, sig)
            elif entry.watched:
                entry.maybe_changed = False

    def _retry_due(self, entry: Entry, now: float) -> bool:
        return not entry.inflight and entry.copies == 0 and now - entry.last_copy >= RETRY_AFTER

    def _schedule(self, entry: Entry, sig: tuple | None = None) -> None:
        sig = sig or _signature(entry.source)
        if sig is None:
            self._fail(entry, f"{entry.source} is missing or unreadable")
            return
        try:
            key = self.store_key(entry.name)
        except ValueError as exc:  # a name that would leave the run's files (``..``)
            self._fail(entry, str(exc))
            return
        entry.inflight = True
        entry.last_copy = time.monotonic()
        self.copier.copy(entry.source, self.blobs, key, lambda res: self._done(entry, sig, res))

    def _done(self, entry: Entry, sig: tuple, result: Any) -> None:
        entry.inflight = False
        if isinstance(result, Exception):
            self._fail(entry, f"copy of {entry.source} failed: {result}")
            return
        entry.copied_sig = sig
        entry.copies += 1
        self.copies += 1
        entry.error = None
        entry.size, entry.md5 = result
        self.bytes_copied += entry.size
        self.record(
            [
                {
                    "name": entry.name,
                    "size": entry.size,
                    "md5": entry.md5,
                    "updated_at": time.time(),
                    "policy": entry.policy,
                }
            ]
        )

    def _fail(self, entry: Entry, message: str) -> None:
        if entry.error != message:
            self.log(f"file {entry.name!r}: {message}")
        entry.error = message

    def begin_finish(self) -> None:
        """Start the final copies: live files that changed, end files, now files not yet copied,
        and the files written straight into ``files/`` (W&B's ``run.dir``) without ``save``."""
        self.finishing = True
        self._adopt_unsaved()
        self._schedule_final()

    def _adopt_unsaved(self) -> None:
        # W&B syncs everything in run.dir at the end; a user's file there is an ``end`` file.
        # Hidden names are the sidecar's own temporary files (``.summary.json.tmp``).
        for dirpath, dirnames, filenames in os.walk(self.files_dir):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for fname in filenames:
                path = os.path.join(dirpath, fname)
                name = os.path.relpath(path, self.files_dir).replace(os.sep, "/")
                if fname.startswith(".") or name in self.entries or os.path.islink(path):
                    continue
                self.entries[name] = Entry(name, path, "end")

    def _schedule_final(self) -> bool:
        scheduled = False
        if not self.online:
            return scheduled
        for entry in self.entries.values():
            if entry.inflight or (entry.policy == "now" and entry.copies):
                continue
            sig = _signature(entry.source)
            if sig is None:
                if entry.copies == 0:
                    self._fail(entry, f"{entry.source} is missing or unreadable at finish")
                continue
            if sig != entry.copied_sig:
                self._schedule(entry, sig)
                scheduled = True
        return scheduled

    @property
    def idle(self) -> bool:
        """No copy in flight and, when finishing, every file's final content copied."""
        if any(e.inflight for e in self.entries.values()):
            return False
        if self.finishing and self._final_rounds < 3:
            # a copy that was in flight at finish may have read an older content
            self._final_rounds += 1
            return not self._schedule_final()
        return True

    def finalize_links(self) -> None:
        """Replace each link in ``files/`` by a copy of the file's final (synced) content."""
        for entry in self.entries.values():
            link = os.path.join(self.files_dir, entry.name)
            if not os.path.islink(link):
                continue
            try:
                if self.online and entry.copies:
                    # the synced copy is final: linked where the store can, instant for 1 GB
                    self.blobs.get_file(self.store_key(entry.name), link, link=True)
                else:
                    tmp = link + ".final"
                    shutil.copyfile(entry.source, tmp)
                    os.replace(tmp, link)
            except OSError as exc:
                self.log(f"could not replace the link {entry.name!r} by its content: {exc}")

    def pending(self) -> dict[str, int]:
        out = {"live": 0, "now": 0, "end": 0}
        for entry in self.entries.values():
            if entry.inflight or entry.copies == 0:
                out[entry.policy] += 1
            elif entry.policy == "live" and _signature(entry.source) != entry.copied_sig:
                out["live"] += 1
        return out

    def errors(self) -> list[str]:
        return [f"{e.name}: {e.error}" for e in self.entries.values() if e.error]


def _signature(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.access(path, os.R_OK):
        return None
    return (st.st_mtime_ns, st.st_size)
