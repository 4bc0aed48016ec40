"""The sidecar's stage base, error counting and transaction-log group commit, without a
sidecar process (fast tier)."""

from __future__ import annotations

import os
import threading
import time

from conftest import wait_until
from tracker.proto import frames
from tracker.service.txlog import LogSyncer, TxLogWriter, replay
from tracker.service.worker import StageErrors, Worker


def test_a_worker_runs_jobs_in_order_and_hands_results_to_the_owner_thread():
    worker = Worker("test")
    seen: list[tuple[int, str]] = []
    for i in range(50):
        worker.submit(lambda i=i: (i, threading.current_thread().name), seen.append)
    wait_until(lambda: worker.run_completed() or len(seen) == 50)
    while len(seen) < 50:
        worker.run_completed()
    assert [i for i, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"test"}  # jobs ran on the stage's thread
    assert worker.pending == 0
    worker.stop()


def test_a_failing_job_is_counted_and_its_callback_gets_the_exception():
    worker = Worker("exporter")
    results: list[object] = []

    def boom() -> None:
        raise OSError("disk full")

    worker.submit(boom, results.append, "export of part 3")
    worker.submit(lambda: "fine", results.append)
    worker.stop()  # finishes what was submitted
    worker.run_completed()
    assert isinstance(results[0], OSError) and results[1] == "fine"
    assert worker.errors.count == 1
    assert worker.errors.last == "export of part 3: OSError: disk full"
    assert worker.errors.as_dict()["at"] is not None


def test_stage_errors_keep_the_count_and_the_last_failure():
    errors = StageErrors("sampler")
    for i in range(3):
        errors.record("gpu.0.powerWatts", f"not supported {i}")
    assert errors.as_dict()["count"] == 3
    assert errors.last == "gpu.0.powerWatts: not supported 2"


def test_the_log_syncer_fsyncs_flushed_records_within_the_interval(tmp_path):
    path = str(tmp_path / "run-x.trk")
    writer = TxLogWriter(path, fsync_interval=0.05)
    syncer = LogSyncer()
    syncer.add(writer)
    for seq in range(1, 101):
        writer.append(b"record-%d" % seq, seq)
    assert writer.status()["log_synced_seq"] == 0  # nothing flushed yet: nothing to sync
    writer.flush()
    wait_until(lambda: writer.synced_seq == 100, timeout=5)
    status = writer.status()
    assert (
        status["log_synced_bytes"]
        == status["log_bytes"]
        == os.path.getsize(path) - len(frames.HEADER)
    )
    assert status["log_synced_at"] <= time.time()
    assert syncer.fsyncs >= 1
    writer.append(b"record-101", 101)
    writer.flush()
    wait_until(lambda: writer.synced_seq == 101, timeout=5)
    syncer.remove(writer)
    writer.close()
    syncer.stop()
    assert syncer.errors.count == 0


def test_group_commit_uses_one_fsync_for_many_records(tmp_path):
    writer = TxLogWriter(str(tmp_path / "run-y.trk"), fsync_interval=3600)
    syncer = LogSyncer()
    syncer.add(writer)
    for seq in range(1, 1001):
        writer.append(b"r", seq)
    writer.flush()
    time.sleep(0.1)
    assert writer.synced_seq == 0  # the interval has not passed
    syncer.stop()  # a last sync of everything flushed
    assert writer.synced_seq == 1000 and syncer.fsyncs == 1
    writer.close()


def test_closing_a_log_syncs_it_and_replay_reads_every_record(tmp_path):
    from tracker.proto.messages import Kind, encode

    path = str(tmp_path / "run-z.trk")
    writer = TxLogWriter(path, fsync_interval=3600)
    for seq in range(1, 11):
        writer.append(encode(Kind.CONFIG, 1, seq, {"k": seq}), seq)
    writer.close()
    assert writer.synced_seq == 10
    assert [m.data["k"] for m in replay(path)] == list(range(1, 11))
