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
    """A stage's thread: runs submitted jobs one after another.

    Args:
        name: the stage's name (its thread's, its error count's).
        threads: more than 1 makes a pool taking jobs from one queue, for work that releases
            the GIL (the media stage's zlib and pillow); jobs may then finish out of order.
    """

    def __init__(self, name: str, threads: int = 1) -> None:
        self.name = name
        self.errors = StageErrors(name)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._count = max(1, threads)
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
        if not self._threads:
            with self._start_lock:
                if not self._threads:
                    names = (
                        [self.name]
                        if self._count == 1
                        else [f"{self.name}-{i}" for i in range(self._count)]
                    )
                    threads = [
                        threading.Thread(target=self._loop, name=n, daemon=True) for n in names
                    ]
                    for thread in threads:
                        thread.start()
                    self._threads = threads
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
        """Work done once on each of the stage's threads before its first job (imports, say)."""

    def stop(self, timeout: float = 30.0) -> None:
        """Finish every submitted job, then end the thread."""
        for _ in self._threads:
            self._jobs.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
