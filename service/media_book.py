"""One run's media on their way from raw cells to files: the gate in front of the history.

:meth:`MediaBook.take` swaps each raw cell of a ``log`` record for a placeholder (the raw
bytes are kept aside, so neither the summary nor the pending row ever holds them). When the
committer commits a row, :meth:`MediaBook.on_row` hands each of its raw cells to the media
stage with the row's step, and holds the row (and every row after it, to keep the order)
until they are encoded; each placeholder then becomes its typed reference (in place: the
summary sees the same dict) and the file is synced like a ``now`` file. All of this runs on
the ingest thread; the stage only encodes (:mod:`.media_encode`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from typing import Any

from tracker.service.media_encode import encode_cell, is_raw, placeholder_type, take_files
from tracker.service.worker import Worker


def media_stage(threads: int = 0) -> Worker:
    """The sidecar's media stage: PNG, GIF, MP4, parquet, histograms, off the ingest thread.

    A few threads (zlib and pillow release the GIL while they encode) on one queue; the gate
    puts rows back in order, so jobs may finish in any order.
    """
    count = threads or max(1, min(4, (os.cpu_count() or 2) // 2))
    return Worker("media", threads=count)


class MediaBook:
    """Raw cells waiting for their row, rows waiting for their files, of one run.

    Args:
        run_dir: the run directory (files go to its ``files/media/...``).
        downstream: where released rows go (the history writer).
        save_now: syncs a file of the run like a ``now`` file (name, path).
        log: writes a line to the run's log.
        stage: the media stage, or None to encode at once (``tracker-service sync``).
    """

    def __init__(
        self,
        run_dir: str,
        downstream: Callable[[dict], None],
        save_now: Callable[[str, str], None],
        log: Callable[[str], None],
        stage: Worker | None,
    ) -> None:
        self.files_dir = os.path.join(run_dir, "files")
        self.downstream = downstream
        self.save_now = save_now
        self.log = log
        self.stage = stage
        self._raw: dict[int, dict] = {}  # id(placeholder) -> raw cell
        self._held: deque[list] = deque()  # [row, cells still encoding]
        self.encoded = 0
        self.errors = 0
        self.last_error: str | None = None

    def take(self, data: dict) -> list[dict] | None:
        """Swap the raw cells of ``data`` for placeholders; return those (None: no media)."""
        found = None
        for key, value in data.items():
            if type(value) is dict and is_raw(value):
                holder = {"_type": placeholder_type(value), "_pending": True}
                self._raw[id(holder)] = value
                data[key] = holder  # same keys: safe while iterating
                if found is None:
                    found = []
                found.append(holder)
        return found

    def discard(self, holders: list[dict]) -> None:
        """Forget the raw cells of a dropped ``log`` call."""
        for holder in holders:
            self._raw.pop(id(holder), None)

    def on_row(self, row: dict) -> None:
        """A committed row: encode its media, release it (and those behind it) when done."""
        if not self._raw and not self._held:
            self.downstream(row)
            return
        entry = [row, 0]
        step = row.get("_step", 0)
        for key, value in row.items():
            if type(value) is dict and value.get("_pending"):
                raw = self._raw.pop(id(value), None)
                if raw is None:
                    continue
                entry[1] += 1
                self._submit(entry, key, value, raw, step)
        self._held.append(entry)
        self._release()

    def _submit(self, entry: list, key: str, holder: dict, raw: dict, step: int) -> None:
        files_dir = self.files_dir

        def job() -> Any:
            return encode_cell(raw, files_dir, key, step)

        def done(result: Any) -> None:
            self._encoded(entry, key, holder, result)

        if self.stage is None:
            try:
                result = job()
            except Exception as exc:  # a bad cell must not stop a replay
                result = exc
            done(result)
        else:
            self.stage.submit(job, done, f"media {key!r} at step {step}")

    def _encoded(self, entry: list, key: str, holder: dict, result: Any) -> None:
        holder.clear()
        if isinstance(result, Exception):
            self.errors += 1
            self.last_error = f"{key}: {result}"
            self.log(f"could not encode media {key!r} at step {entry[0].get('_step')}: {result}")
            holder.update({"_type": "media-error", "error": str(result)})
        else:
            self.encoded += 1
            for name in take_files(result):
                self.save_now(name, os.path.join(self.files_dir, name))
            holder.update(result)
        entry[1] -= 1
        self._release()

    def _release(self) -> None:
        held = self._held
        while held and held[0][1] == 0:
            self.downstream(held.popleft()[0])

    @property
    def idle(self) -> bool:
        """No committed row waits for its media."""
        return not self._held

    def clear(self) -> None:
        """Forget raw cells that never reached a committed row (overwritten in a pending row)."""
        self._raw.clear()
