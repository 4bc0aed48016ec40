# ruff: noqa: F811 - the fixtures imported from shared_services are parameters here
"""Artifacts (§12) on a shared store (§13): the catalogue in PostgreSQL, the blobs in S3.

Real sidecars, a real PostgreSQL server and moto's S3 server on loopback (the session
fixtures of ``shared_services``); every test gets a new database and a new bucket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import tracker
from shared_services import aws_env, postgres, s3, shared, shared_uri  # noqa: F401 - fixtures
from tracker.store import parse_store_uri
from tracker.store.artifacts import BLOB_PREFIX


def write(path, data: bytes) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return str(path)


def gc_cli(*args: str) -> subprocess.CompletedProcess:
    """``tracker-service gc`` in its own process (the AWS_* variables are inherited)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tracker.service.cli", "gc", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def bucket_keys(s3, uri: str, prefix: str) -> list[str]:
    bucket, _, base = parse_store_uri(uri).blobs.removeprefix("s3://").partition("/")
    listed = s3.client().list_objects_v2(Bucket=bucket, Prefix=f"{base}/{prefix}")
    # pyarrow's S3 file system leaves folder markers ("<prefix>/"): they are not blobs
    return sorted(o["Key"] for o in listed.get("Contents", []) if not o["Key"].endswith("/"))


def catalogue_count(uri: str, table: str) -> int:
    import psycopg

    with psycopg.connect(parse_store_uri(uri).conninfo, autocommit=True) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_artifact_logged_used_read_and_collected_on_postgres_and_s3(shared, s3, tmp_path):
    data = tmp_path / "data"
    write(data / "a.txt", b"alpha")
    write(data / "sub" / "b.bin", os.urandom(20_000))
    producer = tracker.init(project="arts")
    art = tracker.Artifact("ds", type="dataset", metadata={"n": 2}, description="two files")
    art.add_dir(str(data))
    producer.log_artifact(art, aliases=["best"]).wait()
    assert art.version == "v0" and set(art.aliases) == {"latest", "best"}
    producer.finish()

    consumer = tracker.init(project="arts")
    used = consumer.use_artifact("ds:best", type="dataset")
    assert used.version == "v0" and used.digest == art.digest
    got = used.download(str(tmp_path / "in-run"))
    assert open(f"{got}/a.txt", "rb").read() == b"alpha"
    consumer.finish()

    # the read API on the same URI: the version, its lineage, its bytes
    api = tracker.Api(store=shared)
    stored = api.artifact("arts/ds:best")
    assert stored.version == "v0" and stored.digest == art.digest
    assert stored.metadata == {"n": 2} and stored.description == "two files"
    assert stored.logged_by().id == producer.id
    assert [r.id for r in stored.used_by()] == [consumer.id]
    out = stored.download(str(tmp_path / "dl"))
    for rel in ("a.txt", "sub/b.bin"):
        assert open(f"{out}/{rel}", "rb").read() == (data / rel).read_bytes()
    stored.verify(out)
    # where it lives: catalogue rows in PostgreSQL, content-addressed bytes in the bucket
    assert catalogue_count(shared, "artifacts") == 1
    assert catalogue_count(shared, "artifact_usage") == 1
    assert len(bucket_keys(s3, shared, BLOB_PREFIX)) == 2

    # a version whose run is deleted leaves a blob that only gc removes
    dropper = tracker.init(project="arts")
    dropper.log_artifact(write(tmp_path / "drop.bin", b"d" * 50), name="drop", type="t").wait()
    dropper.finish()
    api.run(dropper.path).delete(delete_artifacts=True)
    assert not api.artifact_exists("arts/drop")
    assert len(bucket_keys(s3, shared, BLOB_PREFIX)) == 3
    dry = gc_cli("--dry-run", "--json", "--store", shared)
    assert json.loads(dry.stdout) == {"blobs": 1, "bytes": 50, "dry_run": True}
    assert len(bucket_keys(s3, shared, BLOB_PREFIX)) == 3  # a dry run removes nothing
    assert "removed 1 blobs, 50 bytes" in gc_cli("--store", shared).stdout
    assert len(bucket_keys(s3, shared, BLOB_PREFIX)) == 2
    again = tracker.Api(store=shared).artifact("arts/ds:v0")
    again.verify(again.download(str(tmp_path / "after-gc")))
