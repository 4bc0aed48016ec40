"""Captures the training process's stdout and stderr into the run's ``files/output.log``.

Both file descriptors are redirected to pipes; one thread copies whatever arrives to the
original terminal (so the text still shows) and appends it to ``output.log``. This catches
Python prints, C extensions and child processes alike, and the caller only ever writes to a
pipe. The sidecar syncs ``output.log`` like a ``live`` file.
"""

from __future__ import annotations

import os
import select
import sys
import threading


class ConsoleCapture:
    """Tee of fds 1 and 2 into a log file, until :meth:`stop`."""

    def __init__(self, log_path: str) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab", buffering=0)
        self._pairs: list[tuple[int, int, int]] = []  # (fd, saved original, pipe read end)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        for fd in (1, 2):
            saved = os.dup(fd)
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            self._pairs.append((fd, saved, r))
        self._thread = threading.Thread(target=self._pump, name="tracker-console", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        reads = {r: saved for _, saved, r in self._pairs}
        while reads:
            try:
                ready, _, _ = select.select(list(reads), [], [], 1.0)
            except (OSError, ValueError):
                return
            for r in ready:
                try:
                    data = os.read(r, 65536)
                except OSError:
                    data = b""
                if not data:
                    os.close(r)
                    del reads[r]
                    continue
                _write_all(reads[r], data)
                try:
                    self._log.write(data)
                except (OSError, ValueError):
                    pass

    def stop(self, timeout: float = 2.0) -> None:
        """Restore the original fds and wait until everything captured is written."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        for fd, saved, _ in self._pairs:
            os.dup2(saved, fd)  # drops our write end: the pump sees EOF once children exit
        self._thread.join(timeout)
        for _, saved, _ in self._pairs:
            os.close(saved)
        self._log.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except OSError:
            return
        view = view[n:]
