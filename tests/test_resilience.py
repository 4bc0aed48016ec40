"""Nothing is lost (§6, §4.7): crashes, torn logs, oversized input, resume, an unwritable store."""

import json
import os
import signal
import time

import tracker
import zmq
from conftest import in_store, wait_until
from test_cli_and_sync import cli


def test_killed_training_process_gets_its_end_files_copied(start_script, api, tracker_env):
    ckpt = os.path.join(tracker_env["root"], "ckpt.txt")
    proc = start_script(
        f"""
        import time, tracker
        run = tracker.init(project="res")
        open({ckpt!r}, "w").write("final weights")
        run.save({ckpt!r}, base_path={os.path.dirname(ckpt)!r}, policy="end")
        for i in range(1000):
            run.log({{"i": i}})
        run.status()
        print(run.path, flush=True)
        time.sleep(60)
        """
    )
    path = proc.stdout.readline().split()[0]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = api.run(path)
    assert r.wait_until_finished(timeout=15) == "crashed"
    assert open(in_store(api, r.file("ckpt.txt"))).read() == "final weights"
    assert r.lastHistoryStep == 999


def test_resume_after_a_crash_continues_and_reads_as_one(start_script, api):
    proc = start_script(
        """
        import time, tracker
        run = tracker.init(project="res", id="crashy1", config={"lr": 0.1})
        for i in range(500):
            run.log({"i": i})
        run.status()
        print("ok", flush=True)
        time.sleep(60)
        """
    )
    assert proc.stdout.readline().strip() == "ok"
    proc.kill()
    proc.wait()
    r = api.run("res/crashy1")
    assert r.wait_until_finished(timeout=15) == "crashed"
    run = tracker.init(project="res", id="crashy1", resume="allow")
    assert run.resumed and run.starting_step == 500 and run.config["lr"] == 0.1
    for i in range(500, 800):
        run.log({"i": i})
    run.finish()
    r = api.run("res/crashy1")
    assert r.state == "finished"
    assert [row["i"] for row in r.scan_history()] == list(range(800))
    assert [row["_step"] for row in r.scan_history()] == list(range(800))
    runtimes = [row["_runtime"] for row in r.scan_history(keys=["i", "_runtime"])]
    assert runtimes == sorted(runtimes)  # the second segment's clock continues the first's


