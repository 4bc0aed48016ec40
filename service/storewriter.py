"""The store writer: every catalogue write of the sidecar, off the ingest thread.

A run's catalogue row, its file records and its alerts are written here, in submission
order, so a slow catalogue (a network database) never stalls ingest. A failed write is
counted (``status()`` shows it) and its callback told, so the run writes again later; the
transaction log keeps everything meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracker.service.worker import Worker
from tracker.store.base import Store


class StoreWriter(Worker):
    """One thread writing catalogue records for every run of the sidecar."""

    def __init__(self) -> None:
        super().__init__("store writer")

    def put_run(self, store: Store, record: dict[str, Any], on_done: Callable[[Any], None]) -> None:
        """Upsert a run's catalogue row; ``on_done(None | exception)``."""
        self.submit(lambda: store.put_run(record), on_done, f"catalogue row of {record['run_id']}")

    def write_files(self, store: Store, ref: tuple[str, str, str], records: list[dict]) -> None:
        self.submit(lambda: store.write_files(*ref, records), None, f"file records of {ref[2]}")

    def write_alerts(self, store: Store, records: list[dict]) -> None:
        self.submit(lambda: store.write_alerts(records), None, "alert records")
