"""The store's backends on their own, without a sidecar: catalogue, blobs, keys, URIs, parts."""

import hashlib
import os
import stat
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tracker
from tracker.service.compact import compact_parts
from tracker.store import open_store
from tracker.store.keys import file_key, stream_prefix
from tracker.store.parts import (
    compacted_key,
    next_part,
    part_key,
    parts_from,
    visible_parts,
)

RUN = ("me", "proj", "abc123")
IDENTITY = {"entity": "me", "project": "proj", "run_id": "abc123"}


@pytest.fixture
def store(tmp_path):
    s = open_store(str(tmp_path / "store"))
    yield s
    s.close()


def on_disk(store, key):
    return os.path.join(store.uri[len("file://") :], key)


# -- catalogue -----------------------------------------------------------------------------
def test_runs_are_upserted_by_identity_with_only_the_given_fields(store):
    store.catalogue.write_runs(
        [
            {**IDENTITY, "state": "running", "tags": ["a"]},
            {"entity": "me", "project": "proj", "run_id": "other", "state": "running"},
        ]
    )
    store.catalogue.put_run(
        {"entity": "me", "project": "proj", "run_id": "abc123", "state": "finished"}
    )
    run = store.catalogue.get_run(*RUN)
    assert run["state"] == "finished" and run["tags"] == ["a"]  # tags kept: not given
    assert run["config"] == {} and run["history_keys"] == []
    assert {r["run_id"] for r in store.catalogue.find_runs(entity="me", project="proj")} == {
        "abc123",
        "other",
    }
    assert [r["run_id"] for r in store.catalogue.find_runs(run_id="other")] == ["other"]
    assert store.catalogue.get_run("me", "proj", "nope") is None


def test_delete_run_removes_records_and_blobs(store):
    store.catalogue.put_run(
        {"entity": "me", "project": "proj", "run_id": "abc123", "state": "finished"}
    )
    store.catalogue.write_files(*RUN, [{"name": "a.txt", "size": 1, "md5": "x", "updated_at": 1.0}])
    store.blobs.put(file_key(*RUN, "a.txt"), b"a")
    store.blobs.put(part_key(stream_prefix(*RUN, "history"), 0), b"p")
    store.blobs.put(file_key("me", "proj", "keep", "b.txt"), b"b")
    store.delete_run(*RUN)
    assert store.catalogue.get_run(*RUN) is None and store.catalogue.get_files(*RUN) == []
    assert store.blobs.list("runs/") == [file_key("me", "proj", "keep", "b.txt")]


def test_alerts_are_upserted_by_id_and_read_in_time_order(store):
    base = IDENTITY
    store.catalogue.write_alerts(
        [
            {**base, "alert_id": "2", "time": 2.0, "title": "late", "outcome": "sent"},
            {**base, "alert_id": "1", "time": 1.0, "title": "early", "outcome": "sent"},
        ]
    )
    store.catalogue.write_alerts([{**base, "alert_id": "2", "time": 2.0, "outcome": "throttled"}])
    alerts = store.catalogue.get_alerts(*RUN)
    assert [(a["title"], a["outcome"]) for a in alerts] == [
        ("early", "sent"),
        ("late", "throttled"),
    ]


def test_files_by_names_or_like_pattern_count_copies(store):
    for name in ("config.yaml", "summary.json", "ckpt/model.json"):
        store.catalogue.write_files(*RUN, [{"name": name, "size": 1, "md5": "m", "policy": "now"}])
    store.catalogue.write_files(
        *RUN, [{"name": "summary.json", "size": 9, "md5": "n", "policy": "end"}]
    )
    assert [f["name"] for f in store.catalogue.get_files(*RUN, pattern="%.json")] == [
        "ckpt/model.json",
        "summary.json",
    ]
    (summary,) = store.catalogue.get_files(*RUN, names=["summary.json"])
    assert (summary["size"], summary["md5"], summary["copies"]) == (9, "n", 2)
    assert [f["name"] for f in store.catalogue.get_files(*RUN)] == [
        "ckpt/model.json",
        "config.yaml",
        "summary.json",
    ]


def test_an_existing_store_folder_reads_as_before(tmp_path, store):
    store.catalogue.put_run(
        {"entity": "me", "project": "proj", "run_id": "abc123", "state": "finished"}
    )
    store.close()
    folder = tmp_path / "store" / "runs" / "me" / "proj" / "abc123" / "history"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"_step": [0, 1]}), str(folder / "part-00000.parquet"))
    again = open_store("file://" + str(tmp_path / "store"))
    assert again.catalogue.get_run(*RUN)["state"] == "finished"
    (key,) = again.blobs.list(stream_prefix(*RUN, "history"))
    assert key == "runs/me/proj/abc123/history/part-00000.parquet"
    with again.blobs.open(key) as fh:
        assert pq.read_table(fh).column("_step").to_pylist() == [0, 1]
    assert os.path.exists(tmp_path / "store" / "catalogue.db")