def test_torn_and_corrupted_transaction_log_syncs_every_intact_record(run_script, api):
    proc = run_script(
        """
        import tracker
        run = tracker.init(project="res", mode="offline")
        for i in range(3000):
            run.log({"i": i})
            if i % 500 == 0:
                run.status()   # forces separate frames
        run.finish()
        print(run.sync_dir)
        """,
        check=True,
    )
    run_dir = proc.stdout.split()[-1]
    (trk,) = [f for f in os.listdir(run_dir) if f.endswith(".trk")]
    path = os.path.join(run_dir, trk)
    data = bytearray(open(path, "rb").read())
    frame_starts = []
    pos = 8
    while pos < len(data):
        frame_starts.append(pos)
        pos += 8 + int.from_bytes(data[pos : pos + 4], "little")
    victim = frame_starts[len(frame_starts) // 2]
    data[victim + 8 + 5] ^= 0xFF  # flip a byte inside a middle frame's payload
    cut = frame_starts[-1] + 10  # tear the last frame (the finish)
    open(path, "wb").write(bytes(data[:cut]))
    out = cli("sync", run_dir)
    assert "damaged record(s) skipped" in out and "checksum mismatch" in out and "torn" in out
    (r,) = api.runs("res")
    values = [row["i"] for row in r.scan_history()]
    assert r.state == "crashed"  # its finish record was in the torn tail
    assert len(values) < 3000 and values == sorted(values)
    assert values[0] == 0 and values[-1] == 2999 or len(values) > 2000


def test_oversized_messages_are_refused_and_counted(tracker_env, api):
    from tracker.client.control import sidecar_statuses
    from tracker.client.runtime import sidecar_paths
    from tracker.proto.messages import encode_log

    run = tracker.init(project="res", settings={"max_message_bytes": 1_000_000})
    run.log({"a": 1})
    run.status()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(sidecar_paths(tracker_env["store"]).endpoint)
    sock.send(encode_log(run._token, 99, None, True, 0.0, {"huge": "x" * (70 * 1024 * 1024)}))
    sock.close(linger=5000)
    wait_until(lambda: sidecar_statuses()[0]["rejected"].get("oversized") == 1, timeout=30)
    run.log({"a": 2})
    run.finish()
    assert [row["a"] for row in api.run(run.path).scan_history()] == [1, 2]


def test_unwritable_store_keeps_everything_and_recovers(tracker_env, api):
    run = tracker.init(project="res")
    folder = os.path.join(tracker_env["store"], "runs", "tester", "res", run.id)
    os.makedirs(folder, exist_ok=True)
    blocker = os.path.join(folder, "history")
    open(blocker, "w").close()  # a file where the history folder must go: every write fails
    for i in range(25_000):
        run.log({"i": i})
    from tracker.client.control import sidecar_statuses

    wait_until(lambda: sidecar_statuses()[0]["runs"][0].get("export_error"), timeout=20)
    entry = sidecar_statuses()[0]["runs"][0]
    assert "failed" in entry["export_error"] and entry["rows_committed"] == 25_000
    assert "will retry" in open(os.path.join(run.sync_dir, "logs", "sidecar.log")).read()
    os.unlink(blocker)  # space is back
    run.finish()
    r = api.run(run.path)
    assert [row["i"] for row in r.scan_history()] == list(range(25_000))
    assert len(list(r.beta_scan_history())) == 25_000


def sidecar_pid(tracker_env):
    from tracker.client.runtime import sidecar_paths

    return json.load(open(sidecar_paths(tracker_env["store"]).info))["pid"]


def test_paused_sidecar_logging_keeps_going_spills_and_loses_nothing(tracker_env, api):
    run = tracker.init(project="res", settings={"max_queue_bytes": 1024 * 1024})
    pid = sidecar_pid(tracker_env)
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        for i in range(200_000):
            run.log({"i": i, "x": float(i)})
        logging_s = time.monotonic() - t0
        transport = run._transport
        assert transport.spilled_batches > 0  # memory was bounded: the rest went to disk
        assert transport._memory <= 1024 * 1024
        spill_files = [
            f for f in os.listdir(os.path.join(run.sync_dir, "logs")) if f.startswith("spill-")
        ]
        assert spill_files
    finally:
        os.kill(pid, signal.SIGCONT)
    assert logging_s < 10  # nothing waited for the stopped sidecar
    run.finish()
    r = api.run(run.path)
    assert [row["i"] for row in r.scan_history(keys=["i"])] == list(range(200_000))
    assert not [f for f in os.listdir(os.path.join(run.sync_dir, "logs")) if f.startswith("spill-")]


def test_killed_sidecar_is_replaced_and_every_row_arrives_once(tracker_env, api):
    from tracker.client.runtime import sidecar_alive, sidecar_paths

    run = tracker.init(project="res")
    run.define_metric("x", summary="max")
    paths = sidecar_paths(tracker_env["store"])
    first = sidecar_pid(tracker_env)
    for i in range(30_000):
        run.log({"i": i, "x": i})
    run.summary["note"] = "before"
    os.kill(first, signal.SIGKILL)
    for i in range(30_000, 60_000):
        run.log({"i": i, "x": i})
        if i % 1000 == 0:
            time.sleep(0.002)
    wait_until(lambda: sidecar_alive(paths) and sidecar_pid(tracker_env) != first, timeout=20)
    for i in range(60_000, 70_000):
        run.log({"i": i, "x": i})
    run.finish()
    assert run._transport.recoveries >= 1
    r = api.run(run.path)
    assert r.state == "finished"
    assert [row["i"] for row in r.scan_history(keys=["i"])] == list(range(70_000))
    assert r.summary["x"] == {"max": 69_999} and r.summary["note"] == "before"
    assert "taken over" in open(os.path.join(run.sync_dir, "logs", "sidecar.log")).read()


def test_two_processes_survive_their_shared_sidecar_being_killed(tracker_env, api, start_script):
    code = """
        import sys, time, tracker
        run = tracker.init(project="res", group="pair")
        print(run.path, flush=True)
        sys.stdin.readline()
        for i in range(40_000):
            run.log({"i": i})
            if i % 500 == 0:
                time.sleep(0.005)
        run.finish()
        print(run._transport.recoveries, flush=True)
        """
    import subprocess

    procs = [start_script(code, stdin=subprocess.PIPE) for _ in range(2)]
    paths = [p.stdout.readline().split()[0] for p in procs]
    first = sidecar_pid(tracker_env)
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    time.sleep(0.3)
    os.kill(first, signal.SIGKILL)
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    for path in paths:
        r = api.run(path)
        assert r.state == "finished"
        assert [row["i"] for row in r.scan_history(keys=["i"])] == list(range(40_000))
    assert sidecar_pid(tracker_env) != first
