"""The artifact half of a SQL catalogue (§12): collections, versions, files, aliases, usage,
content-addressed blob rows, pins and distributed drafts.

A mixin of :class:`tracker.store.sqlcat.SqlCatalogue`, so every SQL engine (SQLite,
PostgreSQL) runs it: written over two of its primitives, ``_reader()`` (lone reads) and
``_tx(exclusive=True)`` (a transaction that reads and writes, serialized against every other
exclusive one), in SQLite's spelling of portable SQL (``INSERT ... ON CONFLICT``, plain
``SELECT``) that the engine's dialect translates. Its tables are one migration of the shared
list (:data:`ARTIFACT_SCHEMA`).

Data model::

    artifact_collections (entity, project, name)  type, kind ("sequence" | "portfolio")
    artifacts            artifact_id -> one committed version's content (digest, metadata,
                         logged by run_id, version_index in its own collection)
    artifact_files       artifact_id, path -> digest, size, ref   (the manifest)
    artifact_members     (entity, project, collection, version_index) -> artifact_id
                         (a logged version, or a link into a registry collection)
    artifact_aliases     (entity, project, collection, alias) -> artifact_id
    artifact_usage       artifact_id, run -> used_at              (input edges)
    blobs                digest -> size (a blob stored under its sha256)
    blob_pins            digest, job_id (a blob being added: never collected)
    artifact_drafts      files upserted into a distributed version not yet finished
    artifact_jobs        job_id -> the version it became (None: an upsert), for replays

Blob safety (``gc``): a writer pins a digest and checks for its row in one write
transaction before it writes the bytes; ``gc`` drops a blob (file, then row) only inside a
write transaction that finds it unreferenced and unpinned. So a blob being added is never
collected, and a blob that was collected is written again by the next writer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tracker.errors import Error

if TYPE_CHECKING:  # sqlcat imports this module: the names are for type checkers only
    from tracker.store.sqlcat import Statements

ARTIFACT_SCHEMA = """
CREATE TABLE IF NOT EXISTS artifact_collections (
    entity TEXT NOT NULL, project TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'sequence', description TEXT, created_at REAL,
    next_version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity, project, name)
);
CREATE TABLE IF NOT EXISTS artifacts (
    artifact_id TEXT PRIMARY KEY,
    entity TEXT NOT NULL, project TEXT NOT NULL, name TEXT NOT NULL,
    version_index INTEGER NOT NULL, type TEXT NOT NULL, digest TEXT NOT NULL,
    description TEXT, metadata TEXT, tags TEXT, size INTEGER, file_count INTEGER,
    created_at REAL, run_id TEXT, distributed_id TEXT
);
CREATE INDEX IF NOT EXISTS artifacts_by_run ON artifacts (entity, project, run_id);
CREATE INDEX IF NOT EXISTS artifacts_by_draft ON artifacts (entity, project, distributed_id);
CREATE TABLE IF NOT EXISTS artifact_files (
    artifact_id TEXT NOT NULL, path TEXT NOT NULL, digest TEXT NOT NULL,
    size INTEGER NOT NULL, ref TEXT,
    PRIMARY KEY (artifact_id, path)
);
CREATE INDEX IF NOT EXISTS artifact_files_digest ON artifact_files (digest);
CREATE TABLE IF NOT EXISTS artifact_members (
    entity TEXT NOT NULL, project TEXT NOT NULL, collection TEXT NOT NULL,
    version_index INTEGER NOT NULL, artifact_id TEXT NOT NULL, created_at REAL,
    PRIMARY KEY (entity, project, collection, version_index)
);
CREATE INDEX IF NOT EXISTS artifact_members_by_id ON artifact_members (artifact_id);
CREATE TABLE IF NOT EXISTS artifact_aliases (
    entity TEXT NOT NULL, project TEXT NOT NULL, collection TEXT NOT NULL,
    alias TEXT NOT NULL, artifact_id TEXT NOT NULL,
    PRIMARY KEY (entity, project, collection, alias)
);
CREATE TABLE IF NOT EXISTS artifact_usage (
    artifact_id TEXT NOT NULL, entity TEXT NOT NULL, project TEXT NOT NULL,
    run_id TEXT NOT NULL, used_at REAL,
    PRIMARY KEY (artifact_id, entity, project, run_id)
);
CREATE TABLE IF NOT EXISTS blobs (
    digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at REAL
);
CREATE TABLE IF NOT EXISTS blob_pins (
    digest TEXT NOT NULL, job_id TEXT NOT NULL, pinned_at REAL,
    PRIMARY KEY (digest, job_id)
);
CREATE TABLE IF NOT EXISTS artifact_drafts (
    entity TEXT NOT NULL, project TEXT NOT NULL, distributed_id TEXT NOT NULL,
    path TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, ref TEXT,
    name TEXT NOT NULL, type TEXT NOT NULL, run_id TEXT,
    PRIMARY KEY (entity, project, distributed_id, path)
);
CREATE TABLE IF NOT EXISTS artifact_jobs (
    job_id TEXT PRIMARY KEY, artifact_id TEXT, done_at REAL
)
"""

_VERSION_COLS = (
    "a.artifact_id, a.entity, a.project, a.name, a.version_index, a.type, a.digest, "
    "a.description, a.metadata, a.tags, a.size, a.file_count, a.created_at, a.run_id, "
    "a.distributed_id"
)


class ArtifactCatalogue:
    """Artifact records; mixed into ``SqlCatalogue``, which provides ``_reader`` and ``_tx``."""

    _reader: Callable[[], Statements]
    _tx: Callable[..., AbstractContextManager[Statements]]

    # -- blobs -----------------------------------------------------------------------------
    def pin_blob(self, digest: str, job_id: str) -> bool:
        """Pin ``digest`` for job ``job_id``; return whether its blob is stored already."""
        with self._tx(exclusive=True) as db:
            db.execute(
                "INSERT INTO blob_pins (digest, job_id, pinned_at) VALUES (?, ?, ?) "
                "ON CONFLICT (digest, job_id) DO NOTHING",
                (digest, job_id, time.time()),
            )
            row = db.one("SELECT 1 AS found FROM blobs WHERE digest = ?", (digest,))
        return row is not None

    def add_blob(self, digest: str, size: int) -> None:
        """Record that the blob of ``digest`` is stored (after its bytes are)."""
        with self._tx(exclusive=True) as db:
            db.execute(
                "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (digest) DO NOTHING",
                (digest, size, time.time()),
            )

    def unpin(self, job_id: str) -> None:
        """Drop every pin of job ``job_id`` (committed or failed)."""
        with self._tx(exclusive=True) as db:
            db.execute("DELETE FROM blob_pins WHERE job_id = ?", (job_id,))

    def blob_rows(self) -> dict[str, int]:
        """Every stored blob's digest and size."""
        rows = self._reader().rows("SELECT digest, size FROM blobs")
        return {r["digest"]: r["size"] for r in rows}

    def unreferenced_blobs(self, pin_max_age: float) -> list[tuple[str, int]]:
        """Blobs no version, draft or live pin (younger than ``pin_max_age`` s) refers to."""
        return [
            (r["digest"], r["size"])
            for r in self._reader().rows(
                _UNREFERENCED + " ORDER BY b.digest", (time.time() - pin_max_age,)
            )
        ]

    def drop_blob(self, digest: str, pin_max_age: float, delete: Callable[[], None]) -> bool:
        """Under the write lock: if ``digest`` is still unreferenced, ``delete()`` its bytes
        and its row; return whether it was dropped."""
        with self._tx(exclusive=True) as db:
            row = db.one(_UNREFERENCED + " AND b.digest = ?", (time.time() - pin_max_age, digest))
            if row is None:
                return False
            delete()
            db.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
            db.execute("DELETE FROM blob_pins WHERE digest = ?", (digest,))
        return True

    # -- versions --------------------------------------------------------------------------
    def commit_artifact(
        self,
        record: dict[str, Any],
        files: list[dict[str, Any]],
        aliases: list[str],
        job_id: str,
    ) -> dict[str, Any]:
        """Commit a version (or find it): one transaction.

        If ``record['artifact_id']`` is committed already (a replayed record) it is returned;
        if the collection's latest version has the same digest, that version gets
        ``aliases`` and is returned with ``created`` False; otherwise a new version
        ``v<next>`` is made, ``latest`` and ``aliases`` move to it.

        Args:
            record: artifact_id, entity, project, name, type, digest, description, metadata,
                tags, run_id, distributed_id.
            files: manifest rows (path, digest, size, ref).
            aliases: user aliases besides ``latest``.
            job_id: whose pins to drop.

        Raises:
            Error: the collection holds another type of artifact.
        """
        e, p, name = record["entity"], record["project"], record["name"]
        with self._tx(exclusive=True) as db:
            found = self._version_by_id(db, record["artifact_id"])
            if found is not None:
                self._job_done(db, job_id, found["artifact_id"])
                return {**found, "created": False}
            coll = self._collection(db, e, p, name, record["type"], record.get("description"))
            latest = db.one(_VERSIONS + " AND al.alias = 'latest'", (e, p, name))
            if latest is not None and latest["digest"] == record["digest"]:
                self._move_aliases(db, e, p, name, latest["artifact_id"], aliases)
                self._job_done(db, job_id, latest["artifact_id"])
                return {**self._version_by_id(db, latest["artifact_id"]), "created": False}
            index = coll["next_version"]
            now = time.time()
            db.execute(
                "INSERT INTO artifacts (artifact_id, entity, project, name, version_index, type, "
                "digest, description, metadata, tags, size, file_count, created_at, run_id, "
                "distributed_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["artifact_id"], e, p, name, index, record["type"], record["digest"],
                    record.get("description"), json.dumps(record.get("metadata") or {}),
                    json.dumps(list(record.get("tags") or [])),
                    sum(f["size"] for f in files), len(files), now, record.get("run_id"),
                    record.get("distributed_id"),
                ),
            )  # fmt: skip
            db.executemany(
                "INSERT INTO artifact_files (artifact_id, path, digest, size, ref) "
                "VALUES (?, ?, ?, ?, ?)",
                [(record["artifact_id"], f["path"], f["digest"], f["size"], f.get("ref")) for f in files],
            )  # fmt: skip
            self._add_member(db, e, p, name, index, record["artifact_id"], aliases)
            self._job_done(db, job_id, record["artifact_id"])
            return {**self._version_by_id(db, record["artifact_id"]), "created": True}

    def link_artifact(
        self, artifact_id: str, entity: str, project: str, collection: str, aliases: list[str]
    ) -> dict[str, Any]:
        """Link a version into the portfolio ``collection`` (a registry's): a new member
        with the collection's next version number, unless it is a member already (then
        only ``aliases`` move). Returns ``{"collection", "version_index"}``.

        Raises:
            Error: no such artifact, or the collection holds another type.
        """
        with self._tx(exclusive=True) as db:
            art = self._version_by_id(db, artifact_id)
            if art is None:
                raise Error(f"no artifact with id {artifact_id!r}")
            self._collection(db, entity, project, collection, art["type"], None, "portfolio")
            row = db.one(
                "SELECT version_index FROM artifact_members WHERE entity = ? AND project = ? "
                "AND collection = ? AND artifact_id = ?",
                (entity, project, collection, artifact_id),
            )
            if row is not None:
                self._move_aliases(db, entity, project, collection, artifact_id, aliases)
                return {"collection": collection, "version_index": row["version_index"]}
            coll = db.one(
                "SELECT next_version FROM artifact_collections WHERE entity = ? AND project = ? "
                "AND name = ?",
                (entity, project, collection),
            )
            index = coll["next_version"]
            self._add_member(db, entity, project, collection, index, artifact_id, aliases)
            return {"collection": collection, "version_index": index}

    @staticmethod
    def _job_done(db: Statements, job_id: str, artifact_id: str | None) -> None:
        """Job ``job_id`` is done (in the caller's transaction): its pins go, its result stays."""
        db.execute("DELETE FROM blob_pins WHERE job_id = ?", (job_id,))
        db.execute(
            "INSERT INTO artifact_jobs (job_id, artifact_id, done_at) VALUES (?, ?, ?) "
            "ON CONFLICT (job_id) DO NOTHING",
            (job_id, artifact_id, time.time()),
        )

    def job_result(self, job_id: str) -> tuple[bool, str | None]:
        """(whether job ``job_id`` is done, the version it became: None for an upsert)."""
        row = self._reader().one(
            "SELECT artifact_id FROM artifact_jobs WHERE job_id = ?", (job_id,)
        )
        return (row is not None, row["artifact_id"] if row is not None else None)

    def _collection(
        self,
        db: Statements,
        entity: str,
        project: str,
        name: str,
        type_: str,
        description: str | None,
        kind: str = "sequence",
    ) -> dict[str, Any]:
        row = db.one(
            "SELECT * FROM artifact_collections WHERE entity = ? AND project = ? AND name = ?",
            (entity, project, name),
        )
        if row is None:
            db.execute(
                "INSERT INTO artifact_collections (entity, project, name, type, kind, "
                "description, created_at, next_version) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (entity, project, name, type_, kind, description, time.time()),
            )
            return {"next_version": 0, "type": type_, "kind": kind}
        if row["type"] != type_:
            raise Error(
                f"artifact {entity}/{project}/{name} holds type {row['type']!r}, not {type_!r}"
            )
        return row

    def _add_member(
        self,
        db: Statements,
        entity: str,
        project: str,
        collection: str,
        index: int,
        artifact_id: str,
        aliases: list[str],
    ) -> None:
        db.execute(
            "INSERT INTO artifact_members (entity, project, collection, version_index, "
            "artifact_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (entity, project, collection, index, artifact_id, time.time()),
        )
        db.execute(
            "UPDATE artifact_collections SET next_version = ? WHERE entity = ? AND project = ? "
            "AND name = ?",
            (index + 1, entity, project, collection),
        )
        self._move_aliases(db, entity, project, collection, artifact_id, ["latest", *aliases])

    @staticmethod
    def _move_aliases(
        db: Statements,
        entity: str,
        project: str,
        collection: str,
        artifact_id: str,
        aliases: list[str],
    ) -> None:
        db.executemany(
            "INSERT INTO artifact_aliases (entity, project, collection, alias, artifact_id) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (entity, project, collection, alias) "
            "DO UPDATE SET artifact_id = excluded.artifact_id",
            [(entity, project, collection, a, artifact_id) for a in dict.fromkeys(aliases)],
        )

    def set_artifact_aliases(
        self, entity: str, project: str, collection: str, artifact_id: str, aliases: list[str]
    ) -> None:
        """Make ``aliases`` (besides ``latest``, which stays where it is) exactly the user
        aliases of ``artifact_id`` in ``collection``: new ones move here, dropped ones go."""
        with self._tx(exclusive=True) as db:
            db.execute(
                "DELETE FROM artifact_aliases WHERE entity = ? AND project = ? AND collection = ? "
                "AND artifact_id = ? AND alias <> 'latest'",
                (entity, project, collection, artifact_id),
            )
            self._move_aliases(
                db, entity, project, collection, artifact_id, [a for a in aliases if a != "latest"]
            )

    def update_artifact(self, artifact_id: str, fields: dict[str, Any]) -> None:
        """Edit a version's description, metadata or tags."""
        allowed = {k: v for k, v in fields.items() if k in ("description", "metadata", "tags")}
        for key in ("metadata", "tags"):
            if key in allowed:
                allowed[key] = json.dumps(allowed[key])
        if not allowed:
            return
        with self._tx(exclusive=True) as db:
            db.execute(
                f"UPDATE artifacts SET {', '.join(f'{k} = ?' for k in allowed)} "
                "WHERE artifact_id = ?",
                [*allowed.values(), artifact_id],
            )

    # -- reading ---------------------------------------------------------------------------
    def get_artifact(
        self, entity: str, project: str, collection: str, alias_or_version: str
    ) -> dict[str, Any] | None:
        """A member of ``collection`` by alias, ``v<N>`` or manifest digest, with ``aliases`` and ``version_index``
        as that collection numbers it; None if there is none."""
        db = self._reader()
        if alias_or_version[:1] == "v" and alias_or_version[1:].isdigit():
            index = int(alias_or_version[1:])
            row = db.one(
                _MEMBERS + " AND m.version_index = ?", (entity, project, collection, index)
            )
        else:
            row = db.one(
                _MEMBERS + " AND m.artifact_id = (SELECT artifact_id FROM artifact_aliases "
                "WHERE entity = ? AND project = ? AND collection = ? AND alias = ?)",
                (entity, project, collection, entity, project, collection, alias_or_version),
            )
            if row is None and _is_digest(alias_or_version):  # W&B's name:<digest>
                row = db.one(
                    _MEMBERS + " AND a.digest = ? ORDER BY m.version_index DESC LIMIT 1",
                    (entity, project, collection, alias_or_version),
                )
        return self._with_aliases(db, row) if row else None

    def get_artifact_by_id(self, artifact_id: str) -> dict[str, Any] | None:
        """A version by its id, as its own collection numbers it."""
        db = self._reader()
        row = self._version_by_id(db, artifact_id)
        return self._with_aliases(db, {**row, "collection": row["name"]}) if row else None

    def artifact_members(self, entity: str, project: str, collection: str) -> list[dict[str, Any]]:
        """Every member of a collection, newest first."""
        db = self._reader()
        rows = db.rows(_MEMBERS + " ORDER BY m.version_index DESC", (entity, project, collection))
        return [self._with_aliases(db, r) for r in rows]

    def artifact_collections(
        self, entity: str, project: str, type_: str | None = None
    ) -> list[dict[str, Any]]:
        """Collections of a project (of ``type_`` when given), by name."""
        sql = "SELECT * FROM artifact_collections WHERE entity = ? AND project = ?"
        args: list[Any] = [entity, project]
        if type_ is not None:
            sql += " AND type = ?"
            args.append(type_)
        return self._reader().rows(sql + " ORDER BY name", args)

    def artifact_files(self, artifact_id: str) -> list[dict[str, Any]]:
        """A version's manifest rows, by path."""
        return self._reader().rows(
            "SELECT path, digest, size, ref FROM artifact_files WHERE artifact_id = ? "
            "ORDER BY path",
            (artifact_id,),
        )

    def run_artifacts(self, entity: str, project: str, run_id: str, used: bool) -> list[str]:
        """Ids of the versions a run logged (``used`` False) or used, oldest first."""
        if used:
            sql = "SELECT artifact_id FROM artifact_usage WHERE entity = ? AND project = ? AND run_id = ? ORDER BY used_at"
        else:
            sql = "SELECT artifact_id FROM artifacts WHERE entity = ? AND project = ? AND run_id = ? ORDER BY created_at"
        return [r["artifact_id"] for r in self._reader().rows(sql, (entity, project, run_id))]

    def artifact_users(self, artifact_id: str) -> list[tuple[str, str, str]]:
        """The runs that used a version, as (entity, project, run_id)."""
        rows = self._reader().rows(
            "SELECT entity, project, run_id FROM artifact_usage WHERE artifact_id = ? "
            "ORDER BY used_at",
            (artifact_id,),
        )
        return [(r["entity"], r["project"], r["run_id"]) for r in rows]

    def add_artifact_usage(self, artifact_id: str, entity: str, project: str, run_id: str) -> None:
        """Record that run (entity, project, run_id) used the version ``artifact_id``."""
        with self._tx(exclusive=True) as db:
            db.execute(
                "INSERT INTO artifact_usage (artifact_id, entity, project, run_id, used_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (artifact_id, entity, project, run_id) "
                "DO NOTHING",
                (artifact_id, entity, project, run_id, time.time()),
            )

    # -- distributed versions --------------------------------------------------------------
    def add_draft_files(
        self,
        entity: str,
        project: str,
        distributed_id: str,
        head: dict[str, Any],
        files: list[dict[str, Any]],
        job_id: str,
    ) -> None:
        """Add files to the distributed version ``distributed_id`` (not yet finished).

        Raises:
            Error: the version was finished already.
        """
        with self._tx(exclusive=True) as db:
            self._check_open_draft(db, entity, project, distributed_id)
            db.executemany(
                "INSERT INTO artifact_drafts (entity, project, distributed_id, path, digest, size, "
                "ref, name, type, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (entity, project, distributed_id, path) DO UPDATE SET "
                "digest = excluded.digest, size = excluded.size, ref = excluded.ref",
                [
                    (entity, project, distributed_id, f["path"], f["digest"], f["size"],
                     f.get("ref"), head["name"], head["type"], head.get("run_id"))
                    for f in files
                ],
            )  # fmt: skip
            self._job_done(db, job_id, None)

    def draft_finished(self, entity: str, project: str, distributed_id: str) -> bool:
        """Whether the distributed version ``distributed_id`` was finished."""
        row = self._reader().one(
            "SELECT 1 AS found FROM artifacts WHERE entity = ? AND project = ? "
            "AND distributed_id = ?",
            (entity, project, distributed_id),
        )
        return row is not None

    def take_draft_files(
        self, entity: str, project: str, distributed_id: str
    ) -> list[dict[str, Any]]:
        """The files upserted into ``distributed_id`` so far.

        Raises:
            Error: the version was finished already.
        """
        db = self._reader()
        self._check_open_draft(db, entity, project, distributed_id)
        return db.rows(
            "SELECT path, digest, size, ref FROM artifact_drafts WHERE entity = ? AND project = ? "
            "AND distributed_id = ? ORDER BY path",
            (entity, project, distributed_id),
        )

    def drop_draft(self, entity: str, project: str, distributed_id: str) -> None:
        """Forget the draft rows of a finished distributed version."""
        with self._tx(exclusive=True) as db:
            db.execute(
                "DELETE FROM artifact_drafts WHERE entity = ? AND project = ? AND distributed_id = ?",
                (entity, project, distributed_id),
            )

    def _check_open_draft(
        self, db: Statements, entity: str, project: str, distributed_id: str
    ) -> None:
        row = db.one(
            "SELECT name, version_index FROM artifacts WHERE entity = ? AND project = ? "
            "AND distributed_id = ?",
            (entity, project, distributed_id),
        )
        if row is not None:
            raise Error(
                f"distributed artifact {distributed_id!r} was finished already "
                f"({row['name']}:v{row['version_index']}); files upserted after "
                "finish_artifact are refused"
            )

    # -- deleting --------------------------------------------------------------------------
    def delete_artifact(self, artifact_id: str) -> None:
        """Remove a version: its record, manifest, memberships, aliases and usage (its blobs
        stay until ``gc``)."""
        with self._tx(exclusive=True) as db:
            for table in ("artifacts", "artifact_files", "artifact_members", "artifact_aliases",
                          "artifact_usage"):  # fmt: skip
                db.execute(f"DELETE FROM {table} WHERE artifact_id = ?", (artifact_id,))

    def _version_by_id(self, db: Statements, artifact_id: str) -> dict[str, Any] | None:
        row = db.one(
            f"SELECT {_VERSION_COLS} FROM artifacts a WHERE a.artifact_id = ?", (artifact_id,)
        )
        return _decode_version(row) if row else None  # fmt: skip

    @staticmethod
    def _with_aliases(db: Statements, row: dict[str, Any]) -> dict[str, Any]:
        row = _decode_version(row)
        row["aliases"] = [
            r["alias"]
            for r in db.rows(
                "SELECT alias FROM artifact_aliases WHERE entity = ? AND project = ? "
                "AND collection = ? AND artifact_id = ? ORDER BY alias",
                (row["entity"], row["project"], row["collection"], row["artifact_id"]),
            )
        ]
        return row


