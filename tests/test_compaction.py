"""Compaction at finish: a finished run's stream is one parquet file, read with plain pyarrow."""

import os
import threading
import time

import pyarrow.parquet as pq
import tracker
from conftest import wait_until
from tracker.api.history import read_stream, scan_stream
from tracker.service.compact import compact_parts
from tracker.service.export import ROWS_PER_PART, Exporter, HistoryWriter
from tracker.store import open_store
from tracker.store.keys import stream_prefix
from tracker.store.localfs import LocalBlobStore
from tracker.store.parts import compacted_key, part_key

N = 3 * ROWS_PER_PART + 5_000  # three full parts and a tail cut at finish
LATE = N - 7_000  # a key that appears in the third part


def stream_files(api, path, stream="history"):
    folder = os.path.join(api.store_root, "runs", *path, stream)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(os.path.join(folder, f) for f in names if not f.startswith("."))


def log_rows(run, start, stop):
    for i in range(start, stop):
        run.log({"i": i, **({"late": float(i)} if i >= LATE else {})})


def test_a_finished_run_has_one_history_file_with_every_row_once_in_step_order(api):
    run = tracker.init(project="compact", settings={"system_sample_interval": 0})
    log_rows(run, 0, N)
    r = api.run(run.path)
    wait_until(lambda: len(stream_files(api, r.path)) >= 3)  # small parts while it runs
    run.finish()
    (path,) = stream_files(api, r.path)
    table = pq.read_table(path)
    assert table.column("_step").to_pylist() == list(range(N))
    assert table.column("i").to_pylist() == list(range(N))
    assert table.column("late").to_pylist() == [None] * LATE + [float(i) for i in range(LATE, N)]
    assert str(table.schema.field("_step").type) == "int64"
    assert str(table.schema.field("_runtime").type) == "double"
    assert pq.ParquetFile(path).metadata.num_row_groups == 1
    assert [row["i"] for row in api.run(run.path).scan_history()] == list(range(N))
    assert "compacted 4 parts" in open(os.path.join(run.sync_dir, "logs", "sidecar.log")).read()


def test_a_reader_during_compaction_sees_every_row_exactly_once(api):
    run = tracker.init(project="compact", settings={"system_sample_interval": 0})
    log_rows(run, 0, N)
    r = api.run(run.path)
    wait_until(lambda: r.load(force=True)["rows_exported"] >= 3 * ROWS_PER_PART, timeout=30)
    results, errors, done = [], [], threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                results.append([row["_step"] for row in r.beta_scan_history()])
            except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        run.finish()
        time.sleep(0.3)
    finally:
        done.set()
        reader.join()
    assert not errors
    assert results and all(steps == list(range(len(steps))) for steps in results)
    assert {len(steps) for steps in results} <= {3 * ROWS_PER_PART, N}
    assert len(stream_files(api, r.path)) == 1


def test_a_resumed_run_keeps_one_compacted_file_per_life(api):
    run = tracker.init(project="compact", id="twolives", settings={"system_sample_interval": 0})
    log_rows(run, 0, N)
    run.finish()
    run = tracker.init(
        project="compact", id="twolives", resume="allow", settings={"system_sample_interval": 0}
    )
    for i in range(N, N + 2 * ROWS_PER_PART + 1):
        run.log({"i": i})
    run.finish()
    r = api.run(run.path)
    names = [os.path.basename(f) for f in stream_files(api, r.path)]
    assert names == ["part-00000-00003.parquet", "part-00004-00006.parquet"]
    assert r.load(force=True)["history_parts"] == 7  # the next part a third life would cut
    assert [row["i"] for row in r.scan_history()] == list(range(N + 2 * ROWS_PER_PART + 1))


def drive(writer: HistoryWriter, exporter: Exporter) -> None:
    """The sidecar's main loop, reduced to what a writer needs: apply export completions."""

    def settled() -> bool:
        exporter.run_completed()
        return writer.idle

    wait_until(settled, timeout=30)


def test_the_system_stream_goes_on_after_earlier_parts_and_is_compacted_too(tmp_path):
    store = open_store(str(tmp_path / "s"))
    prefix = stream_prefix("me", "p", "sysrun", "system")
    exporter = Exporter()
    lines = []
    try:
        for life in range(2):
            writer = HistoryWriter(exporter, store.blobs, prefix, None, 0, lines.append)
            for n in range(2 * ROWS_PER_PART + 10):
                writer.add({"_timestamp": float(n), "_runtime": float(n), "cpu": life})
            writer.finish()
            drive(writer, exporter)
    finally:
        exporter.stop()
    keys = store.blobs.list(prefix)
    assert [k.rsplit("/", 1)[1] for k in keys] == [
        "part-00000-00002.parquet",
        "part-00003-00005.parquet",
    ]
    for life, key in enumerate(keys):
        with store.blobs.open(key) as fh:
            table = pq.read_table(fh)
        assert table.num_rows == 2 * ROWS_PER_PART + 10
        assert set(table.column("cpu").to_pylist()) == {life}
    assert not any("could not" in line for line in lines)


