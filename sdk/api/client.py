"""``tracker.Api``: find runs in a store (§5)."""

from __future__ import annotations

import getpass
from typing import Any

from tracker.errors import Error
from tracker.settings import Env, default_store

_OPS = ("$eq", "$ne", "$gt", "$lt", "$gte", "$lte", "$in", "$nin")


class Api:
    """Read (and edit) the runs of a store.

    Args:
        store: a store folder or ``file://`` URI (default ``TRACKER_STORE`` or
            ``~/.tracker/store``).

    Raises:
        Error: a store URI whose scheme is not served (the message names those that are).

    Example:
        >>> api = tracker.Api()
        >>> run = api.run("me/mnist/abc12345")
        >>> run.history(keys=["loss"])
    """

    def __init__(self, store: str | None = None) -> None:
        from tracker.store import open_store, parse_store_uri

        # TRACKER_STORE as given, not as a folder: a URI of another backend must be refused
        where = parse_store_uri(store or Env.get(Env.STORE) or default_store())
        self.store_root = where.location  # the sidecar serving the store is found by this
        self._store = open_store(where.uri, Env.s3_defaults())

    @property
    def store(self) -> Any:
        return self._store

    @property
    def default_entity(self) -> str:
        env = Env.get(Env.ENTITY)
        if env:
            return env
        try:
            return getpass.getuser()
        except Exception:
            return "user"

    @property
    def default_project(self) -> str:
        return Env.get(Env.PROJECT) or "uncategorized"

    def run(self, path: str) -> Any:
        """The run at ``entity/project/run_id`` (also ``project/run_id`` or ``run_id``).

        Raises:
            Error: no such run (or an id alone that matches runs in several projects).
        """
        from tracker.api.public_run import Run

        parts = [p for p in str(path).replace(":", "/").split("/") if p]
        if parts[-2:-1] == ["runs"]:
            parts = parts[:-2] + parts[-1:]
        if len(parts) == 3:
            entity, project, run_id = parts
        elif len(parts) == 2:
            entity, (project, run_id) = self.default_entity, parts
        elif len(parts) == 1:
            run_id = parts[0]
            record = self._store.get_run(self.default_entity, self.default_project, run_id)
            if record is None:
                found = self._store.find_runs(run_id=run_id)
                if len(found) == 1:
                    record = found[0]
                elif len(found) > 1:
                    where = ", ".join(f"{r['entity']}/{r['project']}" for r in found)
                    raise Error(
                        f"run id {run_id!r} is in several projects ({where}); give the full path"
                    )
            if record is None:
                raise Error(f"run {run_id!r} not found in {self._store.uri}")
            return Run(self, record)
        else:
            raise Error(f"bad run path {path!r}: use entity/project/run_id")
        record = self._store.get_run(entity, project, run_id)
        if record is None:
            raise Error(f"run {entity}/{project}/{run_id} not found in {self._store.uri}")
        return Run(self, record)

    def runs(
        self,
        path: str | None = None,
        filters: dict[str, Any] | None = None,
        order: str = "-created_at",
        per_page: int = 50,
    ) -> list[Any]:
        """Runs of a project, filtered and ordered.

        Args:
            path: ``entity/project`` or ``project`` (default: the default project). ``None``
                with filters that name no project: every run of the default entity's project.
            filters: ``{"state": "finished", "config.lr": {"$gt": 0.01}, "tags": "x"}``; keys
                ``state``, ``group``, ``job_type``, ``tags``, ``name``, ``config.<key>``,
                ``summary.<key>``; operators ``$eq $ne $gt $lt $gte $lte $in $nin``.
            order: a field, ``+`` ascending or ``-`` descending (``created_at``,
                ``summary.<key>``, ``config.<key>``, ``name``...).
            per_page: kept for W&B compatibility (everything is local).

        Returns:
            A list of :class:`tracker.api.Run`.

        Raises:
            ValueError: an unknown operator or filter key.
        """
        from tracker.api.public_run import Run

        if path is None:
            entity, project = self.default_entity, self.default_project
        else:
            parts = [p for p in path.split("/") if p]
            if len(parts) == 2:
                entity, project = parts
            elif len(parts) == 1:
                entity, project = self.default_entity, parts[0]
            else:
                raise Error(f"bad project path {path!r}: use entity/project")
        records = self._store.find_runs(entity=entity, project=project)
        for key, cond in (filters or {}).items():
            records = [r for r in records if _matches(_field(r, key), cond, key)]
        records = _order(records, order)
        return [Run(self, r) for r in records]

    # -- artifacts (tracker.api.artifact_read) ----------------------------------------------
    def artifact(self, name: str, type: str | None = None) -> Any:  # noqa: A002
        """The version ``[entity/][project/]name[:alias or v<N>]`` (default ``latest``).

        Raises:
            Error: no such artifact, alias or version, another type, or a bad path.
        """
        from tracker.api.artifact_read import get_artifact

        return get_artifact(self, name, type)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:  # noqa: A002
        """Whether :meth:`artifact` would find ``name``."""
        try:
            self.artifact(name, type)
            return True
        except Error:
            return False

    def artifacts(self, type_name: str | None, name: str, per_page: int = 50, **_: Any) -> list:
        """Every version of the collection ``[entity/][project/]name``, newest first."""
        from tracker.api.artifact_read import versions

        return versions(self, type_name, name)

    def artifact_versions(self, type_name: str | None, name: str, per_page: int = 50) -> list:
        """Same as :meth:`artifacts` (W&B's older name)."""
        return self.artifacts(type_name, name)

    def artifact_collections(
        self, project_name: str | None = None, type_name: str | None = None
    ) -> list:
        """The artifact collections of ``[entity/]project`` (of ``type_name`` when given)."""
        from tracker.api.artifact_read import collections

        return collections(self, project_name, type_name)


