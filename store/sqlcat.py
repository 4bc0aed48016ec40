"""The catalogue's SQL, written once for every SQL engine (SQLite locally, PostgreSQL shared).

:class:`SqlCatalogue` holds every query and the schema's migrations; an engine's subclass
supplies only a connection (:meth:`SqlCatalogue._query`, :meth:`SqlCatalogue._transaction`)
and a :class:`Dialect` that translates the few things engines spell differently: the
placeholder (SQLite's ``?``, psycopg's ``%s``), column types in DDL, and the insertion order
column. Queries are written in SQLite's spelling with every identifier double-quoted (so a
column named ``user``, reserved in PostgreSQL, works on both), and ``INSERT ... ON CONFLICT
DO UPDATE`` (an upsert both engines share). A table added by a migration works on both
engines without a second implementation: the artifact tables
(:mod:`tracker.store.artifact_catalogue`, mixed into :class:`SqlCatalogue`) are one.

Queries reach the engine through :class:`Statements`: :meth:`SqlCatalogue._reader` for lone
reads, :meth:`SqlCatalogue._tx` for a transaction that reads and writes; an ``exclusive``
transaction is serialized against every other exclusive one (SQLite: its write lock, taken at
``BEGIN IMMEDIATE``; PostgreSQL: an advisory transaction lock), so a read inside it stays true
until it commits.
"""

from __future__ import annotations

import abc
import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from tracker.store.artifact_catalogue import ARTIFACT_SCHEMA, ArtifactCatalogue
from tracker.store.base import ALERT_FIELDS, JSON_FIELDS, RUN_FIELDS, Catalogue

_SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS runs (
    storage_id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL, project TEXT NOT NULL, run_id TEXT NOT NULL,
    name TEXT, state TEXT, group_name TEXT, job_type TEXT, tags TEXT, notes TEXT,
    config TEXT, summary TEXT, summary_state TEXT, metadata TEXT, system_metrics TEXT,
    created_at REAL, heartbeat_at REAL, updated_at REAL, exit_code INTEGER,
    last_step INTEGER DEFAULT -1, rows_committed INTEGER DEFAULT 0,
    rows_exported INTEGER DEFAULT 0, history_keys TEXT, run_dir TEXT, mode TEXT,
    runtime REAL DEFAULT 0, history_parts INTEGER DEFAULT 0, host TEXT, user TEXT,
    UNIQUE (entity, project, run_id)
);
CREATE INDEX IF NOT EXISTS runs_project ON runs (entity, project, created_at);
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    entity TEXT NOT NULL, project TEXT NOT NULL, run_id TEXT NOT NULL,
    time REAL, level TEXT, title TEXT, text TEXT, wait_duration REAL,
    outcome TEXT, webhook TEXT
);
CREATE INDEX IF NOT EXISTS alerts_run ON alerts (entity, project, run_id, time);
CREATE TABLE IF NOT EXISTS files (
    entity TEXT NOT NULL, project TEXT NOT NULL, run_id TEXT NOT NULL, name TEXT NOT NULL,
    size INTEGER, md5 TEXT, updated_at REAL, policy TEXT, copies INTEGER DEFAULT 0,
    PRIMARY KEY (entity, project, run_id, name)
);
"""

# The run's position in its transaction log when its row was written: a late retry (or the
# sidecar a run was taken from) never writes an older row over a newer one.
_SCHEMA_2 = "ALTER TABLE runs ADD COLUMN write_seq INTEGER"

# MIGRATIONS[n] takes a catalogue from schema version n to n + 1, on every engine (written in
# SQLite's spelling; :meth:`Dialect.ddl` translates). Version 0 is a new catalogue, or one
# written before versions were recorded, whose tables are version 1's: so the first migration
# only creates what is missing. Add a migration; never edit one.
MIGRATIONS: tuple[str, ...] = (_SCHEMA_1, _SCHEMA_2, ARTIFACT_SCHEMA)
SCHEMA_VERSION = len(MIGRATIONS)

# the write-position field of a run record (not a RUN_FIELD: readers never need it)
WRITE_SEQ = "write_seq"
_KEY = ("entity", "project", "run_id")


@dataclass(frozen=True)
class Dialect:
    """What one SQL engine spells differently.

    Attributes:
        placeholder: the parameter marker (``?`` or ``%s``).
        types: DDL rewrites, ``(regex, replacement)`` applied in order.
        order_column: a column that orders a table's rows by insertion.
    """

    placeholder: str = "?"
    types: tuple[tuple[str, str], ...] = ()
    order_column: str = "rowid"

    def sql(self, text: str) -> str:
        """A query in this engine's spelling (placeholders)."""
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def ddl(self, text: str) -> str:
        """A migration statement in this engine's spelling (types, reserved names)."""
        for pattern, replacement in self.types:
            text = re.sub(pattern, replacement, text)
        return text


