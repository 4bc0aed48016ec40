"""Reading a run's history: exported parquet parts plus, for a running run, the sidecar's tail.

Parts are read through the store's blobs by key (``tracker.store``), never by local path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from tracker.client.runtime import sidecar_alive, sidecar_paths
from tracker.proto.messages import Kind
from tracker.store.base import blob_gone
from tracker.store.parts import visible_parts
from tracker.store.tables import NULLS, combine, plain_rows

_TAIL_TIMEOUT = 10.0
_ATTEMPTS = 3  # a compaction at finish removes parts once; more is a real loss
_T = TypeVar("_T")


def part_keys(blobs: Any, prefix: str) -> list[str]:
    """The parquet blobs of a stream to read, in row order (parts held by a compacted file
    are skipped: while a run is compacted at finish, both are there for a moment)."""
    return visible_parts(blobs.list(prefix))


def read_parts(blobs: Any, keys: list[str], columns: list[str] | None = None):
    """Concatenate parquet blobs into one table with unified columns (later keys → nulls).

    Args:
        blobs: the store's blobs.
        keys: the parts, in row order.
        columns: only these columns (those a part lacks read as null); all when None.

    Raises:
        OSError: a part was removed (compacted) while it was read (see
            :func:`tracker.store.base.blob_gone`).
    """
    import pyarrow.parquet as pq

    tables = []
    for key in keys:
        with blobs.open(key) as fh:
            if columns is None:
                tables.append(pq.read_table(fh))
                continue
            names = pq.read_schema(fh).names
            wanted = [c for c in [*columns, NULLS] if c in names]
            if wanted:
                tables.append(pq.read_table(fh, columns=wanted))
    return combine(tables)


def with_parts(blobs: Any, prefix: str, read: Callable[[list[str]], _T]) -> _T:
    """``read(the stream's part keys)``, listed and read again when a compaction removed a
    part meanwhile (:func:`tracker.store.base.blob_gone`); any other error is raised.

    Raises:
        OSError: the store cannot be read, or parts vanished on every attempt.
    """
    for attempt in range(_ATTEMPTS):
        try:
            return read(part_keys(blobs, prefix))
        except OSError as exc:
            if not blob_gone(exc) or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def read_stream(blobs: Any, prefix: str, columns: list[str] | None = None):
    """Every row of a stream as one table (see :func:`with_parts`)."""
    return with_parts(blobs, prefix, lambda keys: read_parts(blobs, keys, columns))


def sample_stream(
    blobs: Any, prefix: str, samples: int, tail: Callable[[int], list[dict]] | None = None
) -> list[dict]:
    """At most ``samples`` rows of a stream spread evenly over it, first and last included,
    decoding only the row groups that hold them (``Run.history`` without ``keys``, §5/§11).

    Args:
        blobs: the store's blobs.
        prefix: the stream's prefix.
        samples: the most rows returned.
        tail: given the last exported step, the rows after it not yet exported (a running
            run's, from its sidecar); None: none.

    Returns:
        The rows as logged (:func:`rows_of`), the tail's rows after the exported ones.
    """
    return with_parts(blobs, prefix, lambda keys: _sample_parts(blobs, keys, samples, tail))


def _sample_parts(blobs: Any, keys: list[str], samples: int, tail: Any) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    groups: list[tuple[str, int, int]] = []  # (part, row group, rows), in row order
    for key in keys:
        with blobs.open(key) as fh:
            meta = pq.read_metadata(fh)
        groups += [(key, g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups)]
    groups = [g for g in groups if g[2]]
    n = sum(g[2] for g in groups)
    extra: list[dict] = []
    if tail is not None:
        last = -1
        if groups:
            key, g, _ = groups[-1]
            with blobs.open(key) as fh:
                steps = pq.ParquetFile(fh).read_row_group(g, columns=["_step"]).column(0)
            last = steps[-1].as_py()
        extra = [r for r in tail(last) if r["_step"] > last]
    picked = sample_indices(n + len(extra), samples)
    wanted: dict[str, list[tuple[int, int, list[int]]]] = {}  # part -> [(group, rows, picked)]
    start, i = 0, 0
    for key, g, rows in groups:
        local = []
        while i < len(picked) and picked[i] < start + rows:
            local.append(picked[i] - start)
            i += 1
        if local:
            wanted.setdefault(key, []).append((g, rows, local))
        start += rows
    tables = []
    for key, chosen in wanted.items():  # dicts keep insertion (row) order
        with blobs.open(key) as fh:
            # ParquetFile, not read_table: the dataset layer costs ~25% more CPU (measured);
            # a row group at a time: its rows are taken and its memory reused for the next
            pf = pq.ParquetFile(fh)
            for g, _, local in chosen:
                group = pf.read_row_group(g)
                tables.append(group.take(pa.array(local, type=pa.int64())))
    rows = rows_of(combine(tables)) if tables else []
    return rows + [extra[j - n] for j in picked if j >= n]


def scan_stream(blobs: Any, prefix: str, columns: list[str] | None = None) -> Iterator[dict]:
    """The rows of a stream one part at a time, in step order, each row once.

    A part compacted away while the scan goes on is read again from the compacted file,
    from the step after the last row yielded.
    """
    last = -1
    for attempt in range(_ATTEMPTS):
        try:
            for key in part_keys(blobs, prefix):
                for row in rows_of(read_parts(blobs, [key], columns)):
                    if row["_step"] > last:
                        last = row["_step"]
                        yield row
            return
        except OSError as exc:
            if not blob_gone(exc) or attempt == _ATTEMPTS - 1:
                raise  # compacted meanwhile (blob_gone): list the parts again


def rows_of(table) -> list[dict[str, Any]]:
    """Table rows as dicts as logged: without the nulls of keys a row did not log, with the
    keys logged as ``None``, each value of a mixed-type column with its own type."""
    return plain_rows(table)


def fetch_tail(
    store_root: str, entity: str, project: str, run_id: str, min_step: int
) -> list[dict]:
    """Committed rows not yet exported, from the sidecar serving the store (if any)."""
    from tracker.client import request

    paths = sidecar_paths(store_root, create=False)
    if not sidecar_alive(paths):
        return []
    ref = {"entity": entity, "project": project, "id": run_id}
    body = request(paths, Kind.HISTORY_TAIL, ref, min_step, timeout=_TAIL_TIMEOUT)
    return body.get("rows") or []


def sample_indices(n: int, samples: int) -> list[int]:
    """At most ``samples`` indices spread evenly over ``range(n)``, first and last included."""
    if n <= samples:
        return list(range(n))
    if samples <= 1:
        return [n - 1] if samples == 1 else []
    return sorted({round(i * (n - 1) / (samples - 1)) for i in range(samples)})