_MISSING = object()


def _field(record: dict, key: str) -> Any:
    if key.startswith("config."):
        return _dig(record.get("config") or {}, key[len("config.") :])
    if key.startswith("summary.") or key.startswith("summary_metrics."):
        return _dig(record.get("summary") or {}, key.split(".", 1)[1])
    mapping = {"group": "group_name", "display_name": "name", "id": "run_id"}
    name = mapping.get(key, key)
    if name not in record:
        raise ValueError(f"unknown filter/order key {key!r}")
    return record[name]


def _dig(mapping: dict, key: str) -> Any:
    if key in mapping:
        return mapping[key]
    cur: Any = mapping
    for part in key.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return _MISSING
    return cur


def _matches(value: Any, cond: Any, key: str) -> bool:
    if not (isinstance(cond, dict) and cond and all(str(k).startswith("$") for k in cond)):
        cond = {"$eq": cond}
    for op, arg in cond.items():
        if op not in _OPS:
            raise ValueError(f"unknown filter operator {op!r} for {key!r}; use {', '.join(_OPS)}")
        if not _test(value, op, arg, key == "tags"):
            return False
    return True


def _test(value: Any, op: str, arg: Any, is_list: bool) -> bool:
    if is_list:
        tags = value or []
        if op == "$eq":
            return arg in tags if not isinstance(arg, list) else sorted(arg) == sorted(tags)
        if op == "$ne":
            return arg not in tags
        if op == "$in":
            return any(a in tags for a in arg)
        if op == "$nin":
            return not any(a in tags for a in arg)
        return False
    if value is _MISSING:
        return op in ("$ne", "$nin")
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


def _order(records: list[dict], order: str) -> list[dict]:
    if not order:
        return records
    desc = order.startswith("-")
    key = order.lstrip("+-")

    def sort_key(r: dict) -> tuple:
        v = _field(r, key)
        missing = v is _MISSING or v is None
        return (missing, _sortable(v))

    present = [r for r in records if not sort_key(r)[0]]
    absent = [r for r in records if sort_key(r)[0]]
    present.sort(key=lambda r: _sortable(_field(r, key)), reverse=desc)
    return present + absent


def _sortable(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, v, "")
    return (1, 0, str(v))
