"""The PostgreSQL catalogue of a shared store (§13), through psycopg 3.

The queries and migrations are the shared SQL catalogue's (:mod:`tracker.store.sqlcat`);
this module supplies connections and PostgreSQL's way of recording the schema version: a
``tracker_schema`` table, changed under an advisory lock so that many sidecars starting at
once migrate exactly once.

Each thread gets its own connection (autocommit, explicit transactions), opened on first use
and dropped when the server goes away, so the next call reconnects: a restarted server costs
the writes made while it was down an error each (the sidecar's store writer retries them),
never a dead connection for good. psycopg is imported only here, when a ``postgresql://``
store is opened.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from tracker.errors import Error
from tracker.store.sqlcat import MIGRATIONS, POSTGRES, SCHEMA_VERSION, Execute, SqlCatalogue

_LOCK_ID = 0x7472_6B72  # "trkr": the advisory lock of migrations
_WRITE_LOCK_ID = 0x7472_6B77  # "trkw": the advisory lock of exclusive transactions
CONNECT_TIMEOUT = 5  # seconds; a server that is down fails fast and the writer retries


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - depends on the environment
        raise Error(
            "a postgresql:// store needs psycopg 3: pip install 'tracker[shared]'"
        ) from None
    return psycopg


class PostgresCatalogue(SqlCatalogue):
    """The catalogue in a PostgreSQL database (tables created and migrated when missing).

    Args:
        conninfo: a libpq connection string or ``postgresql://`` URI (without tracker's own
            query parameters); libpq's ``PG*`` variables fill what it leaves out.

    Raises:
        tracker.Error: psycopg is missing, the server cannot be reached, or its schema is
            newer than this code's.
    """

    dialect = POSTGRES

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._local = threading.local()
        psycopg = _psycopg()
        try:
            self._migrate()
        except psycopg.OperationalError as exc:
            raise Error(f"cannot reach the PostgreSQL catalogue: {exc}".strip()) from None

    def _db(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None or db.closed or db.broken:
            psycopg = _psycopg()
            from psycopg.rows import dict_row

            db = psycopg.connect(
                self.conninfo,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="tracker",
            )
            self._local.db = db
        return db

    def _forget_broken(self) -> None:
        """Drop this thread's connection if the server went away, so the next call reconnects."""
        db = getattr(self._local, "db", None)
        if db is not None and (db.closed or db.broken):
            with contextlib.suppress(Exception):
                db.close()
            self._local.db = None

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of one read; a read on a connection the server dropped is made again once."""
        for attempt in (1, 2):
            db = self._db()
            try:
                with db.cursor() as cur:
                    cur.execute(sql, args)
                    return cur.fetchall()
            except Exception:
                # a lone read is safe to repeat; one inside a transaction is not ours to redo
                reconnect = db.broken and attempt == 1 and not getattr(self._local, "tx", False)
                self._forget_broken()
                if not reconnect:
                    raise
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _transaction(self, exclusive: bool = False) -> Iterator[Execute]:
        """A transaction (read committed); ``exclusive`` ones hold one advisory lock from
        their start, so their reads stay true until they commit (as under SQLite's lock)."""
        db = self._db()
        self._local.tx = True
        try:
            with db.transaction(), db.cursor() as cur:

                def execute(sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
                    cur.execute(sql, args)
                    return cur.fetchall() if cur.description is not None else []

                if exclusive:
                    execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_ID,))
                yield execute
        except Exception:
            self._forget_broken()
            raise
        finally:
            self._local.tx = False

    def _migrate(self) -> None:
        """Bring the database to :data:`SCHEMA_VERSION`, all steps in one transaction.

        Raises:
            Error: the database's schema is newer than this code's.
        """
        with self._transaction() as execute:
            execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))  # one migrator at a time
            execute("CREATE TABLE IF NOT EXISTS tracker_schema (version INTEGER NOT NULL)", ())
            rows = self._query("SELECT version FROM tracker_schema")
            version = rows[0]["version"] if rows else 0
            if version > SCHEMA_VERSION:
                raise Error(
                    f"the PostgreSQL catalogue has schema version {version}, newer than this "
                    f"tracker's {SCHEMA_VERSION}: upgrade tracker to use this store"
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        execute(POSTGRES.ddl(statement), ())
            if not rows:
                execute("INSERT INTO tracker_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
            elif version != SCHEMA_VERSION:
                execute("UPDATE tracker_schema SET version = %s", (SCHEMA_VERSION,))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            with contextlib.suppress(Exception):
                db.close()
            self._local.db = None
