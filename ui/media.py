"""The run page's media panel: which media keys a run logged, at which steps, and its tables.

History cells of media hold typed references (§10: ``{"_type": "image-file", "path", ...}``,
``histogram`` with its bins inline, ``media-list`` for a list under one key); the files live
among the run's files (``media/<kind>/...``). Only the columns that can hold references (structs,
and text columns, where a key logged with mixed values keeps JSON text) and ``_step`` are read.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tracker.api.history import fetch_tail, part_keys, read_stream
from tracker.store.base import blob_gone
from tracker.store.keys import file_key, stream_prefix

TABLE_ROWS = 100  # the rows of a table the page shows (the whole file is a download away)
# media files the browser may show inline (in <img>/<video>), by extension; any other media
# (html, 3-D objects) is a download, never a page of the UI's origin
INLINE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "webm": "video/webm",
}


def media_index(store: Any, store_root: str | None, run: dict[str, Any]) -> dict[str, Any]:
    """Every media key of a run with the steps that hold it.

    Args:
        store: the open store.
        store_root: the local store folder through which a running run's sidecar is found
            (None: only exported rows).
        run: the run's catalogue record.

    Returns:
        ``{"media": [{"key", "type", "steps": [{"step", "items": [reference, ...]}]}]}``, keys
        in name order, steps ascending; a reference is the history cell (a ``media-list`` is
        flattened into its items).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    e, p, rid = run["entity"], run["project"], run["run_id"]
    prefix = stream_prefix(e, p, rid, "history")
    candidates: dict[str, None] = {}
    for key in part_keys(store.blobs, prefix):
        try:
            with store.blobs.open(key) as fh:
                schema = pq.read_schema(fh)
        except OSError as exc:
            if not blob_gone(exc):
                raise
            continue  # compacted meanwhile: the compacted file has the same columns
        for f in schema:
            if not f.name.startswith("_") and (
                pa.types.is_struct(f.type) or pa.types.is_string(f.type)
            ):
                candidates[f.name] = None
    found: dict[str, dict[int, list]] = {}
    if candidates:
        table = read_stream(store.blobs, prefix, ["_step", *candidates])
        for name in candidates:
            if name not in table.column_names:
                continue
            column = table.column(name)
            valid = pc.is_valid(column)
            steps = pc.filter(table.column("_step"), valid).to_pylist()
            for step, cell in zip(steps, pc.filter(column, valid).to_pylist(), strict=True):
                _add(found, name, step, cell)
    if store_root and run.get("state") not in ("finished", "failed", "crashed", "preempted"):
        last = max((s for by_step in found.values() for s in by_step), default=-1)
        try:
            tail = fetch_tail(store_root, e, p, rid, last + 1)
        except Exception:
            tail = []  # the sidecar went away meanwhile: the exported rows are what there is
        for row in tail:
            for name, cell in row.items():
                if not name.startswith("_"):
                    _add(found, name, row["_step"], cell)
    out = []
    for name in sorted(found):
        by_step = found[name]
        kinds = {item.get("_type") for items in by_step.values() for item in items}
        out.append(
            {
                "key": name,
                "type": kinds.pop() if len(kinds) == 1 else "mixed",
                "steps": [{"step": s, "items": by_step[s]} for s in sorted(by_step)],
            }
        )
    return {"media": out}


def _add(found: dict[str, dict[int, list]], name: str, step: int, cell: Any) -> None:
    items = references(cell)
    if items:
        found.setdefault(name, {}).setdefault(step, []).extend(items)


def references(cell: Any) -> list[dict[str, Any]]:
    """The media references a history cell holds (none for a number or plain text)."""
    if isinstance(cell, str):
        if not cell.startswith('{"_type"'):
            return []
        try:
            cell = json.loads(cell)  # a column of mixed cells keeps them as JSON text
        except ValueError:
            return []
    if not isinstance(cell, dict) or not isinstance(cell.get("_type"), str):
        return []
    if cell["_type"] == "media-list":
        return [r for item in cell.get("items") or [] for r in references(item)]
    if cell["_type"] == "histogram" or cell.get("path"):
        return [{k: v for k, v in cell.items() if v is not None}]
    return []  # still being encoded, or an encoding error: nothing to show


def media_file_key(store: Any, run: dict[str, Any], name: str) -> str | None:
    """The blob key of one of a run's media files, or None when the run has no such file.

    Raises:
        ValueError: a name outside the run's media (``..``, absolute, not under ``media/``).
    """
    if not name.startswith("media/"):
        raise ValueError(f"{name!r} is not one of the run's media files (media/...)")
    e, p, rid = run["entity"], run["project"], run["run_id"]
    key = file_key(e, p, rid, name)  # refuses '..', absolute names, NUL
    if not store.catalogue.get_files(e, p, rid, [name]):
        return None
    return key


def table_rows(store: Any, run: dict[str, Any], name: str, limit: int = TABLE_ROWS) -> Any:
    """The first ``limit`` rows of a logged table (a parquet file among the run's media).

    Returns:
        ``{"columns", "rows": [[cell, ...]], "total"}`` (cells JSON-ready: non-finite floats
        as None, bytes as their length), or None when the run has no such file.

    Raises:
        ValueError: a name outside the run's media, or a file that is not a table.
    """
    import pyarrow.parquet as pq

    if not name.endswith(".parquet"):
        raise ValueError(f"{name!r} is not a table (a .parquet file)")
    key = media_file_key(store, run, name)
    if key is None:
        return None
    try:
        with store.blobs.open(key) as fh:
            pf = pq.ParquetFile(fh)
            total = pf.metadata.num_rows
            batch = next(pf.iter_batches(batch_size=max(1, limit)), None)
            columns = pf.schema_arrow.names
    except FileNotFoundError:
        return None
    rows = [] if batch is None else [list(r.values()) for r in batch.to_pylist()[:limit]]
    return {
        "columns": columns,
        "rows": [[_cell(v) for v in row] for row in rows],
        "total": total,
    }


def _cell(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bytes):
        return f"<{len(v)} bytes>"
    if isinstance(v, (list, tuple)):
        return [_cell(x) for x in v]
    if isinstance(v, dict):
        return {k: _cell(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)  # dates, decimals...
