"""``Api().runs(...)``: a lazy, paginated collection of runs, and W&B's filter language.

Nothing is read when ``runs()`` returns: the first ``len``, index or iteration asks the
catalogue for the project's records once (filtered and ordered here: the catalogue stores
config and summary as documents), and ``Run`` objects are made ``per_page`` at a time as
iteration or indexing reaches them.

Filters are W&B's (MongoDB-like): ``{"state": "finished"}``, ``{"config.lr": {"$gt": 0.1}}``,
``{"$or": [{...}, {...}]}``, ``{"$and": [...]}``, ``{"display_name": {"$regex": "^bert"}}``,
``{"summary_metrics.acc": {"$exists": True}}``; operators ``$eq $ne $gt $lt $gte $lte $in
$nin $regex $exists``. Keys: ``state``, ``group``, ``job_type``, ``tags``, ``name`` /
``display_name`` / ``displayName``, ``id``, ``created_at`` / ``createdAt``, ``config.<key>``
(``config.<key>.value`` too, as W&B stores config), ``summary.<key>`` /
``summary_metrics.<key>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

OPS = ("$eq", "$ne", "$gt", "$lt", "$gte", "$lte", "$in", "$nin", "$regex", "$exists")
LOGICAL = ("$or", "$and", "$nor")
MISSING = object()
_FIELDS = {
    "group": "group_name",
    "display_name": "name",
    "displayName": "name",
    "id": "run_id",
    "createdAt": "created_at",
    "jobType": "job_type",
    "heartbeatAt": "heartbeat_at",
}


def check_filters(filters: Any) -> None:
    """Refuse a malformed filter before anything is read.

    Raises:
        ValueError: an unknown operator, or a logical operator without a list of filters.
    """
    if not isinstance(filters, dict):
        raise ValueError(f"runs() filters must be a dict, got {type(filters).__name__}")
    for key, cond in filters.items():
        if key in LOGICAL:
            if not isinstance(cond, list) or not all(isinstance(c, dict) for c in cond):
                raise ValueError(f"filter {key!r} takes a list of filters")
            for sub in cond:
                check_filters(sub)
        elif str(key).startswith("$"):
            raise ValueError(f"unknown filter operator {key!r}; use {', '.join(LOGICAL)}")
        elif _is_condition(cond):
            for op in cond:
                if op not in OPS:
                    raise ValueError(
                        f"unknown filter operator {op!r} for {key!r}; use {', '.join(OPS)}"
                    )


def field(record: dict, key: str) -> Any:
    """The value of filter/order key ``key`` in a catalogue record (``MISSING`` if absent).

    Raises:
        ValueError: a key that names no field of a run.
    """
    if key.startswith("config."):
        path = key[len("config.") :]
        value = _dig(record.get("config") or {}, path)
        if value is MISSING and path.endswith(".value"):  # W&B's config.<key>.value
            value = _dig(record.get("config") or {}, path[: -len(".value")])
        return value
    if key.startswith("summary.") or key.startswith("summary_metrics."):
        return _dig(record.get("summary") or {}, key.split(".", 1)[1])
    name = _FIELDS.get(key, key)
    if name not in record:
        raise ValueError(f"unknown filter/order key {key!r}")
    return record[name]


def matches(record: dict, filters: dict) -> bool:
    """Whether ``record`` passes ``filters`` (checked by :func:`check_filters`)."""
    for key, cond in filters.items():
        if key == "$or":
            if not any(matches(record, sub) for sub in cond):
                return False
        elif key == "$and":
            if not all(matches(record, sub) for sub in cond):
                return False
        elif key == "$nor":
            if any(matches(record, sub) for sub in cond):
                return False
        elif not _holds(field(record, key), cond, key == "tags"):
            return False
    return True


def order_records(records: list[dict], order: str) -> list[dict]:
    """``records`` sorted by ``order`` (``+key`` / ``-key``); runs without the key last."""
    if not order:
        return records
    desc = order.startswith("-")
    key = order.lstrip("+-")
    present = [r for r in records if field(r, key) not in (MISSING, None)]
    absent = [r for r in records if field(r, key) in (MISSING, None)]
    present.sort(key=lambda r: _sortable(field(r, key)), reverse=desc)
    return present + absent


def filter_records(records: list[dict], filters: dict | None, order: str) -> list[dict]:
    """Catalogue records kept by ``filters`` and sorted by ``order``, as ``Api.runs`` does.

    Raises:
        ValueError: an unknown operator or filter key.
    """
    check_filters(filters or {})
    return order_records([r for r in records if matches(r, filters or {})], order)


class Runs(Sequence):
    """The runs ``Api().runs(...)`` found: ``len``, index, slice, iterate, ``histories``.

    Args:
        load: returns the matching catalogue records, in order (called once, on first use).
        make: builds a read-side ``Run`` from a record.
        per_page: how many ``Run`` objects are made at a time.
    """

    def __init__(
        self, load: Callable[[], list[dict]], make: Callable[[dict], Any], per_page: int = 50
    ) -> None:
        if type(per_page) is not int or per_page < 1:
            raise ValueError(f"runs() per_page must be a positive int, got {per_page!r}")
        self._load = load
        self._make = make
        self.per_page = per_page
        self._records: list[dict] | None = None
        self._objects: list[Any] = []
        self.pages_loaded = 0

    def _all_records(self) -> list[dict]:
        if self._records is None:
            self._records = self._load()
        return self._records

    def _fill(self, upto: int) -> None:
        """Make ``Run`` objects, a page at a time, until index ``upto`` exists."""
        records = self._all_records()
        while len(self._objects) <= upto and len(self._objects) < len(records):
            start = len(self._objects)
            page = records[start : start + self.per_page]
            self._objects.extend(self._make(r) for r in page)
            self.pages_loaded += 1

    def __len__(self) -> int:
        return len(self._all_records())

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("runs index out of range")
        self._fill(i)
        return self._objects[i]

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, Runs)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @property
    def length(self) -> int:
        """The number of runs (W&B's attribute)."""
        return len(self)

    def histories(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: str = "default",  # noqa: A002 - W&B's name
        stream: str = "default",
    ) -> Any:
        """Every run's sampled history in one table, with a ``run_id`` column.

        Args:
            samples: the most rows per run.
            keys: only these columns (and rows with at least one of them).
            x_axis: the column kept with ``keys``.
            format: ``"default"`` (a list of dicts), ``"pandas"`` (a DataFrame) or
                ``"polars"`` (a polars DataFrame, when polars is installed).
            stream: ``"default"`` or ``"system"``.

        Raises:
            ValueError: another ``format``.
        """
        if format not in ("default", "pandas", "polars"):
            raise ValueError(f"histories() format must be default, pandas or polars: {format!r}")
        rows = []
        for run in self:
            for row in run.history(samples, keys, x_axis, pandas=False, stream=stream):
                rows.append({**row, "run_id": run.id})
        if format == "default":
            return rows
        if format == "polars":
            import polars

            return polars.DataFrame(rows)
        import pandas as pd

        return pd.DataFrame.from_records(rows)

    def __repr__(self) -> str:
        return f"<Runs {len(self)} runs>"


def _is_condition(cond: Any) -> bool:
    return isinstance(cond, dict) and bool(cond) and all(str(k).startswith("$") for k in cond)


def _dig(mapping: dict, key: str) -> Any:
    if key in mapping:
        return mapping[key]
    cur: Any = mapping
    for part in key.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return MISSING
    return cur


def _holds(value: Any, cond: Any, is_list: bool) -> bool:
    if not _is_condition(cond):
        cond = {"$eq": cond}
    return all(_test(value, op, arg, is_list) for op, arg in cond.items())


def _test(value: Any, op: str, arg: Any, is_list: bool) -> bool:
    if op == "$exists":
        return (value is not MISSING and value is not None) == bool(arg)
    if is_list:
        return _test_tags(value or [], op, arg)
    if value is MISSING:
        return op in ("$ne", "$nin")
    if op == "$regex":
        return isinstance(value, str) and re.search(str(arg), value) is not None
    try:
        if op == "$eq":
            return value == arg
        if op == "$ne":
            return value != arg
        if op == "$in":
            return value in arg
        if op == "$nin":
            return value not in arg
        if op == "$gt":
            return value > arg
        if op == "$lt":
            return value < arg
        if op == "$gte":
            return value >= arg
        if op == "$lte":
            return value <= arg
    except TypeError:
        return False
    return False


def _test_tags(tags: list, op: str, arg: Any) -> bool:
    if op == "$eq":
        return arg in tags if not isinstance(arg, list) else sorted(arg) == sorted(tags)
    if op == "$ne":
        return arg not in tags
    if op == "$in":
        return any(a in tags for a in arg)
    if op == "$nin":
        return not any(a in tags for a in arg)
    if op == "$regex":
        return any(re.search(str(arg), t) for t in tags)
    return False


def _sortable(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, v, "")
    return (1, 0, str(v))
