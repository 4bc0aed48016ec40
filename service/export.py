"""History export: committed rows to parquet blobs in the store, while the run goes on (§8).

Each run's :class:`HistoryWriter` (one per stream: ``history``, ``system``) collects committed
rows in memory and cuts a batch every 10,000 rows or 10 seconds into an Arrow table (about 10x
smaller than the row dicts, so a slow disk costs little memory); one :class:`Exporter` thread
per sidecar writes each table as a parquet blob (``<stream>/part-NNNNN.parquet``, one row
group) through the store's :meth:`~tracker.store.base.BlobStore.writer`, which makes it appear
whole or not at all. Writing parquet releases the GIL, so export runs beside ingest on a second
core. A new key is a new column from the batch it appears in; earlier parts simply lack it
(readers unify the schemas). When the run finishes, after its last part is written, the
exporter merges the parts of this life of the run into one file (:mod:`.compact`).
The main thread owns every writer's state; the exporter thread reports completions through
a queue that the main thread drains (:meth:`Exporter.completed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tracker.service.compact import compact_parts
from tracker.service.worker import Worker
from tracker.store import parts as store_parts
from tracker.store.base import BlobStore
from tracker.store.parts import compacted_key, part_key
from tracker.store.tables import NULLS, json_array, plain_rows, with_json_columns

ROWS_PER_PART = 10_000
SECONDS_PER_PART = 10.0
RESERVED_ORDER = ("_step", "_timestamp", "_runtime")


def build_table(rows: list[dict[str, Any]]):
    """A pyarrow table of ``rows``: one column per key, nulls where a row lacks it.

    A key with values of types no one column type holds is a JSON column, and keys logged
    as ``None`` are listed per row in ``_tracker_nulls`` (``tracker.store.tables``).
    """
    import pyarrow as pa

    keys: dict[str, None] = dict.fromkeys(k for k in RESERVED_ORDER if rows and k in rows[0])
    for row in rows:
        if len(row) != len(keys) or not keys.keys() >= row.keys():
            keys.update(dict.fromkeys(row))
    columns = {}
    encoded = []
    logged_none: dict[int, list[str]] = {}
    for key in keys:
        values = [row.get(key) for row in rows]
        if key == "_step":
            columns[key] = pa.array(values, type=pa.int64())
        elif key in ("_timestamp", "_runtime"):
            try:
                columns[key] = pa.array(values, type=pa.float64())
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                columns[key] = pa.array([_as_float(v) for v in values], type=pa.float64())
        else:
            columns[key], is_json = _column(values)
            if is_json:
                encoded.append(key)
        if columns[key].null_count:  # a key the row lacks, or one logged as None: which?
            for i, row in enumerate(rows):
                if key in row and row[key] is None:
                    logged_none.setdefault(i, []).append(key)
    if logged_none:
        columns[NULLS] = pa.array(
            [logged_none.get(i) for i in range(len(rows))], type=pa.list_(pa.string())
        )
    table = pa.table(columns)
    return table.replace_schema_metadata(with_json_columns(table.schema, encoded).metadata)


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _column(values: list[Any]) -> tuple[Any, bool]:
    """The column of ``values`` and whether it is a JSON column."""
    import pyarrow as pa

    try:
        first = next((v for v in values if v is not None), None)
        if type(first) is dict and None in values:
            # pyarrow infers a struct type slowly across nulls (23 ms for 10,000 rows of
            # which 4 hold a media reference): the type from the values, then one typed pass
            arr = pa.array(values, type=pa.array([v for v in values if v is not None]).type)
        else:
            arr = pa.array(values)
        if pa.types.is_integer(arr.type) and arr.type != pa.int64():
            arr = arr.cast(pa.int64())
        return arr, False
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        pass
    # Mixed types in one column (a number here, a string there): every value as JSON text,
    # so each reads back with its own type.
    return json_array(values), True


class Exporter(Worker):
    """The one thread that writes parquet for every run of the sidecar."""

    def __init__(self) -> None:
        super().__init__("exporter")

    def warm_up(self) -> None:
        # Importing pyarrow and its first conversion of Python values take ~0.3 s: paid on
        # this thread when the first part comes, never on the ingest thread.
        import pyarrow.fs  # noqa: F401 - the blob store's streams
        import pyarrow.parquet  # noqa: F401

        build_table([{"_step": 0, "_timestamp": 0.0, "_runtime": 0.0, "f": 0.5, "i": 1, "s": "x"}])


def write_part(blobs: BlobStore, key: str, table: Any) -> None:
    """Write ``table`` as one parquet blob of one row group (zstd)."""
    import pyarrow.parquet as pq

    with blobs.writer(key) as out:
        pq.write_table(table, out, row_group_size=max(table.num_rows, 1), compression="zstd")


class HistoryWriter:
    """Committed rows of one stream of one run on their way to parquet blobs.

    Args:
        exporter: the sidecar's exporter thread.
        blobs: the store's blobs.
        prefix: the stream's folder key (:func:`tracker.store.keys.stream_prefix`).
        first_part: the number of this life's first part (the catalogue's ``history_parts``),
            or None to go on after the parts in the store: the exporter lists them before it
            writes the first part (a store that hangs never stalls the ingest thread).
        rows_exported: rows already exported by earlier lives.
        log: writes a line to the run's log.
    """

    def __init__(
        self,
        exporter: Exporter,
        blobs: BlobStore,
        prefix: str,
        first_part: int | None,
        rows_exported: int,
        log: Callable[[str], None],
    ) -> None:
        self.exporter = exporter
        self.blobs = blobs
        self.prefix = prefix
        self.first_part = first_part  # known to the ingest thread once a part is written
        self._base = first_part  # the exporter thread's copy, listed there when None
        self.cuts = 0  # parts cut in this life; part number = first_part + index
        self.rows: list[dict] = []
        self.inflight: dict[int, Any] = {}  # index in this life -> pyarrow.Table being written
        self.rows_exported = rows_exported
        self.last_cut = time.monotonic()
        self.keys: dict[str, None] = {}  # see logged_keys()
        self.error: str | None = None
        self.log = log
        self.failed: dict[int, Any] = {}
        self.retry_at = 0.0
        self.failures = 0  # consecutive failed exports
        self.closing = False
        self.compaction: str | None = None  # None, "running" or "done"

    def add(self, row: dict) -> None:
        rows = self.rows
        rows.append(row)
        if len(rows) >= ROWS_PER_PART:
            self.cut()

    def due(self, now: float) -> bool:
        period = getattr(self.blobs, "part_period", SECONDS_PER_PART)
        return bool(self.rows) and now - self.last_cut >= period

    def cut(self) -> None:
        """Hand the collected rows to the exporter as the next part file."""
        self.last_cut = time.monotonic()
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        index = self.cuts
        self.cuts += 1
        table = build_table(rows)
        self.keys.update(dict.fromkeys(k for k in table.column_names if k != NULLS))
        self._submit(index, table)

    def logged_keys(self) -> list[str]:
        """The keys of the rows so far: those of every part cut, and of the latest row (a
        running run's keys show before its first part; a key only older rows since the last
        cut have shows at the next cut)."""
        if self.rows:
            self.keys.update(dict.fromkeys(self.rows[-1]))
        return list(self.keys)

    @property
    def next_part(self) -> int | None:
        """The number the next part will have; None until the first part is written."""
        return None if self.first_part is None else self.first_part + self.cuts

    def _submit(self, index: int, table: Any) -> None:
        self.inflight[index] = table
        self.exporter.submit(
            lambda: self._write(index, table),
            lambda result: self._done(index, result),
            f"export of part {index} of this life of {self.prefix}",
        )

    def _write(self, index: int, table: Any) -> int:
        """On the exporter thread: write part ``index`` of this life; its part number."""
        if self._base is None:  # this life goes on after the parts already in the store
            self._base = store_parts.next_part(self.blobs.list(self.prefix))
        part = self._base + index
        write_part(self.blobs, part_key(self.prefix, part), table)
        return part

    def _done(self, index: int, result: Any) -> None:
        table = self.inflight.pop(index)
        if isinstance(result, BaseException):
            self.error = f"export of history part {index} of this life failed: {result}"
            self.log(self.error + " (will retry)")
            self.failures += 1  # back off while the store is down: 0.25 s doubling to 5 s
            self.retry_at = time.monotonic() + min(5.0, 0.25 * 2 ** (self.failures - 1))
            self.failed[index] = table
            return
        if self.first_part is None:
            self.first_part = result - index
        self.error = None
        self.failures = 0
        self.rows_exported += table.num_rows
        self._compact_when_written()

    def finish(self) -> None:
        """Cut the last part; once every part is written, merge this life's parts into one."""
        self.closing = True
        self.cut()
        self._compact_when_written()

    def _compact_when_written(self) -> None:
        if not self.closing or self.compaction or self.inflight or self.failed:
            return
        first, end = self.first_part, self.next_part
        if first is None or end is None or end - first < 2:
            self.compaction = "done"  # one part or none: nothing to merge
            return
        keys = [part_key(self.prefix, n) for n in range(first, end)]
        dest = compacted_key(self.prefix, first, end - 1)
        self.compaction = "running"
        took: list[float] = []

        def job() -> None:
            started = time.perf_counter()
            compact_parts(self.blobs, keys, dest)
            took.append(time.perf_counter() - started)

        self.exporter.submit(job, lambda err: self._compacted(len(keys), dest, took, err))

    def _compacted(self, parts: int, dest: str, took: list[float], error: Exception | None) -> None:
        self.compaction = "done"
        if error is not None:
            # the parts are still there and read as before: the run closes anyway
            self.log(f"could not compact {parts} parts into {dest}, they stay: {error}")
        else:
            self.log(f"compacted {parts} parts into {dest} in {took[0]:.3f} s")

    def retry(self, now: float) -> None:
        """Submit again the batches whose export failed (disk full, read-only store...)."""
        if self.failed and now >= self.retry_at:
            failed, self.failed = self.failed, {}
            for index, table in sorted(failed.items()):
                self._submit(index, table)

    @property
    def pending(self) -> int:
        """Rows committed but not yet in a parquet file."""
        return (
            len(self.rows)
            + sum(t.num_rows for t in self.inflight.values())
            + sum(t.num_rows for t in self.failed.values())
        )

    @property
    def idle(self) -> bool:
        """Nothing in flight, waiting for a retry or being compacted."""
        return not self.inflight and not self.failed and self.compaction != "running"

    def tail(self, min_step: int) -> list[dict]:
        """Committed rows not yet exported with ``_step >= min_step``, in step order."""
        out = []
        waiting = {**self.inflight, **self.failed}
        for part in sorted(waiting):
            for row in plain_rows(waiting[part]):
                if row["_step"] >= min_step:
                    out.append(row)
        out.extend(r for r in self.rows if r["_step"] >= min_step)
        return out