# -- blobs ---------------------------------------------------------------------------------
def test_put_open_list_size_delete(store):
    blobs = store.blobs
    blobs.put("runs/me/proj/abc123/files/b.txt", b"bee")
    blobs.put("runs/me/proj/abc123/files/sub/a.txt", b"a")
    blobs.put("runs/me/proj/other/files/c.txt", b"c")
    assert blobs.list("runs/me/proj/abc123/") == [
        "runs/me/proj/abc123/files/b.txt",
        "runs/me/proj/abc123/files/sub/a.txt",
    ]
    assert blobs.list("runs/me/proj/none/") == []
    with blobs.open("runs/me/proj/abc123/files/b.txt") as fh:
        assert fh.read() == b"bee"
    assert blobs.size("runs/me/proj/abc123/files/b.txt") == 3
    assert blobs.exists("runs/me/proj/abc123/files/b.txt")
    blobs.put("runs/me/proj/abc123/files/b.txt", b"replaced")
    assert blobs.open("runs/me/proj/abc123/files/b.txt").read() == b"replaced"
    blobs.delete("runs/me/proj/abc123/files/b.txt")
    blobs.delete("runs/me/proj/abc123/files/b.txt")  # twice: nothing to do
    assert not blobs.exists("runs/me/proj/abc123/files/b.txt")
    assert blobs.size("runs/me/proj/abc123/files/b.txt") is None
    with pytest.raises(FileNotFoundError):
        blobs.open("runs/me/proj/abc123/files/b.txt")
    assert blobs.url("runs/x").startswith("file:///")


def test_put_file_copies_in_chunks_with_its_md5(store, tmp_path):
    src = tmp_path / "big.bin"
    data = os.urandom(3 * (1 << 20) + 123)  # several chunks and a partial one
    src.write_bytes(data)
    key = file_key(*RUN, "ckpt/big.bin")
    size, md5 = store.blobs.put_file(key, str(src))
    assert (size, md5) == (len(data), hashlib.md5(data).hexdigest())
    assert open(on_disk(store, key), "rb").read() == data
    with pytest.raises(FileNotFoundError):
        store.blobs.put_file(key, str(tmp_path / "missing"))
    assert store.blobs.open(key).read() == data  # a failed copy leaves the blob as it was


def test_get_file_copies_or_links_read_only(store, tmp_path):
    key = file_key(*RUN, "w.bin")
    store.blobs.put(key, b"weights")
    copy = tmp_path / "copy.bin"
    store.blobs.get_file(key, str(copy))
    assert (
        copy.read_bytes() == b"weights"
        and os.stat(copy).st_ino != os.stat(on_disk(store, key)).st_ino
    )
    copy.write_bytes(b"edited")  # a download is the caller's to edit
    assert store.blobs.open(key).read() == b"weights"
    linked = tmp_path / "linked.bin"
    store.blobs.get_file(key, str(linked), link=True)
    assert linked.read_bytes() == b"weights"
    assert not stat.S_IMODE(os.stat(linked).st_mode) & 0o222  # nobody rewrites it in place
    store.blobs.put(key, b"new")  # the store replaces, never rewrites: the link keeps its content
    assert linked.read_bytes() == b"weights" and store.blobs.open(key).read() == b"new"


def test_writer_appears_whole_at_close_and_not_at_all_on_error(store):
    blobs = store.blobs
    key = "runs/me/proj/abc123/history/part-00000.parquet"
    with blobs.writer(key) as out:
        out.write(b"first half ")
        assert not blobs.exists(key) and blobs.list("runs/") == []  # temp names are hidden
        out.write(b"second half")
    assert blobs.open(key).read() == b"first half second half"
    with pytest.raises(RuntimeError):
        with blobs.writer(key) as out:
            out.write(b"torn")
            raise RuntimeError("disk gone")
    assert blobs.open(key).read() == b"first half second half"
    assert os.listdir(os.path.dirname(on_disk(store, key))) == ["part-00000.parquet"]


