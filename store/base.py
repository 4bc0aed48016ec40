"""The store interfaces (§8, §13): a catalogue of runs and a blob store addressed by keys.

:class:`Catalogue` holds the records (runs, alerts, files); writers call one batch primitive,
:meth:`Catalogue.write_runs`, and the conveniences call it. :class:`BlobStore` holds the bytes
(parquet parts, saved files) under keys such as
``runs/<entity>/<project>/<run_id>/history/part-00000.parquet`` (see :mod:`tracker.store.keys`),
never under local paths, so that the sidecar and the read API work the same on a local folder
or on object storage. A :class:`Store` is one of each, chosen together by URI
(:func:`tracker.store.open_store`).
"""

from __future__ import annotations

import abc
import hashlib
import os
import shutil
import uuid
from contextlib import AbstractContextManager
from typing import IO, Any

from tracker.errors import Error
from tracker.store.keys import run_prefix

CHUNK = 1 << 20  # copies stream in 1 MiB chunks: a 1 GB file never sits in memory

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


class Catalogue(abc.ABC):
    """Records of runs, their alerts and their files."""

    @abc.abstractmethod
    def write_runs(self, records: list[dict[str, Any]]) -> None:
        """Insert or update runs, keyed by (entity, project, run_id); given fields only.

        Args:
            records: dicts of :data:`RUN_FIELDS` (JSON ones as Python values).
        """

    def put_run(self, record: dict[str, Any]) -> None:
        """Insert or update one run (see :meth:`write_runs`)."""
        self.write_runs([record])

    @abc.abstractmethod
    def get_run(self, entity: str, project: str, run_id: str) -> dict[str, Any] | None:
        """One run's record, or None."""

    @abc.abstractmethod
    def find_runs(
        self, entity: str | None = None, project: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Runs matching the given identity parts (any when None), oldest first."""

    @abc.abstractmethod
    def delete_run(self, entity: str, project: str, run_id: str) -> None:
        """Remove a run's record, alerts and file records."""

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
        """A run's file records, by exact names or an SQL ``LIKE`` pattern, by name."""

    def delete_files(self, entity: str, project: str, run_id: str, names: list[str]) -> None:
        """Remove a run's file records by name (``File.delete``).

        Raises:
            Error: this catalogue cannot remove file records.
        """
        raise Error(f"{type(self).__name__} cannot delete file records")

    def close(self) -> None:  # noqa: B027 - optional: catalogues without connections need nothing
        """Release connections (of the calling thread)."""


# what object stores say of a missing object, in the OSError pyarrow raises mid-read
_GONE = ("RESOURCE_NOT_FOUND", "NO_SUCH_KEY", "NoSuchKey", "Path does not exist")


def blob_gone(exc: BaseException) -> bool:
    """Whether ``exc``, raised while a blob was opened or read, says the blob is not there.

    A local blob removed after it was opened still reads (POSIX), and opening a missing one
    raises ``FileNotFoundError``; an object store checks the object when it is opened and
    reads it later, so one removed in between (a run compacted at finish while a reader goes
    through its parts) fails mid-read with a plain ``OSError`` naming the missing object.
    """
    return isinstance(exc, FileNotFoundError) or (
        isinstance(exc, OSError) and any(word in str(exc) for word in _GONE)
    )


class BlobStore(abc.ABC):
    """Bytes under keys (see :mod:`tracker.store.keys`); every write appears atomically.

    A reader sees a blob whole or not at all: never half of it, never a temporary name.
    Implementations are safe to use from several threads at once.
    """

    uri: str
    # Seconds between a running run's history parts. Readers on the sidecar's host also see
    # rows not yet in a part (the sidecar's live tail); readers elsewhere see parts only, so
    # a store shared between hosts cuts them more often (§13: visible within 5 s).
    part_period: float = 10.0

    @abc.abstractmethod
    def writer(self, key: str) -> AbstractContextManager[IO[bytes]]:
        """A writable binary stream whose content appears under ``key`` when the block ends.

        If the block raises, nothing appears and the key keeps its former content.

        Example:
            >>> with blobs.writer("runs/e/p/r/history/part-00000.parquet") as out:
            ...     pyarrow.parquet.write_table(table, out)

        Raises:
            ValueError: an invalid key.
            OSError: the store cannot be written.
        """

    @abc.abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """The blob under ``key``, open for reading (seekable; pyarrow reads it natively).

        Raises:
            FileNotFoundError: no blob under ``key``.
        """

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Sorted keys of the blobs under the folder key ``prefix`` (recursively)."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove one blob; nothing happens if it is not there."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every blob under the folder key ``prefix``."""

    @abc.abstractmethod
    def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None if there is no blob under ``key``."""

    @abc.abstractmethod
    def url(self, key: str) -> str:
        """A URL of the blob (``file://...`` for a local store)."""

    def exists(self, key: str) -> bool:
        """Whether a blob is under ``key``."""
        return self.size(key) is not None

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing what was there."""
        with self.writer(key) as out:
            out.write(data)

    def put_file(self, key: str, local_path: str) -> tuple[int, str]:
        """Copy a local file under ``key`` in chunks; return its (size, md5 hex digest).

        The source is read once, never whole into memory; it is the caller's file, which may
        be rewritten in place later, so it is always copied, never linked.

        Raises:
            OSError: the source cannot be read or the store cannot be written.
        """
        md5 = hashlib.md5()
        size = 0
        with open(local_path, "rb") as src, self.writer(key) as out:
            while chunk := src.read(CHUNK):
                md5.update(chunk)
                out.write(chunk)
                size += len(chunk)
        return size, md5.hexdigest()

    def get_file(self, key: str, local_path: str, link: bool = False) -> None:
        """Copy the blob under ``key`` to ``local_path`` (via a temporary name, then renamed).

        Args:
            key: the blob.
            local_path: where the copy goes; replaced if it exists.
            link: the caller owns ``local_path`` and nobody will rewrite it in place, so a
                backend may share the blob's content instead of copying (a hard link).

        Raises:
            FileNotFoundError: no blob under ``key``.
            OSError: ``local_path`` cannot be written.
        """
        tmp = f"{local_path}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with self.open(key) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.replace(tmp, local_path)
        except BaseException:
            _unlink_quietly(tmp)
            raise


class Store:
    """A catalogue and a blob store, opened together by :func:`tracker.store.open_store`.

    Records are read and written through :attr:`catalogue`, bytes through :attr:`blobs`; what
    needs both (removing a run) is a method here.

    Attributes:
        uri: the store's URI (``file:///path`` for a local store).
        catalogue: the records.
        blobs: the bytes, by key.
        s3_defaults: the S3 options it was opened with (artifact references use them).
    """

    def __init__(
        self,
        uri: str,
        catalogue: Catalogue,
        blobs: BlobStore,
        s3_defaults: dict[str, str] | None = None,
    ) -> None:
        self.uri = uri
        self.catalogue = catalogue
        self.blobs = blobs
        self.s3_defaults = dict(s3_defaults or {})  # for s3:// artifact references

    def delete_run(self, entity: str, project: str, run_id: str) -> None:
        """Remove a run's records, then its blobs (history, system metrics, files)."""
        self.catalogue.delete_run(entity, project, run_id)
        self.blobs.delete_prefix(run_prefix(entity, project, run_id))

    def close(self) -> None:
        self.catalogue.close()


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
