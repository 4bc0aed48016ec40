"""The SQLite catalogue of a local store: ``<store>/catalogue.db`` in WAL mode.

WAL lets many readers (``tracker.Api``, the CLI) read while the sidecar writes. Each thread
gets its own connection, since sqlite3 connections must not cross threads.

The schema is versioned (SQLite's ``user_version``) and changed only by numbered migrations
(:data:`MIGRATIONS`); a catalogue newer than this code is refused, never half understood.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from typing import Any

from tracker.errors import Error
from tracker.store.base import ALERT_FIELDS, JSON_FIELDS, RUN_FIELDS, Catalogue

_SCHEMA = """
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

# MIGRATIONS[n] takes a catalogue from schema version n to n + 1. Version 0 is a new file, or
# one written before versions were recorded, whose tables are version 1's: so the first
# migration only creates what is missing. Add a migration; never edit one.
MIGRATIONS: tuple[str, ...] = (_SCHEMA,)
SCHEMA_VERSION = len(MIGRATIONS)


class SqliteCatalogue(Catalogue):
    """The catalogue in ``<root>/catalogue.db`` (created with its tables when missing).

    Args:
        root: the store's folder.
    """

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

    def write_runs(self, records: list[dict[str, Any]]) -> None:
        db = self._db()
        with db:
            for record in records:
                fields = {k: v for k, v in record.items() if k in RUN_FIELDS}
                for key in JSON_FIELDS & fields.keys():
                    fields[key] = json.dumps(fields[key])
                fields.setdefault("updated_at", time.time())
                cols = list(fields)
                updates = ", ".join(
                    f"{c} = excluded.{c}" for c in cols if c not in ("entity", "project", "run_id")
                )
                sql = (
                    f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
                    f"ON CONFLICT (entity, project, run_id) DO UPDATE SET {updates}"
                )
                db.execute(sql, [fields[c] for c in cols])

    def get_run(self, entity: str, project: str, run_id: str) -> dict[str, Any] | None:
        row = (
            self._db()
            .execute(
                "SELECT * FROM runs WHERE entity = ? AND project = ? AND run_id = ?",
                (entity, project, run_id),
            )
            .fetchone()
        )
        return _decode(row) if row is not None else None

    def find_runs(
        self, entity: str | None = None, project: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        where, args = [], []
        for col, val in (("entity", entity), ("project", project), ("run_id", run_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        return [_decode(r) for r in self._db().execute(sql + " ORDER BY created_at", args)]

    def write_alerts(self, records: list[dict[str, Any]]) -> None:
        db = self._db()
        with db:
            for r in records:
                fields = {k: r[k] for k in ALERT_FIELDS if k in r}
                cols = list(fields)
                updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "alert_id")
                db.execute(
                    f"INSERT INTO alerts ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
                    f"ON CONFLICT (alert_id) DO UPDATE SET {updates}",
                    [fields[c] for c in cols],
                )

    def get_alerts(self, entity: str, project: str, run_id: str) -> list[dict[str, Any]]:
        rows = self._db().execute(
            "SELECT * FROM alerts WHERE entity = ? AND project = ? AND run_id = ? ORDER BY time, rowid",
            (entity, project, run_id),
        )
        return [dict(r) for r in rows]

    def write_files(
        self, entity: str, project: str, run_id: str, records: list[dict[str, Any]]
    ) -> None:
        db = self._db()
        with db:
            for r in records:
                db.execute(
                    "INSERT INTO files (entity, project, run_id, name, size, md5, updated_at, policy, copies) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (entity, project, run_id, name) DO UPDATE "
                    "SET size = excluded.size, md5 = excluded.md5, updated_at = excluded.updated_at, "
                    "policy = excluded.policy, copies = files.copies + 1",
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
        sql = "SELECT name, size, md5, updated_at, policy, copies FROM files WHERE entity = ? AND project = ? AND run_id = ?"
        args: list[Any] = [entity, project, run_id]
        if names is not None:
            sql += f" AND name IN ({', '.join('?' for _ in names)})"
            args.extend(names)
        if pattern is not None:
            sql += " AND name LIKE ?"
            args.append(pattern)
        return [dict(r) for r in self._db().execute(sql + " ORDER BY name", args)]

    def delete_files(self, entity: str, project: str, run_id: str, names: list[str]) -> None:
        db = self._db()
        with db:
            db.executemany(
                "DELETE FROM files WHERE entity = ? AND project = ? AND run_id = ? AND name = ?",
                [(entity, project, run_id, n) for n in names],
            )

    def delete_run(self, entity: str, project: str, run_id: str) -> None:
        db = self._db()
        with db:
            db.execute(
                "DELETE FROM runs WHERE entity = ? AND project = ? AND run_id = ?",
                (entity, project, run_id),
            )
            for table in ("alerts", "files"):
                db.execute(
                    f"DELETE FROM {table} WHERE entity = ? AND project = ? AND run_id = ?",
                    (entity, project, run_id),
                )

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
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {version + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
    finally:
        db.close()


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for key in JSON_FIELDS:
        raw = out.get(key)
        out[key] = (
            json.loads(raw) if raw else ({} if key != "tags" and key != "history_keys" else [])
        )
    return out
