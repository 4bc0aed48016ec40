"""Unit tier of artifacts (no sidecar): building versions against a real store, gc's safety,
distributed drafts, incremental versions, references, replays."""

from __future__ import annotations

import os
import uuid

import pytest
import tracker
from tracker.api.artifact import check_aliases
from tracker.api.artifact_files import download
from tracker.api.artifact_read import parse_artifact_path
from tracker.errors import ArgumentError, Error
from tracker.settings import Env
from tracker.store import open_store
from tracker.store.artifact_build import Progress, build
from tracker.store.artifacts import (
    BLOB_PREFIX,
    SourceChanged,
    blob_key,
    collect_garbage,
    hash_file,
    store_file,
)

REF = ("ent", "proj", "run1")


@pytest.fixture(params=["sqlite", "postgres+s3"])
def store(request, tmp_path):
    """Every test on both catalogue engines: a local store, and PostgreSQL + S3 (loopback)."""
    if request.param == "sqlite":
        uri = str(tmp_path / "store")
    else:
        uri = request.getfixturevalue("shared_uri")
    s = open_store(uri, Env.s3_defaults())
    yield s
    s.close()


def write(path, data: bytes) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return str(path)


def entry(path: str, local: str, mark: bool = False) -> dict:
    st = os.stat(local)
    return {"path": path, "local": local, "mark": [st.st_size, st.st_mtime_ns] if mark else None}


def spec(name: str, entries: list[dict], op: str = "log", **kw) -> dict:
    return {"op": op, "id": uuid.uuid4().hex, "name": name, "type": "dataset", "entries": entries, **kw}  # fmt: skip


def run_build(store, s, ref=REF):
    return build(store, ref, s, Progress(s.get("entries") or []))


def test_versions_dedup_aliases_and_replay(store, tmp_path):
    a = write(tmp_path / "a.bin", b"a" * 100)
    first = spec("ds", [entry("a.bin", a)], aliases=["best"])
    v0 = run_build(store, first)["artifact"]
    assert v0["version_index"] == 0 and sorted(v0["aliases"]) == ["best", "latest"]
    assert run_build(store, first)["artifact"]["artifact_id"] == v0["artifact_id"]  # replay
    same = run_build(store, spec("ds", [entry("a.bin", a)], aliases=["again"]))
    assert same["artifact"]["artifact_id"] == v0["artifact_id"] and same["stored_bytes"] == 0
    b = write(tmp_path / "b.bin", b"b" * 10)
    v1 = run_build(store, spec("ds", [entry("a.bin", a), entry("b.bin", b)], aliases=["best"]))
    assert v1["artifact"]["version_index"] == 1 and v1["stored_bytes"] == 10
    cat = store.catalogue
    assert cat.get_artifact("ent", "proj", "ds", "best")["version_index"] == 1  # alias moved
    assert cat.get_artifact("ent", "proj", "ds", "again")["version_index"] == 0
    assert cat.get_artifact("ent", "proj", "ds", "latest")["version_index"] == 1
    assert (
        cat.get_artifact("ent", "proj", "ds", v0["digest"])["version_index"] == 0
    )  # name:<digest>
    assert cat.get_artifact("ent", "proj", "ds", "f" * 64) is None


def test_a_changed_source_is_refused_and_nothing_is_committed(store, tmp_path):
    a = write(tmp_path / "a.bin", b"a" * 100)
    s = spec("ds", [entry("a.bin", a, mark=True)])
    write(tmp_path / "a.bin", b"b" * 101)
    with pytest.raises(SourceChanged, match="changed after log_artifact"):
        run_build(store, s)
    assert store.catalogue.artifact_members("ent", "proj", "ds") == []
    assert store.catalogue.unreferenced_blobs(3600) == []  # the pin went with the failure


def test_gc_keeps_referenced_and_pinned_blobs(store, tmp_path):
    a = write(tmp_path / "a.bin", b"keep")
    v = run_build(store, spec("ds", [entry("a.bin", a)]))["artifact"]
    loose = write(tmp_path / "loose.bin", b"in flight")
    digest, _, _ = store_file(store, loose, "job-in-flight")  # stored, pinned, not committed
    orphan = hash_file(write(tmp_path / "o.bin", b"orphan"))[0]
    store.blobs.put(blob_key(orphan), b"orphan")  # bytes without a row: a crashed writer
    assert collect_garbage(store, dry_run=True) == {"blobs": 1, "bytes": 6, "dry_run": True}
    assert store.blobs.exists(blob_key(orphan))
    assert collect_garbage(store)["blobs"] == 1
    assert not store.blobs.exists(blob_key(orphan))
    assert store.blobs.exists(blob_key(digest))  # pinned: in flight
    store.catalogue.unpin("job-in-flight")
    assert collect_garbage(store) == {"blobs": 1, "bytes": 9, "dry_run": False}
    store.catalogue.delete_artifact(v["artifact_id"])
    assert collect_garbage(store)["blobs"] == 1
    assert store.blobs.list(BLOB_PREFIX) == []


def test_a_blob_collected_before_its_pin_is_written_again(store, tmp_path):
    a = write(tmp_path / "a.bin", b"again")
    digest, _, written = store_file(store, a, "j1")
    store.catalogue.unpin("j1")
    assert collect_garbage(store)["blobs"] == 1
    _, _, written_again = store_file(store, a, "j2")
    assert written == written_again == 5 and store.blobs.exists(blob_key(digest))