SQLITE = Dialect()
POSTGRES = Dialect(
    placeholder="%s",
    types=(
        (r"INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"),
        (r"\bREAL\b", "DOUBLE PRECISION"),
        (r"\bINTEGER\b", "BIGINT"),
        (r"\bBLOB\b", "BYTEA"),
        (r"(?<![\"\w])user(?=\s+TEXT)", '"user"'),
    ),
    order_column="ctid",
)


def q(name: str) -> str:
    """A quoted identifier (``user`` is reserved in PostgreSQL)."""
    return f'"{name}"'


# one statement on an engine's connection (its spelling): the rows it returned, as dicts
Execute = Callable[[str, Sequence[Any]], list[dict[str, Any]]]


class Statements:
    """Statements in SQLite's spelling, run on one engine (placeholders translated).

    Args:
        execute: runs one statement in the engine's spelling and returns its rows.
        dialect: the engine's spelling.
    """

    def __init__(self, execute: Execute, dialect: Dialect) -> None:
        self._execute = execute
        self._dialect = dialect

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of ``sql``, as dicts."""
        return self._execute(self._dialect.sql(sql), args)

    def one(self, sql: str, args: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row of ``sql``, or None."""
        rows = self.rows(sql, args)
        return rows[0] if rows else None

    def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        """Run a statement whose rows, if any, nobody needs."""
        self._execute(self._dialect.sql(sql), args)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        """Run ``sql`` once per argument tuple of ``seq``."""
        sql = self._dialect.sql(sql)
        for args in seq:
            self._execute(sql, args)


