"""The store interface: a run catalogue and per-run blob storage.

Writers call one batch primitive, :meth:`Store.write_runs`; the conveniences call it. A
shared store (PostgreSQL catalogue, S3-compatible blobs) implements the same class.
"""

from __future__ import annotations

import abc
from typing import Any

# Catalogue fields of a run; JSON ones are (de)serialised by the implementation.
RUN_FIELDS = (
    "entity",
    "project",
    "run_id",
    "name",
    "state",
    "group_name",
    "job_type",
    "tags",
    "notes",
    "config",
    "summary",
    "summary_state",
    "metadata",
    "system_metrics",
    "created_at",
    "heartbeat_at",
    "updated_at",
    "exit_code",
    "last_step",
    "rows_committed",
    "rows_exported",
    "history_keys",
    "run_dir",
    "mode",
    "runtime",
    "history_parts",
    "host",
    "user",
)
ALERT_FIELDS = (
    "alert_id",
    "entity",
    "project",
    "run_id",
    "time",
    "level",
    "title",
    "text",
    "wait_duration",
    "outcome",
    "webhook",
)
JSON_FIELDS = frozenset(
    {"tags", "config", "summary", "summary_state", "metadata", "system_metrics", "history_keys"}
)


class Store(abc.ABC):
    """Catalogue of runs plus blob storage for their history and files."""

    uri: str

    # -- catalogue -------------------------------------------------------------------------
    @abc.abstractmethod
    def write_runs(self, records: list[dict[str, Any]]) -> None:
        """Insert or update runs, keyed by (entity, project, run_id); given fields only."""

    def put_run(self, record: dict[str, Any]) -> None:
        self.write_runs([record])

    @abc.abstractmethod
    def get_run(self, entity: str, project: str, run_id: str) -> dict[str, Any] | None:
        """One run's catalogue record, or None."""

    @abc.abstractmethod
    def find_runs(
        self, entity: str | None = None, project: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Runs matching the given identity parts (any when None)."""

    @abc.abstractmethod
    def delete_run(self, entity: str, project: str, run_id: str) -> None:
        """Remove a run's record and its blobs."""

    @abc.abstractmethod
    def write_alerts(self, records: list[dict[str, Any]]) -> None:
        """Insert or update alert records, keyed by ``alert_id``."""

    @abc.abstractmethod
    def get_alerts(self, entity: str, project: str, run_id: str) -> list[dict[str, Any]]:
        """A run's alerts in time order."""

    @abc.abstractmethod
    def write_files(
        self, entity: str, project: str, run_id: str, records: list[dict[str, Any]]
    ) -> None:
        """Insert or update a run's file records (name, size, md5, updated_at, policy)."""

    @abc.abstractmethod
    def get_files(
        self,
        entity: str,
        project: str,
        run_id: str,
        names: list[str] | None = None,
        pattern: str | None = None,
    ) -> list[dict[str, Any]]:
        """A run's file records, by exact names or an SQL ``LIKE`` pattern."""

    # -- blobs -----------------------------------------------------------------------------
    @abc.abstractmethod
    def blob_path(self, entity: str, project: str, run_id: str, *parts: str) -> str:
        """A local path for a run's blob (history part, file); the writer creates its folder."""

    @abc.abstractmethod
    def list_blobs(self, entity: str, project: str, run_id: str, folder: str) -> list[str]:
        """Sorted local paths of a run's blobs under ``folder`` (e.g. ``history``)."""

    @abc.abstractmethod
    def delete_blob(self, path: str) -> None:
        """Remove one blob (as listed by :meth:`list_blobs`)."""

    def close(self) -> None:  # noqa: B027 - optional: stores without connections need nothing
        """Release connections."""