def test_a_concurrent_reader_never_sees_half_a_blob(store):
    blobs = store.blobs
    key = file_key(*RUN, "growing.bin")
    chunk = b"x" * 65536
    versions = [chunk * n for n in (16, 32)]
    blobs.put(key, versions[0])
    seen, stop = set(), threading.Event()

    def read() -> None:
        while not stop.is_set():
            with blobs.open(key) as fh:
                seen.add(len(fh.read()))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(20):
            with blobs.writer(key) as out:
                for _ in range(len(versions[i % 2]) // len(chunk)):
                    out.write(chunk)
    finally:
        stop.set()
        reader.join()
    assert seen <= {len(v) for v in versions}


@pytest.mark.parametrize(
    "key",
    ["../escape", "runs/../../etc/passwd", "/etc/passwd", "runs//x", "runs/./x", "", "a/\0b"],
)
def test_keys_that_leave_the_store_are_refused(store, key, tmp_path):
    blobs = store.blobs
    for call in (
        lambda: blobs.put(key, b"x"),
        lambda: blobs.open(key),
        lambda: blobs.list(key),
        lambda: blobs.delete(key),
        lambda: blobs.size(key),
    ):
        with pytest.raises(ValueError, match="invalid blob key"):
            call()
    with pytest.raises(ValueError):
        file_key(*RUN, key)
    assert not os.path.exists(tmp_path / "escape")


def test_run_identity_parts_cannot_climb(store):
    with pytest.raises(ValueError):
        stream_prefix("..", "proj", "id", "history")
    with pytest.raises(ValueError):
        file_key("me", "a/b", "id", "x")


# -- URIs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("uri", ["mysql://u@h/db", "s3://bucket/prefix", "http://x/y"])
def test_a_scheme_not_served_raises_naming_the_served_ones(uri, tmp_path, monkeypatch):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    with pytest.raises(tracker.Error, match="file://"):
        open_store(uri)
    monkeypatch.setenv("TRACKER_STORE", uri)
    with pytest.raises(tracker.Error, match="not served"):
        tracker.Api()
    assert os.listdir(tmp_path / "cwd") == []  # never a folder named after the URI


def test_bare_paths_and_file_uris_name_the_same_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = open_store("rel/store")
    b = open_store(f"file://{tmp_path}/rel/store")
    c = open_store(f"file://localhost{tmp_path}/rel/store")
    assert a.uri == b.uri == c.uri == f"file://{tmp_path}/rel/store"
    with pytest.raises(tracker.Error, match="file:///path"):
        open_store("file://otherhost/store")


# -- parts and compaction ------------------------------------------------------------------
def test_compacted_files_hide_the_parts_they_hold():
    p = "runs/e/p/r/history/"
    parts = [part_key(p, n) for n in range(6)]
    assert visible_parts(reversed(parts)) == parts
    merged = compacted_key(p, 0, 3)
    assert visible_parts([*parts, merged]) == [merged, parts[4], parts[5]]
    assert visible_parts([merged, part_key(p, 2), "runs/e/p/r/history/notes.txt"]) == [merged]
    assert next_part([merged]) == 4 and next_part([]) == 0
    assert parts_from([merged, parts[4], parts[5]], 4) == [parts[4], parts[5]]
    assert parts_from([merged, parts[4]], 0) == [merged, parts[4]]


def test_compaction_keeps_every_row_the_schema_union_and_the_types(store):
    blobs = store.blobs
    prefix = stream_prefix(*RUN, "history")
    tables = [
        pa.table({"_step": pa.array([0, 1], pa.int64()), "loss": [1, 2]}),
        pa.table({"_step": pa.array([2], pa.int64()), "loss": [0.5], "late": ["a"]}),
        pa.table({"_step": pa.array([3], pa.int64()), "loss": [None], "flag": [True]}),
    ]
    keys = [part_key(prefix, n) for n in range(3)]
    for key, table in zip(keys, tables, strict=True):
        with blobs.writer(key) as out:
            pq.write_table(table, out)
    dest = compacted_key(prefix, 0, 2)
    assert compact_parts(blobs, keys, dest) == 4
    assert blobs.list(prefix) == [dest]
    table = pq.read_table(on_disk(store, dest))
    assert table.column("_step").to_pylist() == [0, 1, 2, 3]
    assert table.schema.field("_step").type == pa.int64()
    assert table.column("loss").to_pylist() == [1.0, 2.0, 0.5, None]  # int and double: double
    assert table.column("late").to_pylist() == [None, None, "a", None]
    assert table.column("flag").to_pylist() == [None, None, None, True]
    assert pq.ParquetFile(on_disk(store, dest)).metadata.num_row_groups == 1


def test_a_failed_compaction_leaves_the_parts(store):
    blobs = store.blobs
    prefix = stream_prefix(*RUN, "history")
    keys = [part_key(prefix, 0), part_key(prefix, 1)]
    with blobs.writer(keys[0]) as out:
        pq.write_table(pa.table({"_step": [0]}), out)
    blobs.put(keys[1], b"not parquet")
    with pytest.raises(Exception):
        compact_parts(blobs, keys, compacted_key(prefix, 0, 1))
    assert blobs.list(prefix) == keys


def test_catalogue_schema_is_versioned_and_a_newer_one_is_refused(tmp_path):
    import sqlite3

    from tracker.store.sqlite import SCHEMA_VERSION

    open_store(str(tmp_path / "s")).close()
    path = str(tmp_path / "s" / "catalogue.db")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(tracker.Error, match="newer than this tracker"):
        open_store(str(tmp_path / "s"))


def test_a_catalogue_from_before_versions_keeps_its_runs(tmp_path):
    import sqlite3

    from tracker.store.sqlite import _SCHEMA, SCHEMA_VERSION

    os.makedirs(tmp_path / "old")
    db = sqlite3.connect(str(tmp_path / "old" / "catalogue.db"))
    db.executescript(_SCHEMA)  # as the store wrote it before versions were recorded
    db.execute(
        "INSERT INTO runs (entity, project, run_id, state) VALUES ('me', 'proj', 'abc123', 'finished')"
    )
    db.commit()
    db.close()
    store = open_store(str(tmp_path / "old"))
    assert store.catalogue.get_run(*RUN)["state"] == "finished"
    db = sqlite3.connect(str(tmp_path / "old" / "catalogue.db"))
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
