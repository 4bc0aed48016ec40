"""Chart data: a run's stream read column by column with pyarrow, cut into buckets on the server.

A chart never gets more than ``buckets`` points per series, and no spike is hidden: each bucket
keeps the minimum, the maximum and the last value of its rows (drawn as a band plus a line).
Rows are ordered by the x column and cut into buckets of equal row counts, so a zoomed-in range
(``lo``..``hi``) read again is at full resolution once it holds fewer rows than buckets.

Only the x column and the chart's keys are read from the parquet parts (never whole rows into
Python objects); the reduction is numpy's ``reduceat`` over the columns' buffers.
"""

from __future__ import annotations

import math
from typing import Any

DEFAULT_BUCKETS = 1000
MAX_BUCKETS = 10_000


def read_columns(blobs: Any, keys: list[str], columns: list[str]) -> dict[str, Any]:
    """The named columns of the parquet parts ``keys`` as float64 numpy arrays (NaN = absent).

    Columns a part lacks read as NaN; columns that are not numeric (text, media references)
    are left out of the answer.

    Args:
        blobs: the store's blob store.
        keys: the parts, in row order (see :func:`tracker.api.history.part_keys`).
        columns: the column names wanted.

    Returns:
        ``{column: numpy.ndarray}`` for every numeric column present in at least one part.

    Raises:
        OSError: a part was removed (compacted) while it was read (`tracker.store.base.blob_gone`).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    pieces: dict[str, list[Any]] = {c: [] for c in columns}
    numeric: set[str] = set()
    for key in keys:
        with blobs.open(key) as fh:
            pf = pq.ParquetFile(fh)
            schema = pf.schema_arrow
            present = [c for c in columns if schema.get_field_index(c) >= 0]
            table = pf.read(columns=present) if present else None
            rows = pf.metadata.num_rows
        for c in columns:
            column = table.column(c) if table is not None and c in present else None
            if column is not None and _is_numeric(column.type):
                numeric.add(c)
                arr = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
            else:
                arr = np.full(rows, np.nan)
            pieces[c].append(arr)
    return {
        c: (np.concatenate(pieces[c]) if pieces[c] else np.empty(0))
        for c in columns
        if c in numeric
    }


def _is_numeric(t: Any) -> bool:
    import pyarrow.types as pt

    return pt.is_integer(t) or pt.is_floating(t) or pt.is_boolean(t)


def downsample(
    x: Any,
    y: Any,
    buckets: int = DEFAULT_BUCKETS,
    lo: float | None = None,
    hi: float | None = None,
) -> dict[str, list]:
    """One series cut into at most ``buckets`` buckets of min, max and last value.

    Args:
        x: the x values (numpy float64; NaN where the row has no x).
        y: the series' values, one per row of ``x`` (NaN where the row did not log it).
        buckets: the most points returned.
        lo: only rows with ``x >= lo``.
        hi: only rows with ``x <= hi``.

    Returns:
        ``{"x": [...], "min": [...], "max": [...], "last": [...]}``; the x of a bucket is the
        x of its last row. Non-finite values (inf) are dropped from min/max but a bucket of
        them alone keeps None, so the JSON stays valid.
    """
    import numpy as np

    drop = np.isnan(y)
    drop |= np.isnan(x)
    with np.errstate(invalid="ignore"):
        if lo is not None:
            drop |= x < lo
        if hi is not None:
            drop |= x > hi
    # most series have every row: no copy of a million values then
    xs, ys = (x[~drop], y[~drop]) if drop.any() else (x, y)
    if xs.size > 1 and np.any(xs[1:] < xs[:-1]):
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
    n = xs.size
    if n <= buckets:
        values = _json_floats(ys)
        return {"x": _json_floats(xs), "min": values, "max": values, "last": values}
    starts = np.unique(np.linspace(0, n, buckets + 1)[:-1].astype(np.int64))
    ends = np.append(starts[1:], n) - 1
    finite = np.where(np.isfinite(ys), ys, np.nan)
    with np.errstate(all="ignore"):
        mins = np.fmin.reduceat(finite, starts)
        maxs = np.fmax.reduceat(finite, starts)
    return {
        "x": _json_floats(xs[ends]),
        "min": _json_floats(mins),
        "max": _json_floats(maxs),
        "last": _json_floats(ys[ends]),
    }


def _json_floats(arr: Any) -> list:
    """Floats for JSON: integral values as ints (steps read better), NaN and inf as None."""
    out = arr.tolist()
    for i, v in enumerate(out):
        if not math.isfinite(v):
            out[i] = None
        elif v.is_integer() and abs(v) < 2**53:
            out[i] = int(v)
    return out


def check_buckets(value: int) -> int:
    """``value`` if it is a bucket count the server accepts.

    Raises:
        ValueError: below 2 or above :data:`MAX_BUCKETS`.
    """
    if not 2 <= value <= MAX_BUCKETS:
        raise ValueError(f"buckets must be between 2 and {MAX_BUCKETS}, got {value}")
    return value