def write_parts(store, prefix, sizes):
    """Parts of ``sizes`` rows each, with consecutive steps; returns their keys."""
    import pyarrow as pa

    keys, step = [], 0
    for n, size in enumerate(sizes):
        key = part_key(prefix, n)
        with store.blobs.writer(key) as out:
            pq.write_table(pa.table({"_step": pa.array(range(step, step + size), pa.int64())}), out)
        keys.append(key)
        step += size
    return keys


class CompactedWhileRead(LocalBlobStore):
    """A local blob store whose parts are compacted right after a reader opens the first one:
    the reader listed the parts before, as a reader racing the finish of a run does."""

    def __init__(self, root, keys, dest):
        super().__init__(root)
        self.pending = (keys, dest)

    def open(self, key):
        fh = super().open(key)
        if self.pending:
            keys, dest = self.pending
            self.pending = None
            compact_parts(self, keys, dest)
        return fh


def test_a_reader_that_listed_the_parts_before_compaction_reads_each_row_once(tmp_path):
    store = open_store(str(tmp_path / "s"))
    prefix = stream_prefix("me", "p", "race", "history")
    keys = write_parts(store, prefix, [5, 5, 5])
    dest = compacted_key(prefix, 0, 2)
    root = store.blobs.root
    table = read_stream(CompactedWhileRead(root, keys, dest), prefix)
    assert table.column("_step").to_pylist() == list(range(15))
    keys = write_parts(store, stream_prefix("me", "p", "race2", "history"), [5, 5, 5])
    prefix2 = stream_prefix("me", "p", "race2", "history")
    blobs = CompactedWhileRead(root, keys, compacted_key(prefix2, 0, 2))
    assert [row["_step"] for row in scan_stream(blobs, prefix2)] == list(range(15))
    assert store.blobs.list(prefix2) == [compacted_key(prefix2, 0, 2)]


def test_the_read_api_takes_the_compacted_file_while_its_parts_are_still_there(api):
    run = tracker.init(project="compact", settings={"system_sample_interval": 0})
    log_rows(run, 0, N)
    run.finish()
    r = api.run(run.path)
    prefix = stream_prefix(*r.path, "history")
    (merged,) = api.store.blobs.list(prefix)
    with api.store.blobs.open(merged) as fh:
        table = pq.read_table(fh)
    for n, start in enumerate(range(0, N, ROWS_PER_PART)):  # the parts, back as they were
        with api.store.blobs.writer(part_key(prefix, n)) as out:
            pq.write_table(table.slice(start, ROWS_PER_PART), out)
    assert len(api.store.blobs.list(prefix)) == 5
    assert [row["_step"] for row in r.scan_history()] == list(range(N))
    assert [row["_step"] for row in r.beta_scan_history()] == list(range(N))
    assert len(r.history(samples=N, pandas=False)) == N
    assert len(r.download_history_exports(str(api.store_root) + "-dl").paths) == 1


class CompactedAfterOpen:
    """Any blob store whose parts are compacted right after a reader opens the first one."""

    def __init__(self, blobs, keys, dest):
        self.blobs, self.pending = blobs, (keys, dest)

    def open(self, key):
        fh = self.blobs.open(key)
        if self.pending:
            keys, dest = self.pending
            self.pending = None
            compact_parts(self.blobs, keys, dest)
        return fh

    def __getattr__(self, name):
        return getattr(self.blobs, name)


def test_a_part_compacted_on_s3_between_open_and_read_is_read_from_the_compacted_file(
    shared_uri,
):
    # S3 checks an object when it is opened and fails mid-read once it is deleted: found by
    # bench_shared_store (a reader polling a run on another host as it finished)
    from tracker.settings import Env
    from tracker.ui.queries import series

    store = open_store(shared_uri, Env.s3_defaults())
    for run_id, read in [
        ("scan", lambda b, p: [row["_step"] for row in scan_stream(b, p)]),
        ("table", lambda b, p: read_stream(b, p).column("_step").to_pylist()),
    ]:
        prefix = stream_prefix("me", "p", run_id, "history")
        keys = write_parts(store, prefix, [5, 5, 5])
        blobs = CompactedAfterOpen(store.blobs, keys, compacted_key(prefix, 0, 2))
        assert read(blobs, prefix) == list(range(15))
        assert store.blobs.list(prefix) == [compacted_key(prefix, 0, 2)]
    prefix = stream_prefix("me", "p", "chart", "history")
    keys = write_parts(store, prefix, [5, 5, 5])

    class Opened:
        blobs = CompactedAfterOpen(store.blobs, keys, compacted_key(prefix, 0, 2))

    run = {"entity": "me", "project": "p", "run_id": "chart", "state": "finished"}
    assert series(Opened, None, run, ["_step"])["rows"] == 15
    store.close()