class SqlCatalogue(ArtifactCatalogue, Catalogue):
    """Every catalogue query, over an engine's connection (see the module docstring)."""

    dialect: Dialect = SQLITE

    @abc.abstractmethod
    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of one read (``sql`` in this engine's spelling), as dicts."""

    @abc.abstractmethod
    def _transaction(self, exclusive: bool = False) -> AbstractContextManager[Execute]:
        """A transaction; yields ``execute(sql, args) -> rows``; commits at exit, rolls back
        on error. ``exclusive``: serialized against every other exclusive transaction."""

    def _reader(self) -> Statements:
        """Lone reads (each its own statement, outside any transaction)."""
        return Statements(self._query, self.dialect)

    @contextlib.contextmanager
    def _tx(self, exclusive: bool = False) -> Iterator[Statements]:
        """A transaction that reads and writes (see :meth:`_transaction`)."""
        with self._transaction(exclusive) as execute:
            yield Statements(execute, self.dialect)

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._reader().rows(sql, args)

    @contextlib.contextmanager
    def _writes(self) -> Iterator[Callable[[str, Sequence[Any]], None]]:
        with self._tx() as tx:
            yield tx.execute

    # -- runs ------------------------------------------------------------------------------
    def write_runs(self, records: list[dict[str, Any]]) -> None:
        """Upsert runs; a record with ``write_seq`` never replaces a row written later.

        A row's ``write_seq`` is its run's position in its transaction log, so a retried or
        late write from the same run directory (a sidecar the run was taken from) is a no-op
        when the row already holds a later position.
        """
        with self._writes() as execute:
            for record in records:
                fields = {k: v for k, v in record.items() if k in RUN_FIELDS or k == WRITE_SEQ}
                for key in JSON_FIELDS & fields.keys():
                    fields[key] = json.dumps(fields[key])
                fields.setdefault("updated_at", time.time())
                cols = list(fields)
                updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in cols if c not in _KEY)
                sql = (
                    f"INSERT INTO runs ({', '.join(map(q, cols))}) "
                    f"VALUES ({', '.join('?' for _ in cols)}) "
                    f"ON CONFLICT (entity, project, run_id) DO UPDATE SET {updates}"
                )
                if WRITE_SEQ in fields:
                    sql += (
                        " WHERE runs.write_seq IS NULL OR excluded.write_seq IS NULL"
                        " OR COALESCE(runs.run_dir, '') <> COALESCE(excluded.run_dir, '')"
                        " OR excluded.write_seq >= runs.write_seq"
                    )
                execute(sql, [fields[c] for c in cols])

    def get_run(self, entity: str, project: str, run_id: str) -> dict[str, Any] | None:
        rows = self._read(
            "SELECT * FROM runs WHERE entity = ? AND project = ? AND run_id = ?",
            (entity, project, run_id),
        )
        return _decode(rows[0]) if rows else None

    def find_runs(
        self, entity: str | None = None, project: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        where, args = [], []
        for col, val in (("entity", entity), ("project", project), ("run_id", run_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        return [_decode(r) for r in self._read(sql + " ORDER BY created_at, storage_id", args)]

    def delete_run(self, entity: str, project: str, run_id: str) -> None:
        with self._writes() as execute:
            for table in ("runs", "alerts", "files"):
                execute(
                    f"DELETE FROM {table} WHERE entity = ? AND project = ? AND run_id = ?",
                    (entity, project, run_id),
                )

    # -- alerts ----------------------------------------------------------------------------
    def write_alerts(self, records: list[dict[str, Any]]) -> None:
        with self._writes() as execute:
            for r in records:
                fields = {k: r[k] for k in ALERT_FIELDS if k in r}
                cols = list(fields)
                updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in cols if c != "alert_id")
                execute(
                    f"INSERT INTO alerts ({', '.join(map(q, cols))}) "
                    f"VALUES ({', '.join('?' for _ in cols)}) "
                    f"ON CONFLICT (alert_id) DO UPDATE SET {updates}",
                    [fields[c] for c in cols],
                )

    def get_alerts(self, entity: str, project: str, run_id: str) -> list[dict[str, Any]]:
        return self._read(
            "SELECT * FROM alerts WHERE entity = ? AND project = ? AND run_id = ? "
            f"ORDER BY time, {self.dialect.order_column}",
            (entity, project, run_id),
        )

    # -- files -----------------------------------------------------------------------------
    def write_files(
        self, entity: str, project: str, run_id: str, records: list[dict[str, Any]]
    ) -> None:
        with self._writes() as execute:
            for r in records:
                execute(
                    "INSERT INTO files (entity, project, run_id, name, size, md5, updated_at, "
                    "policy, copies) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) "
                    "ON CONFLICT (entity, project, run_id, name) DO UPDATE "
                    "SET size = excluded.size, md5 = excluded.md5, "
                    "updated_at = excluded.updated_at, policy = excluded.policy, "
                    "copies = files.copies + 1",
                    (
                        entity,
                        project,
                        run_id,
                        r["name"],
                        r.get("size"),
                        r.get("md5"),
                        r.get("updated_at"),
                        r.get("policy"),
                    ),
                )

    def get_files(
        self,
        entity: str,
        project: str,
        run_id: str,
        names: list[str] | None = None,
        pattern: str | None = None,
    ) -> list[dict[str, Any]]:
        sql = (
            "SELECT name, size, md5, updated_at, policy, copies FROM files "
            "WHERE entity = ? AND project = ? AND run_id = ?"
        )
        args: list[Any] = [entity, project, run_id]
        if names is not None:
            sql += f" AND name IN ({', '.join('?' for _ in names)})" if names else " AND 1 = 0"
            args.extend(names)
        if pattern is not None:
            sql += " AND name LIKE ?"
            args.append(pattern)
        return self._read(sql + " ORDER BY name", args)

    def delete_files(self, entity: str, project: str, run_id: str, names: list[str]) -> None:
        with self._writes() as execute:
            for name in names:
                execute(
                    "DELETE FROM files WHERE entity = ? AND project = ? AND run_id = ? AND name = ?",
                    (entity, project, run_id, name),
                )


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out.pop(WRITE_SEQ, None)
    for key in JSON_FIELDS:
        raw = out.get(key)
        out[key] = (
            json.loads(raw) if raw else ({} if key != "tags" and key != "history_keys" else [])
        )
    return out
