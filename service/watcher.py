"""Change notification for ``live`` files: inotify (and friends) through ``watchdog`` when it
is installed, else nothing, and the file syncer polls ``stat`` instead.

``TRACKER_FILE_WATCH=poll`` makes the sidecar poll even with watchdog installed.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from tracker.service.worker import StageErrors


class ChangeWatcher:
    """Collects the paths that changed since the last :meth:`take`."""

    def __init__(self, mode: str = "auto") -> None:
        """``mode``: ``auto`` (watchdog when installed) or ``poll`` (``TRACKER_FILE_WATCH``,
        read by the sidecar's process entry)."""
        self._observer: Any = None
        self._dirs: set[str] = set()
        self._changed: set[str] = set()
        self._lock = threading.Lock()
        self._started = False
        self.errors = StageErrors("watcher")
        self.mode = "poll"
        if mode != "poll":
            import importlib.util

            if importlib.util.find_spec("watchdog") is not None:
                self.mode = "watchdog"

    def _start(self) -> None:
        """Start the observer on first use (importing watchdog costs start-up time)."""
        self._started = True
        if self.mode != "watchdog":
            return
        self.mode = "poll"
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            return
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                with watcher._lock:
                    for attr in ("src_path", "dest_path"):
                        path = getattr(event, attr, None)
                        if path:
                            watcher._changed.add(os.fsdecode(path))

        try:
            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        except Exception as exc:  # no inotify here: the file syncer polls instead
            self.errors.record("starting the file watcher", exc)
            self._observer = None
            return
        self._handler = Handler()
        self.mode = "watchdog"

    @property
    def active(self) -> bool:
        return self._observer is not None

    def watch(self, path: str) -> bool:
        """Watch ``path``'s folder; False if it cannot be watched (poll it then)."""
        if not self._started:
            self._start()
        if self._observer is None:
            return False
        folder = os.path.dirname(os.path.abspath(path))
        if folder in self._dirs:
            return True
        try:
            self._observer.schedule(self._handler, folder, recursive=False)
        except Exception as exc:  # out of inotify watches, say: this folder is polled
            self.errors.record(f"watching {folder}", exc)
            return False
        self._dirs.add(folder)
        return True

    def take(self) -> set[str]:
        with self._lock:
            changed, self._changed = self._changed, set()
        return changed

    def stop(self, timeout: float = 5.0) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
