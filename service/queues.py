"""Handing results from worker threads back to the ingest thread."""

from __future__ import annotations

import queue
from typing import Any


def drain(q: queue.SimpleQueue | queue.Queue) -> list[Any]:
    """Everything in ``q`` right now, without waiting."""
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out
