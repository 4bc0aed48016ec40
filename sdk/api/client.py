"""``tracker.Api``: find runs in a store (§5)."""

from __future__ import annotations

import getpass
from typing import Any

from tracker.errors import Error
from tracker.settings import Env, default_store


class Api:
    """Read (and edit) the runs of a store.

    Args:
        store: a store folder or ``file://`` URI (default ``TRACKER_STORE`` or
            ``~/.tracker/store``).
        overrides: W&B's; ``entity`` and ``project`` become the defaults of run paths, the
            other keys (``base_url``...) mean nothing to a local store.
        timeout: W&B's request timeout; kept as ``api.timeout`` (reads are local).
        api_key: W&B's; accepted, unused.

    Raises:
        Error: a store URI whose scheme is not served (the message names those that are).

    Example:
        >>> api = tracker.Api()
        >>> run = api.run("me/mnist/abc12345")
        >>> run.history(keys=["loss"])
    """

    def __init__(
        self,
        store: str | None = None,
        overrides: dict[str, Any] | None = None,
        timeout: int | None = None,
        api_key: str | None = None,
    ) -> None:
        from tracker.store import open_store, parse_store_uri

        # W&B's overrides: "entity" and "project" are the defaults of run paths here; the
        # rest (base_url...), timeout and api_key have no meaning for a local store.
        self.overrides = dict(overrides or {})
        self.timeout = timeout

        # TRACKER_STORE as given, not as a folder: a URI of another backend must be refused
        where = parse_store_uri(store or Env.get(Env.STORE) or default_store())
        self.store_root = where.location  # the sidecar serving the store is found by this
        self._store = open_store(where.uri, Env.s3_defaults())

    @property
    def store(self) -> Any:
        return self._store

    @property
    def default_entity(self) -> str:
        env = self.overrides.get("entity") or Env.get(Env.ENTITY)
        if env:
            return env
        try:
            return getpass.getuser()
        except Exception:
            return "user"

    @property
    def default_project(self) -> str:
        return self.overrides.get("project") or Env.get(Env.PROJECT) or "uncategorized"

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
            record = self._store.catalogue.get_run(
                self.default_entity, self.default_project, run_id
            )
            if record is None:
                found = self._store.catalogue.find_runs(run_id=run_id)
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
        record = self._store.catalogue.get_run(entity, project, run_id)
        if record is None:
            raise Error(f"run {entity}/{project}/{run_id} not found in {self._store.uri}")
        return Run(self, record)

    def runs(
        self,
        path: str | None = None,
        filters: dict[str, Any] | None = None,
        order: str = "-created_at",
        per_page: int = 50,
        include_sweeps: bool = True,
        lazy: bool = True,
    ) -> Any:
        """Runs of a project, filtered and ordered: a lazy, paginated :class:`Runs`.

        Args:
            path: ``entity/project`` or ``project`` (default: the default project).
            filters: W&B's filters (see ``tracker/api/runs.py``): ``{"state": "finished",
                "config.lr": {"$gt": 0.01}, "$or": [{"tags": "x"}, {"group": "g"}]}``;
                operators ``$eq $ne $gt $lt $gte $lte $in $nin $regex $exists``, ``$or``,
                ``$and``, ``$nor``.
            order: a field, ``+`` ascending or ``-`` descending (``created_at``,
                ``summary.<key>``, ``config.<key>``, ``name``...).
            per_page: how many ``Run`` objects are made at a time.
            include_sweeps: accepted (no sweeps here).
            lazy: accepted (runs are always read lazily).

        Returns:
            A :class:`tracker.api.runs.Runs` (``len``, index, iterate, ``histories``); nothing
            is read until it is used.

        Raises:
            ValueError: an unknown operator, or a bad ``per_page``; an unknown filter key
                when the runs are first read.
        """
        from tracker.api.public_run import Run
        from tracker.api.runs import Runs, check_filters, filter_records

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
        check_filters(filters or {})

        def load() -> list[dict]:
            return filter_records(
                self._store.catalogue.find_runs(entity=entity, project=project), filters, order
            )

        return Runs(load, lambda record: Run(self, record), per_page)

    def projects(self, entity: str | None = None, per_page: int = 200) -> list[Any]:
        """The projects of ``entity`` (default: the default entity) that hold runs.

        Returns:
            :class:`Project` objects (``name``, ``entity``, ``path``), sorted by name.
        """
        entity = entity or self.default_entity
        names = sorted({r["project"] for r in self._store.catalogue.find_runs(entity=entity)})
        return [Project(self, entity, name) for name in names]

    def flush(self) -> None:
        """Forget cached reads: the next read sees the store as it is now (W&B's cache)."""
        return None

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


class Project:
    """A project of the store: ``entity``, ``name``, ``path``; ``runs()`` lists its runs."""

    def __init__(self, api: Api, entity: str, name: str) -> None:
        self._api = api
        self.entity = entity
        self.name = name

    @property
    def path(self) -> list[str]:
        return [self.entity, self.name]

    @property
    def id(self) -> str:
        return f"{self.entity}/{self.name}"

    def runs(self, **kwargs: Any) -> Any:
        """``Api().runs`` of this project."""
        return self._api.runs(f"{self.entity}/{self.name}", **kwargs)

    def __repr__(self) -> str:
        return f"<Project {self.entity}/{self.name}>"
