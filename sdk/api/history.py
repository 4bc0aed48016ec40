"""Reading a run's history: exported parquet parts plus, for a running run, the sidecar's tail."""

from __future__ import annotations

from typing import Any

from tracker.client.runtime import sidecar_alive, sidecar_paths
from tracker.proto.messages import Kind

_TAIL_TIMEOUT = 10.0


def read_parts(files: list[str], columns: list[str] | None = None):
    """Concatenate parquet parts into one table with unified columns (later keys → nulls)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path in files:
        if columns is not None:
            names = pq.read_schema(path).names
            wanted = [c for c in columns if c in names]
            if not wanted:
                continue
            tables.append(pq.read_table(path, columns=wanted))
        else:
            tables.append(pq.read_table(path))
    if not tables:
        return pa.table({"_step": pa.array([], type=pa.int64())})
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    # The same key with incompatible types in two parts: read that column as text everywhere.
    types: dict[str, set] = {}
    for t in tables:
        for field in t.schema:
            if not pa.types.is_null(field.type):
                types.setdefault(field.name, set()).add(field.type)
    clash = {name for name, found in types.items() if len(found) > 1 and name != "_step"}
    fixed = []
    for t in tables:
        for name in clash & set(t.column_names):
            i = t.column_names.index(name)
            t = t.set_column(i, name, t.column(name).cast(pa.string()))
        fixed.append(t)
    return pa.concat_tables(fixed, promote_options="permissive")


def rows_of(table) -> list[dict[str, Any]]:
    """Table rows as dicts, without the nulls of keys a row did not log."""
    return [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]


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
