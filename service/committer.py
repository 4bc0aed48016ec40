"""Turns ``log`` records into committed rows with W&B's step rules (§4.1).

The pending row collects ``commit=False`` calls; a call with a step above the counter
commits the pending row first; a step equal to the counter merges; a step below it drops
the whole call and counts it. Every committed row gets ``_step``, ``_timestamp`` (a user's
own is kept) and ``_runtime``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracker.service.summary import SummaryState


class Committer:
    """Step counter, pending row and summary of one run."""

    def __init__(
        self,
        starting_step: int,
        start_time: float,
        runtime_offset: float,
        summary: SummaryState,
        on_row: Callable[[dict], None],
    ) -> None:
        self.step = starting_step
        self.start_time = start_time
        self.runtime_offset = runtime_offset
        self.summary = summary
        self.on_row = on_row
        self.pending: dict[str, Any] | None = None
        self.pending_ts = 0.0
        self.last_committed = starting_step - 1
        self.rows = 0
        self.dropped = 0
        self.first_dropped_step: int | None = None
        self.first_dropped_key: str | None = None
        self.last_runtime = runtime_offset

    def log(self, step: int | None, commit: bool, ts: float, data: dict) -> bool:
        """Apply one ``log`` call; return False if it was dropped (step below the counter)."""
        if step is not None:
            if step < self.step:
                self.dropped += 1
                if self.first_dropped_step is None:
                    self.first_dropped_step = step
                    self.first_dropped_key = next(iter(data), None)
                return False
            if step > self.step:
                if self.pending is not None:
                    self.flush()
                self.step = step
        if self.pending is None:
            self.pending = data
        else:
            self.pending.update(data)
        self.pending_ts = ts
        if commit:
            self.flush()
        return True

    def flush(self) -> None:
        """Commit the pending row (if any) at the current step."""
        row = self.pending
        if row is None:
            return
        self.pending = None
        step = self.step
        ts = self.pending_ts
        row["_step"] = step
        if "_timestamp" not in row:
            row["_timestamp"] = ts
        runtime = self.runtime_offset + (ts - self.start_time)
        row["_runtime"] = runtime
        self.last_runtime = runtime
        summary = self.summary
        if not summary._plain:
            summary.step_sync(row)
        summary.update(row)
        self.on_row(row)
        self.last_committed = step
        self.step = step + 1
        self.rows += 1
