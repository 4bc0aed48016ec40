"""The SQLite catalogue of a local store: ``<store>/catalogue.db`` in WAL mode.

WAL lets many readers (``tracker.Api``, the CLI) read while the sidecar writes. Each thread
gets its own connection, since sqlite3 connections must not cross threads. The queries and
the migrations are the shared SQL catalogue's (:mod:`tracker.store.sqlcat`); this module
supplies the connection and SQLite's way of recording the schema version (``user_version``).
A catalogue newer than this code is refused, never half understood.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from tracker.errors import Error
from tracker.store.sqlcat import MIGRATIONS, SCHEMA_VERSION, SQLITE, Execute, SqlCatalogue

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqliteCatalogue"]

_SCHEMA = MIGRATIONS[0]  # version 1: what stores wrote before versions were recorded


class SqliteCatalogue(SqlCatalogue):
    """The catalogue in ``<root>/catalogue.db`` (created with its tables when missing).

    Args:
        root: the store's folder.
    """

    dialect = SQLITE

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)
        self._local = threading.local()
        _migrate(os.path.join(root, "catalogue.db"))

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(os.path.join(self.root, "catalogue.db"), timeout=30)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self._db().execute(sql, args)]

    @contextlib.contextmanager
    def _transaction(self, exclusive: bool = False) -> Iterator[Execute]:
        """A transaction holding the catalogue's write lock from its start (``BEGIN
        IMMEDIATE``), so its reads stay true until it commits: every SQLite write
        transaction is exclusive, whatever ``exclusive`` says."""
        db = self._db()
        if db.in_transaction:  # a read left open by the legacy isolation mode: nothing to keep
            db.commit()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield lambda sql, args: [dict(r) for r in db.execute(sql, args).fetchall()]
        except BaseException:
            db.rollback()
            raise
        db.commit()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _migrate(path: str) -> None:
    """Bring the catalogue at ``path`` to :data:`SCHEMA_VERSION`, one transaction per step.

    Raises:
        Error: the catalogue's schema is newer than this code's.
    """
    db = sqlite3.connect(path, timeout=30, isolation_level=None)  # transactions by hand
    try:
        db.execute("PRAGMA journal_mode=WAL")
        while True:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise Error(
                    f"{path} has catalogue schema version {version}, newer than this "
                    f"tracker's {SCHEMA_VERSION}: upgrade tracker to use this store"
                )
            if version == SCHEMA_VERSION:
                return
            db.execute("BEGIN IMMEDIATE")  # one migrator at a time; the others wait, then see it
            try:
                if db.execute("PRAGMA user_version").fetchone()[0] == version:
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            db.execute(SQLITE.ddl(statement))
                    db.execute(f"PRAGMA user_version = {version + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
    finally:
        db.close()
