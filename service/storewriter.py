"""The store writer: every catalogue write of the sidecar, off the ingest thread, in order.

A run's catalogue row, its file records and its alerts are written here, so a slow
catalogue (a network database) never stalls ingest. Writes wait in one queue, in submission
order, and go to the store writer's thread in batches (one batch in flight at a time):
whatever arrives while a batch is written goes with the next one.

When the store is unreachable (a PostgreSQL restart, a network cut: an ``OSError`` or a
driver's ``OperationalError``), the batch stops at the failed write, which stays at the head
of the queue with everything behind it; the queue is retried with backoff (0.25 s doubling
to :data:`MAX_BACKOFF`) until the store is back, then catches up in order. The queue's length
and the time the store has been failing are the writer's :meth:`StoreWriter.backlog`, shown
by ``status()``; the transaction logs keep every record meanwhile, and the training
processes notice nothing. Any other failure (a record the store refuses) is counted, handed
to the write's callback and dropped, so it never blocks the writes behind it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from tracker.service.worker import Worker
from tracker.store.base import Store

BASE_BACKOFF = 0.25
MAX_BACKOFF = 5.0  # a store that comes back is caught up within this
_Write = tuple[Callable[[], Any], Callable[[Any], None] | None, str]


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the store is unreachable for now (so the write is retried)."""
    if isinstance(exc, OSError):
        return True
    for cls in type(exc).__mro__:  # sqlite3's and psycopg's (a server gone, a locked file)
        if cls.__name__ == "OperationalError":
            return True
        if cls.__name__ == "InterfaceError" and cls.__module__.startswith("psycopg"):
            return True  # psycopg: the connection is closed
    return False


class StoreWriter(Worker):
    """One thread writing catalogue records for every run of the sidecar."""

    def __init__(self) -> None:
        super().__init__("store writer")
        self.queue: deque[_Write] = deque()
        self.flushing = 0  # writes at the queue's head in the batch in flight
        self.failures = 0  # consecutive failed batches
        self.retry_at = 0.0
        self.failing_since: float | None = None
        self.last_failure: str | None = None

    def put_run(self, store: Store, record: dict[str, Any], on_done: Callable[[Any], None]) -> None:
        """Upsert a run's catalogue row; ``on_done(None | exception)`` once it is written."""
        self._add(
            lambda: store.catalogue.put_run(record), on_done, f"catalogue row of {record['run_id']}"
        )

    def write_files(self, store: Store, ref: tuple[str, str, str], records: list[dict]) -> None:
        self._add(
            lambda: store.catalogue.write_files(*ref, records), None, f"file records of {ref[2]}"
        )

    def write_alerts(self, store: Store, records: list[dict]) -> None:
        self._add(lambda: store.catalogue.write_alerts(records), None, "alert records")

    def _add(
        self, job: Callable[[], Any], on_done: Callable[[Any], None] | None, what: str
    ) -> None:
        self.queue.append((job, on_done, what))
        self.flush(time.monotonic())

    def flush(self, now: float) -> None:
        """Submit the queue as one batch, unless a batch is in flight or a retry is not due."""
        if self.flushing or not self.queue or now < self.retry_at:
            return
        batch = list(self.queue)
        self.flushing = len(batch)
        self.submit(lambda: _write(batch), self._written, "catalogue writes")

    def _written(self, outcome: Any) -> None:
        self.flushing = 0
        if isinstance(outcome, Exception):  # _write never raises; kept for safety
            outcome = ([], outcome)
        results, stopped = outcome
        for result in results:
            _, on_done, what = self.queue.popleft()
            if isinstance(result, Exception):
                self.errors.record(what, result)
            if on_done is not None:
                on_done(result)
        now = time.monotonic()
        if stopped is None:
            self.failures, self.failing_since, self.retry_at = 0, None, 0.0
        else:
            self.failures += 1
            self.failing_since = self.failing_since or time.time()
            self.last_failure = f"{self.queue[0][2]}: {type(stopped).__name__}: {stopped}"
            self.errors.record(self.queue[0][2], stopped)
            self.retry_at = now + min(MAX_BACKOFF, BASE_BACKOFF * 2 ** (self.failures - 1))
        self.flush(now)

    def backlog(self) -> dict[str, Any]:
        """Writes waiting (for the store, or for the batch in flight), and since when it fails."""
        return {
            "catalogue_writes": len(self.queue),
            "failing_since": self.failing_since,
            "last_failure": self.last_failure if self.failing_since else None,
        }

    def drain(self, timeout: float) -> bool:
        """Write the queue out, retrying, for at most ``timeout`` seconds; True when empty.

        Called from the thread that owns the callbacks (the sidecar stopping, a sync ending).
        """
        deadline = time.monotonic() + timeout
        while self.queue and time.monotonic() < deadline:
            self.flush(time.monotonic())
            if not self.run_completed():
                time.sleep(0.01)
        return not self.queue


def _write(batch: list[_Write]) -> tuple[list[Any], BaseException | None]:
    """Run the writes in order (on the writer's thread) until the store is unreachable.

    Returns:
        Each run write's result (None, or the exception of a write the store refused), and
        the exception that stopped the batch, if the store could not be reached.
    """
    results: list[Any] = []
    for job, _, _ in batch:
        try:
            job()
            results.append(None)
        except Exception as exc:
            if transient(exc):
                return results, exc
            results.append(exc)
    return results, None
