"""What the UI's JSON endpoints answer, read through the store interface (``tracker.store``).

Every function takes an open :class:`tracker.store.Store` and returns plain JSON-ready values;
:mod:`tracker.ui.app` only maps them to routes. Nothing here writes to the store.
"""

from __future__ import annotations

import json
from typing import Any

from tracker.api.history import fetch_tail, part_keys, with_parts
from tracker.api.runs import filter_records
from tracker.store.base import blob_gone
from tracker.store.keys import stream_prefix
from tracker.ui.series import downsample, read_columns

TERMINAL = ("finished", "failed", "crashed", "preempted")
_ROW_FIELDS = ("run_id", "name", "state", "group_name", "job_type", "tags", "created_at")


def projects(store: Any) -> list[dict[str, Any]]:
    """Every project of the store: entity, project, run count, newest run's creation time."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for r in store.catalogue.find_runs():
        p = found.setdefault(
            (r["entity"], r["project"]),
            {"entity": r["entity"], "project": r["project"], "runs": 0, "last_created": None},
        )
        p["runs"] += 1
        p["last_created"] = max(p["last_created"] or 0, r.get("created_at") or 0)
    return sorted(found.values(), key=lambda p: -(p["last_created"] or 0))


def parse_filter(text: str | None) -> dict[str, Any]:
    """The runs table's filter box: §5 filters as JSON (``{"config.lr": {"$gt": 0.01}}``).

    Raises:
        ValueError: text that is not a JSON object.
    """
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"filter is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError('filter must be a JSON object such as {"state": "finished"}')
    return value


def runs_page(
    store: Any,
    entity: str,
    project: str,
    filters: dict[str, Any],
    order: str = "-created_at",
    offset: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of a project's runs table, filtered and ordered as ``Api.runs`` does.

    Returns:
        ``{"total", "runs": [...], "config_keys", "summary_keys"}``: each run with its table
        fields, runtime, and its flat config and summary (the page chooses the columns).

    Raises:
        ValueError: an unknown filter operator or key.
    """
    records = filter_records(
        store.catalogue.find_runs(entity=entity, project=project), filters, order
    )
    config_keys: dict[str, None] = {}
    summary_keys: dict[str, None] = {}
    for r in records:
        config_keys.update(dict.fromkeys(r.get("config") or {}))
        summary_keys.update(
            dict.fromkeys(k for k in r.get("summary") or {} if not k.startswith("_"))
        )
    rows = []
    for r in records[offset : offset + limit]:
        row = {k: r.get(k) for k in _ROW_FIELDS}
        row["runtime"] = r.get("runtime")
        row["config"] = r.get("config") or {}
        row["summary"] = {
            k: v for k, v in (r.get("summary") or {}).items() if not k.startswith("_")
        }
        rows.append(row)
    return {
        "total": len(records),
        "runs": rows,
        "config_keys": sorted(config_keys),
        "summary_keys": sorted(summary_keys),
    }


def run_detail(store: Any, entity: str, project: str, run_id: str) -> dict[str, Any] | None:
    """A run's overview: record fields, chartable keys of history and system metrics, alerts
    and files. None when there is no such run."""
    record = store.catalogue.get_run(entity, project, run_id)
    if record is None:
        return None
    out = {k: v for k, v in record.items() if k not in ("storage_id", "run_dir")}
    out["system_keys"] = _stream_keys(store, entity, project, run_id, "system")
    out["alerts"] = store.catalogue.get_alerts(entity, project, run_id)
    out["files"] = [
        {k: f.get(k) for k in ("name", "size", "updated_at", "policy")}
        for f in store.catalogue.get_files(entity, project, run_id)
    ]
    return out


def _stream_keys(store: Any, entity: str, project: str, run_id: str, stream: str) -> list[str]:
    import pyarrow.parquet as pq

    names: dict[str, None] = {}
    for key in part_keys(store.blobs, stream_prefix(entity, project, run_id, stream)):
        try:
            with store.blobs.open(key) as fh:
                names.update(dict.fromkeys(pq.read_schema(fh).names))
        except OSError as exc:
            if not blob_gone(exc):
                raise
            continue  # compacted meanwhile: the compacted file has the same columns
    return list(names)


def series(
    store: Any,
    store_root: str | None,
    run: dict[str, Any],
    keys: list[str],
    x: str = "_step",
    stream: str = "history",
    buckets: int = 1000,
    lo: float | None = None,
    hi: float | None = None,
) -> dict[str, Any]:
    """Downsampled chart data of ``keys`` of one run against the column ``x``.

    A running run's rows not yet exported are asked of the sidecar serving the store (the
    ``HISTORY_TAIL`` request) and appended, so live charts go up to the last committed step.

    Args:
        store: the open store.
        store_root: the local store folder through which a sidecar is found (None: no tail).
        run: the run's catalogue record.
        keys: the series.
        x: the x column (``_step``, ``_runtime``, ``_timestamp`` or any numeric key).
        stream: ``history`` or ``system``.
        buckets: the most points per series.
        lo: first x of a zoomed range.
        hi: last x of a zoomed range.

    Returns:
        ``{"x": x, "series": {key: {"x", "min", "max", "last"}}, "rows": n}``; keys that are
        not numeric (or absent) are left out.
    """
    e, p, rid = run["entity"], run["project"], run["run_id"]
    prefix = stream_prefix(e, p, rid, stream)
    columns = list(dict.fromkeys([x, "_step", *keys]))
    cols = with_parts(store.blobs, prefix, lambda parts: read_columns(store.blobs, parts, columns))
    if stream == "history" and store_root and run.get("state") not in TERMINAL:
        cols = _with_tail(cols, columns, store_root, e, p, rid)
    rows = len(cols["_step"]) if "_step" in cols else 0
    if x not in cols:
        return {"x": x, "series": {}, "rows": rows}
    xs = cols[x]
    out = {}
    for key in keys:
        if key in cols and key != x:
            out[key] = downsample(xs, cols[key], buckets, lo, hi)
    return {"x": x, "series": out, "rows": rows}


def _with_tail(
    cols: dict[str, Any], columns: list[str], store_root: str, e: str, p: str, rid: str
) -> dict[str, Any]:
    """``cols`` with the sidecar's committed but unexported rows appended."""
    import numpy as np

    steps = cols.get("_step")
    last = int(steps[-1]) if steps is not None and steps.size else -1
    try:
        tail = [r for r in fetch_tail(store_root, e, p, rid, last + 1) if r["_step"] > last]
    except Exception:
        return cols  # the sidecar went away meanwhile: the exported rows are what there is
    if not tail:
        return cols
    n = len(steps) if steps is not None else 0
    out = {}
    for c in columns:
        values = [r.get(c) for r in tail]
        if c not in cols and not any(_number(v) for v in values):
            continue
        extra = np.array([v if _number(v) else np.nan for v in values], dtype=np.float64)
        base = cols.get(c, np.full(n, np.nan))
        out[c] = np.concatenate([base, extra])
    return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float))  # bools too: they chart as 0/1
