"""The small base every sidecar stage runs on: one thread, jobs in order, results handed back.

The ingest thread owns all run state. A stage's thread does one slow kind of work (write a
parquet part, copy a file, POST a webhook, fsync a log, write the catalogue) and never touches
run state: it runs a job and puts ``(on_done, result)`` on a queue that the ingest thread
drains with :meth:`Worker.run_completed`, so every callback runs on the thread that owns the
state it changes. A job that raises is counted in the stage's :class:`StageErrors` (shown by
``status()`` and ``tracker-service status``) and its exception is the result its callback gets.

Lifecycle: ``submit`` (any time; the thread starts on first use), ``run_completed`` (ingest
thread), ``stop`` (finish what was submitted, then join).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("tracker.sidecar")

_STOP = object()


def drain(q: queue.SimpleQueue) -> list[Any]:
    """Everything in ``q`` right now, without waiting."""
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


class StageErrors:
    """Failures of one stage: how many, the last one and when; logged at most once a minute."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.count = 0
        self.last: str | None = None
        self.at: float | None = None
        self._logged = 0.0

    def record(self, what: str, error: BaseException | str) -> None:
        """Count one failure of ``what`` (a short description of the work that failed)."""
        text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
        self.count += 1
        self.last = f"{what}: {text}"
        self.at = time.time()
        now = time.monotonic()
        if now - self._logged >= 60.0 or self.count == 1:
            self._logged = now
            log.warning("%s: %s (%d failures so far)", self.stage, self.last, self.count)

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "last": self.last, "at": self.at}


class Worker:
    """A stage's thread: runs submitted jobs one after another."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.errors = StageErrors(name)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.submitted = 0
        self.finished = 0

    def submit(
        self,
        job: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        what: str = "job",
    ) -> None:
        """Run ``job()`` on the stage's thread; ``on_done(result or exception)`` on drain."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                    self._thread.start()
        self.submitted += 1
        self._jobs.put((job, on_done, what))

    @property
    def pending(self) -> int:
        """Jobs submitted whose callbacks have not run yet."""
        return self.submitted - self.finished

    def run_completed(self) -> int:
        """Run the callbacks of finished jobs (on the owner's thread); return how many."""
        done = drain(self._done)
        self.finished += len(done)
        for on_done, result in done:
            if on_done is not None:
                on_done(result)
        return len(done)

    def _loop(self) -> None:
        self.warm_up()
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            job, on_done, what = item
            try:
                result = job()
            except Exception as exc:  # counted and handed to the callback, never fatal
                self.errors.record(what, exc)
                result = exc
            self._done.put((on_done, result))

    def warm_up(self) -> None:
        """Work done once on the stage's thread before its first job (imports, say)."""

    def stop(self, timeout: float = 30.0) -> None:
        """Finish every submitted job, then end the thread."""
        if self._thread is not None:
            self._jobs.put(_STOP)
            self._thread.join(timeout)
