"""Compaction at finish: one life's parquet parts of a stream merged into one file (§8).

A running run is exported in small parts (every 10,000 rows or 10 s) so that it can be read
while it goes on; a finished run of a million rows would keep a hundred files. When the run
finishes, after its last part is written and before it is reported closed, the exporter
thread merges the parts of each stream into one file of large row groups under the
compacted name of :mod:`tracker.store.parts`, then deletes the parts. A concurrent reader
sees the parts, or the compacted file (which hides the parts it holds), never both.
"""

from __future__ import annotations

from typing import Any

from tracker.store.base import BlobStore
from tracker.store.tables import conform, unify_schemas

ROWS_PER_GROUP = 1_000_000  # the most rows in one row group
# ...and about this much Arrow data per row group: a row group is built in memory (about
# twice this at the peak) and the sidecar must stay small: ~130k rows of one scalar.
GROUP_BYTES = 4 << 20
MIN_ROWS_PER_GROUP = 10_000


def compact_parts(blobs: BlobStore, keys: list[str], dest: str) -> int:
    """Merge the parquet blobs ``keys`` (in row order) into ``dest``, then delete them.

    The schema is the union of the parts' (:func:`tracker.store.tables.unify_schemas`); at
    most two row groups of rows are in memory at once.

    Args:
        blobs: the store's blobs.
        keys: the parts, in row order.
        dest: the compacted file's key.

    Returns:
        The number of rows written.

    Raises:
        OSError: a part cannot be read or the compacted file cannot be written (the parts are
            then left as they were).
        ValueError: the rows read differ from the parts' row counts (nothing changed).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    metas = []
    for key in keys:
        with blobs.open(key) as fh:
            metas.append(pq.read_metadata(fh))
    expected = sum(m.num_rows for m in metas)
    schema = unify_schemas(m.schema.to_arrow_schema() for m in metas)
    with (
        blobs.writer(dest) as out,
        pq.ParquetWriter(
            out, schema, compression="zstd", use_dictionary=_dictionary_columns(schema)
        ) as writer,
    ):
        written = _copy_rows(blobs, keys, schema, writer)
        if written != expected:  # raised inside: the compacted file never appears
            raise ValueError(f"compaction read {written} rows of {expected}")
    for key in keys:
        blobs.delete(key)
    pa.default_memory_pool().release_unused()  # the row groups' memory back to the system
    return written


def _copy_rows(blobs: BlobStore, keys: list[str], schema: Any, writer: Any) -> int:
    """Write the parts' rows to ``writer`` in row groups of :func:`_group_rows` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pending: list[Any] = []
    buffered = written = 0
    group = 0
    for key in keys:
        with blobs.open(key) as fh:
            # ParquetFile.read, not read_table: the dataset machinery behind read_table costs
            # the sidecar ~20 MB more at its peak (measured), for nothing a part needs
            table = conform(pq.ParquetFile(fh).read(use_threads=False), schema)
        group = group or _group_rows(table)
        pending.append(table)
        buffered += table.num_rows
        while buffered >= group:
            rows = pa.concat_tables(pending)
            writer.write_table(rows.slice(0, group), row_group_size=group)
            written += group
            pending, buffered = [rows.slice(group)], buffered - group
    if buffered:
        writer.write_table(pa.concat_tables(pending), row_group_size=buffered)
        written += buffered
    return written


def _dictionary_columns(schema: Any) -> list[str]:
    """Text columns: dictionary encoding pays there; on numbers it costs the writer a hash
    table per row group (about 3x the sidecar's memory at the peak) for files no smaller."""
    import pyarrow as pa

    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_binary(f.type)]


def _group_rows(sample: Any) -> int:
    """Rows per row group: a million, fewer for wide rows (about ``GROUP_BYTES`` of data)."""
    per_row = max(sample.nbytes / max(sample.num_rows, 1), 1.0)
    return int(max(MIN_ROWS_PER_GROUP, min(ROWS_PER_GROUP, GROUP_BYTES / per_row)))