def test_distributed_upserts_commit_once_and_refuse_late_files(store, tmp_path):
    for rank in range(3):
        f = write(tmp_path / f"r{rank}.bin", bytes([rank]) * 10)
        ref = ("ent", "proj", f"rank{rank}")
        s = spec("shards", [entry(f"shard{rank}.bin", f)], op="upsert", distributed_id="g1")
        assert run_build(store, s, ref=ref)["upserted"] == 1
    done = run_build(store, spec("shards", [], op="finish", distributed_id="g1"))["artifact"]
    assert done["file_count"] == 3 and done["version_index"] == 0
    late = write(tmp_path / "late.bin", b"late")
    with pytest.raises(Error, match="finished already"):
        run_build(
            store, spec("shards", [entry("late.bin", late)], op="upsert", distributed_id="g1")
        )
    assert store.catalogue.draft_finished("ent", "proj", "g1")
    files = store.catalogue.artifact_files(done["artifact_id"])
    assert [f["path"] for f in files] == ["shard0.bin", "shard1.bin", "shard2.bin"]


def test_incremental_starts_from_the_latest_version(store, tmp_path):
    a = write(tmp_path / "a.bin", b"a")
    b = write(tmp_path / "b.bin", b"b")
    run_build(store, spec("inc", [entry("a.bin", a), entry("b.bin", b)]))
    c = write(tmp_path / "c.bin", b"c")
    s = spec("inc", [entry("c.bin", c)], incremental=True, removed=["a.bin"])
    v1 = run_build(store, s)["artifact"]
    assert [f["path"] for f in store.catalogue.artifact_files(v1["artifact_id"])] == ["b.bin", "c.bin"]  # fmt: skip


def test_references_are_checksummed_not_copied(store, tmp_path):
    target = write(tmp_path / "ref" / "data.csv", b"1,2,3")
    s = spec("refs", [{"path": "data.csv", "ref": "file://" + target, "checksum": True}])
    v = run_build(store, s)["artifact"]
    assert store.blobs.list(BLOB_PREFIX) == []  # nothing copied
    files = store.catalogue.artifact_files(v["artifact_id"])
    out = tmp_path / "dl"
    assert download(store.blobs, files, str(out)) == {"downloaded": 1, "skipped": 0}
    assert download(store.blobs, files, str(out)) == {"downloaded": 0, "skipped": 1}
    write(target, b"changed")
    with pytest.raises(Error, match="no longer matches its checksum"):
        download(store.blobs, files, str(tmp_path / "dl2"))


def test_links_number_their_own_versions(store, tmp_path):
    ids = []
    for i in range(2):
        f = write(tmp_path / f"m{i}.bin", bytes([i]) * 4)
        ids.append(run_build(store, spec("net", [entry("m.bin", f)]))["artifact"]["artifact_id"])
    cat = store.catalogue
    assert cat.link_artifact(ids[1], "ent", "model-registry", "clf", ["prod"])["version_index"] == 0
    assert cat.link_artifact(ids[0], "ent", "model-registry", "clf", [])["version_index"] == 1
    assert cat.link_artifact(ids[1], "ent", "model-registry", "clf", ["x"])["version_index"] == 0
    linked = cat.get_artifact("ent", "model-registry", "clf", "prod")
    assert linked["artifact_id"] == ids[1] and linked["source_version"] == 1
    assert sorted(linked["aliases"]) == ["prod", "x"]
    assert cat.get_artifact("ent", "model-registry", "clf", "latest")["artifact_id"] == ids[0]


def test_a_replayed_record_is_answered_from_the_catalogue(store, tmp_path):
    a = write(tmp_path / "snap" / "a.bin", b"a" * 10)
    run_build(store, spec("ds", [entry("a.bin", a)]))
    again = spec("ds", [entry("a.bin", a)], staging=str(tmp_path / "snap"))
    first = run_build(store, again)["artifact"]  # same content: no new version
    assert not os.path.exists(a)  # the snapshot folder is gone once built
    replayed = run_build(store, again)  # a takeover replays the record
    assert replayed["artifact"]["artifact_id"] == first["artifact_id"]
    use = {"op": "use", "id": uuid.uuid4().hex, "artifact_id": again["id"]}  # names the draft
    assert run_build(store, use)["artifact"]["artifact_id"] == first["artifact_id"]
    assert store.catalogue.artifact_users(first["artifact_id"]) == [REF]


@pytest.mark.parametrize(
    "call",
    [
        lambda: tracker.Artifact("entity/project/name", "model"),
        lambda: tracker.Artifact("name:v0", "model"),
        lambda: tracker.Artifact("ok", "model").add_file("/no/such/file"),
        lambda: tracker.Artifact("ok", "model").add_reference("gs://bucket/key"),
        lambda: tracker.Artifact("ok", "model").add({"a": object()}, "x"),
        lambda: check_aliases(["a:b"]),
        lambda: parse_artifact_path(None, "e/p/name:v0:x"),
    ],
)
def test_wrong_usage_is_both_a_tracker_error_and_a_value_error(call):
    """W&B raises ValueError for these; a W&B user's ``except ValueError`` still works."""
    with pytest.raises(ArgumentError) as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, Error)