_UNREFERENCED = (
    "SELECT b.digest, b.size FROM blobs b WHERE "
    "NOT EXISTS (SELECT 1 FROM artifact_files f WHERE f.digest = b.digest) AND "
    "NOT EXISTS (SELECT 1 FROM artifact_drafts d WHERE d.digest = b.digest) AND "
    "NOT EXISTS (SELECT 1 FROM blob_pins p WHERE p.digest = b.digest AND p.pinned_at > ?)"
)


# members of a collection, with the version's content; args: entity, project, collection
def _is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


_MEMBERS = (
    f"SELECT {_VERSION_COLS}, m.collection, m.version_index AS member_index, "
    "m.entity AS member_entity, m.project AS member_project "
    "FROM artifact_members m JOIN artifacts a ON a.artifact_id = m.artifact_id "
    "WHERE m.entity = ? AND m.project = ? AND m.collection = ?"
)
_VERSIONS = (
    f"SELECT {_VERSION_COLS} FROM artifact_aliases al JOIN artifacts a "
    "ON a.artifact_id = al.artifact_id WHERE al.entity = ? AND al.project = ? AND al.collection = ?"
)


def _decode_version(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out.setdefault("source_name", out["name"])
    out.setdefault("source_version", out["version_index"])
    for key, empty in (("metadata", {}), ("tags", [])):
        raw = out.get(key)
        out[key] = json.loads(raw) if isinstance(raw, str) and raw else (raw or empty)
    if "member_index" in out:  # as the collection it was found in numbers it
        out["version_index"] = out.pop("member_index")
        out["entity"], out["project"] = out.pop("member_entity"), out.pop("member_project")
    return out
