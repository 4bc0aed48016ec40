# ruff: noqa: F811 - the hosts fixture imported from test_shared_store_hosts is a parameter here
"""Artifacts (§12) on a shared store (§13): the catalogue in PostgreSQL, the blobs in S3.

Real sidecars, a real PostgreSQL server and moto's S3 server on loopback (the session
fixtures of ``shared_services``); every test gets a new database and a new bucket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import tracker
from test_shared_store_hosts import hosts  # noqa: F401 - a fixture: two simulated hosts
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


# three runs, two CLI processes and two services: longer than the suite's 120 s on a loaded box
@pytest.mark.timeout(360)
def test_artifact_logged_used_read_and_collected_on_postgres_and_s3(
    shared, s3, tmp_path, run_script
):
    data = tmp_path / "data"
    write(data / "a.txt", b"alpha")
    write(data / "sub" / "b.bin", os.urandom(20_000))
    producer = json.loads(
        run_script(
            f"""
            import json, tracker
            run = tracker.init(project="arts")
            art = tracker.Artifact("ds", type="dataset", metadata={{"n": 2}}, description="two")
            art.add_dir({str(data)!r})
            run.log_artifact(art, aliases=["best"]).wait()
            run.finish()
            print(json.dumps({{"id": run.id, "version": art.version, "digest": art.digest,
                              "aliases": sorted(art.aliases)}}))
            """,
            check=True,
            timeout=180,
        ).stdout.splitlines()[-1]
    )
    assert producer["version"] == "v0" and producer["aliases"] == ["best", "latest"]
    consumer = json.loads(
        run_script(
            f"""
            import json, tracker
            run = tracker.init(project="arts")
            used = run.use_artifact("ds:best", type="dataset")
            got = used.download({str(tmp_path / "in-run")!r})
            run.finish()
            print(json.dumps({{"id": run.id, "version": used.version, "digest": used.digest,
                              "a": open(got + "/a.txt").read()}}))
            """,
            check=True,
            timeout=180,
        ).stdout.splitlines()[-1]
    )
    assert consumer["version"] == "v0" and consumer["digest"] == producer["digest"]
    assert consumer["a"] == "alpha"

    # the read API on the same URI: the version, its lineage, its bytes
    api = tracker.Api(store=shared)
    stored = api.artifact("arts/ds:best")
    assert stored.version == "v0" and stored.digest == producer["digest"]
    assert stored.metadata == {"n": 2} and stored.description == "two"
    assert stored.logged_by().id == producer["id"]
    assert [r.id for r in stored.used_by()] == [consumer["id"]]
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


HOST_RANK = """
    import json, os, tracker
    me = os.environ["TRACKER_HOST"] + "-rank" + os.environ["RANK"]
    path = os.path.join(os.environ["TRACKER_DIR"], me + ".bin")
    open(path, "wb").write(me.encode() * 1000)
    run = tracker.init(project="arts", group="g")
    mine = run.log_artifact(path, name="ckpt", type="model")
    shard = tracker.Artifact("shards", type="dataset")
    shard.add_file(path, name=me + "/shard.bin")
    run.upsert_artifact(shard, distributed_id="d1").wait()
    mine.wait()
    run.finish()
    print(json.dumps({"id": mine.id, "version": mine.version}))
"""

FINISH = """
    import tracker
    run = tracker.init(project="arts", group="g")
    run.finish_artifact(tracker.Artifact("shards", type="dataset"), distributed_id="d1").wait()
    run.finish()
"""


@pytest.mark.timeout(360)
def test_sidecars_of_two_hosts_commit_versions_of_one_collection_at_once(
    hosts, start_script, shared_uri
):
    """Four processes on two simulated hosts (two sidecars) commit into one collection and
    one distributed version at once: the catalogue numbers every version once."""
    procs = [
        start_script(HOST_RANK, env={**env, "RANK": str(rank)}) for env in hosts for rank in (0, 1)
    ]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(o["version"] for o in outs) == ["v0", "v1", "v2", "v3"]
    assert len({o["id"] for o in outs}) == 4
    finish = start_script(FINISH, env=hosts[0])
    _, err = finish.communicate(timeout=180)
    assert finish.returncode == 0, err

    api = tracker.Api(store=shared_uri)
    assert [v.version for v in api.artifacts("model", "arts/ckpt")] == ["v3", "v2", "v1", "v0"]
    shards = api.artifact("arts/shards:latest")
    names = [f"{h}-rank{r}" for h in ("host-a", "host-b") for r in (0, 1)]
    assert sorted(e.path for e in shards.files()) == [f"{n}/shard.bin" for n in names]
    out = shards.download(os.path.join(hosts[1]["TRACKER_DIR"], "dl"))
    for n in names:
        assert open(f"{out}/{n}/shard.bin", "rb").read() == n.encode() * 1000
