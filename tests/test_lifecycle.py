"""Finishing (§4.7): finish, with-blocks, atexit, exit codes, and training processes that die."""

import os
import signal
import time

import pytest
import tracker
from conftest import wait_until


def final(api_run, timeout=15):
    api_run.wait_until_finished(timeout=timeout)
    return api_run


def test_finish_with_exit_code_zero_is_finished_and_nonzero_is_failed(api):
    run = tracker.init(project="life")
    run.log({"a": 1})
    run.finish()
    assert api.run(run.path).state == "finished"
    run2 = tracker.init(project="life")
    run2.finish(exit_code=2)
    r2 = api.run(run2.path)
    assert r2.state == "failed" and r2.exit_code == 2


def test_with_block_finishes_and_an_escaping_exception_fails(api):
    with tracker.init(project="life") as run:
        run.log({"a": 1})
    assert api.run(run.path).state == "finished"
    assert tracker.run is None
    with pytest.raises(RuntimeError):
        with tracker.init(project="life") as run2:
            run2.log({"a": 1})
            raise RuntimeError("boom")
    r2 = api.run(run2.path)
    assert r2.state == "failed" and r2.exit_code == 1
    assert r2.summary["a"] == 1


def test_finish_prints_a_closing_summary_unless_quiet(capsys, monkeypatch):
    monkeypatch.setenv("TRACKER_SILENT", "0")
    run = tracker.init(project="life")
    run.log({"loss": 0.25, "weights": tracker.Histogram([0.5] * 50), "note": "n" * 200})
    run.finish()
    err = capsys.readouterr().err
    assert "finished: 1 rows" in err and "loss 0.25" in err
    assert "weights <histogram>" in err and "bins" not in err  # no wall of bin edges
    assert "note 'nnnnn" in err and "n" * 100 not in err
    run2 = tracker.init(project="life")
    run2.finish(quiet=True)
    assert "finished" not in capsys.readouterr().err


SCRIPT_HEAD = """
import os, sys, time, tracker
run = tracker.init(project="life", id=sys.argv[1] if len(sys.argv) > 1 else None)
print(run.path, flush=True)
for i in range(100):
    run.log({"i": i})
"""


@pytest.mark.parametrize(
    "ending, state, exit_code",
    [
        ("pass", "finished", 0),
        ("raise RuntimeError('boom')", "failed", 1),
        ("sys.exit(3)", "failed", 3),
        ("sys.exit(0)", "finished", 0),
    ],
)
def test_script_that_ends_without_finish_is_finished_at_exit(
    run_script, api, ending, state, exit_code
):
    proc = run_script(SCRIPT_HEAD + ending + "\n")
    path = proc.stdout.split()[0]
    r = api.run(path)
    assert r.state == state, proc.stderr
    assert (r.exit_code or 0) == exit_code
    assert r.lastHistoryStep == 99


def test_sigkilled_training_process_becomes_crashed_with_every_row_sent_before(start_script, api):
    proc = start_script(
        """
        import time, tracker
        run = tracker.init(project="life")
        print(run.path, flush=True)
        i = 0
        while True:
            run.log({"i": i})
            if i % 1000 == 0:
                print(i, flush=True)
            i += 1
            if i % 100 == 0:
                time.sleep(0.001)
        """
    )
    path = proc.stdout.readline().split()[0]
    last_printed = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        last_printed = int(proc.stdout.readline())
    time.sleep(0.0)
    # every row up to `last_printed` was logged before the print we read, so >100 ms before
    # the kill once we wait a little
    time.sleep(0.15)
    killed_at = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = api.run(path)
    state = final(r, timeout=10).state
    assert state == "crashed"
    assert time.monotonic() - killed_at < 10
    steps = [row["_step"] for row in r.scan_history(keys=["i"])]
    assert steps[: last_printed + 1] == list(range(last_printed + 1))
    assert steps == list(range(len(steps)))  # nothing lost or duplicated
    assert r.summary["i"] == steps[-1]


def test_os_exit_without_finish_is_crashed(run_script, api):
    proc = run_script(SCRIPT_HEAD + "time.sleep(0.2)\nos._exit(3)\n")
    r = final(api.run(proc.stdout.split()[0]))
    assert r.state == "crashed"
    assert r.lastHistoryStep == 99


def test_mark_preempting_then_death_is_preempted(run_script, api):
    # the process dies 0.2 s after marking: the mark must not be lost with it
    proc = run_script(SCRIPT_HEAD + "run.mark_preempting()\ntime.sleep(0.2)\nos._exit(1)\n")
    assert final(api.run(proc.stdout.split()[0])).state == "preempted"


def test_a_run_marked_preempting_shows_it_while_its_process_lives(start_script, api):
    proc = start_script(
        SCRIPT_HEAD + "run.mark_preempting()\nprint('marked', flush=True)\ntime.sleep(60)\n"
    )
    path = proc.stdout.readline().split()[0]
    assert proc.stdout.readline().strip() == "marked"
    wait_until(lambda: api.run(path).state == "preempting", timeout=10)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert final(api.run(path)).state == "preempted"


def test_two_processes_share_one_sidecar(start_script, api, tracker_env):
    code = """
        import os, tracker
        run = tracker.init(project="shared", group="g1")
        for i in range(20000):
            run.log({"i": i})
        run.finish()
        print(run.path)
        """
    a, b = start_script(code), start_script(code)
    outs = [p.communicate(timeout=120) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    paths = [o[0].split()[0] for o in outs]
    for path in paths:
        r = api.run(path)
        assert r.state == "finished"
        assert [row["i"] for row in r.scan_history()] == list(range(20000))
    from tracker.client.runtime import all_sidecars

    assert len(all_sidecars()) == 1
    assert {r.id for r in api.runs("shared", filters={"group": "g1"})} == {
        p.split("/")[-1] for p in paths
    }


def test_sidecar_exits_after_idle_timeout(tracker_env, monkeypatch):
    from tracker.client.runtime import sidecar_alive, sidecar_paths

    monkeypatch.setenv("TRACKER_IDLE_TIMEOUT", "0.5")
    paths = sidecar_paths(tracker_env["store"])
    run = tracker.init(project="life")
    assert sidecar_alive(paths)
    run.finish()
    wait_until(lambda: not sidecar_alive(paths), timeout=10)
    assert not os.path.exists(paths.socket)


def test_runtime_dir_is_private_and_has_no_tcp_port(tracker_env):
    import stat

    from tracker.client.runtime import sidecar_paths

    tracker.init(project="life")
    paths = sidecar_paths(tracker_env["store"])
    assert stat.S_IMODE(os.stat(tracker_env["runtime"]).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(paths.folder).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(paths.socket).st_mode)


def test_an_unreachable_sidecar_gives_a_clear_error_after_the_timeout(tracker_env):
    import json

    from tracker.client.runtime import sidecar_paths
    from tracker.proto.messages import Kind

    run = tracker.init(project="life")
    pid = json.load(open(sidecar_paths(tracker_env["store"]).info))["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(tracker.Error, match="did not answer"):
            run._conn.request(Kind.STATUS, run._token, timeout=1.0)
        assert time.monotonic() - t0 < 5
        t0 = time.monotonic()
        for i in range(1000):
            run.log({"i": i})  # never blocks while the sidecar is stopped
        assert time.monotonic() - t0 < 2
    finally:
        os.kill(pid, signal.SIGCONT)
    assert run.status().last_step_committed == 999


def test_a_sidecar_removes_its_runtime_folder_when_it_exits(tracker_env, monkeypatch):
    from tracker.client.runtime import sidecar_alive, sidecar_paths

    monkeypatch.setenv("TRACKER_IDLE_TIMEOUT", "0.5")
    paths = sidecar_paths(tracker_env["store"])
    run = tracker.init(project="life")
    run.log({"a": 1})
    run.finish()
    wait_until(lambda: not sidecar_alive(paths), timeout=10)
    wait_until(lambda: not os.path.exists(paths.folder), timeout=10)
    # the folder is renamed to a tombstone first, then removed: wait for that to end too
    wait_until(lambda: os.listdir(tracker_env["runtime"]) == [], timeout=10)


def test_a_stopped_sidecar_leaves_no_runtime_folder(tracker_env):
    from test_cli_and_sync import cli
    from tracker.client.runtime import sidecar_paths

    paths = sidecar_paths(tracker_env["store"])
    cli("start")
    assert os.path.exists(paths.info)
    assert "stopped" in cli("stop")
    wait_until(lambda: not os.path.exists(paths.folder), timeout=10)


def _stale_folder(runtime: str, name: str, age: float) -> str:
    folder = os.path.join(runtime, name)
    os.makedirs(folder)
    for leftover in ("sidecar.lock", "sidecar.json", "sidecar.log"):
        with open(os.path.join(folder, leftover), "w") as fh:
            fh.write("{}")
    then = time.time() - age
    for entry in os.listdir(folder):
        os.utime(os.path.join(folder, entry), (then, then))
    os.utime(folder, (then, then))
    return folder


def test_stale_runtime_folders_are_removed_at_the_next_spawn(tracker_env):
    from tracker.client.runtime import STALE_AFTER

    runtime = tracker_env["runtime"]
    stale = _stale_folder(runtime, "0123456789abcdef", age=STALE_AFTER + 60)
    fresh = _stale_folder(runtime, "fedcba9876543210", age=0)  # a spawner may be using it
    tomb = _stale_folder(runtime, ".removing-0011223344556677-1-2", age=STALE_AFTER + 60)
    other = _stale_folder(runtime, "not-a-sidecar", age=STALE_AFTER + 60)
    run = tracker.init(project="life")  # spawns a sidecar
    assert not os.path.exists(stale) and not os.path.exists(tomb)
    assert os.path.exists(fresh) and os.path.exists(other)
    run.finish()


def test_a_runtime_folder_whose_lock_is_held_is_never_removed(tracker_env):
    import fcntl

    from tracker.client.runtime import STALE_AFTER, all_sidecars

    folder = _stale_folder(tracker_env["runtime"], "00112233aabbccdd", age=STALE_AFTER + 60)
    fd = os.open(os.path.join(folder, "sidecar.lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a sidecar that is starting
        all_sidecars()
        assert os.path.exists(folder)
    finally:
        os.close(fd)
    all_sidecars()  # now nobody holds it
    assert not os.path.exists(folder)


def test_finish_gives_up_after_finish_timeout_naming_the_log_and_the_sync_command(
    tracker_env, capfd, caplog
):
    from tracker.client.runtime import read_info, sidecar_paths

    run = tracker.init(project="life", settings={"finish_timeout": 2, "silent": False})
    for i in range(100):
        run.log({"i": i})
    run.status()
    pid = read_info(sidecar_paths(tracker_env["store"]))["pid"]
    capfd.readouterr()
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        run.finish()
        took = time.monotonic() - t0
    finally:
        os.kill(pid, signal.SIGCONT)
    assert 2 <= took < 6
    txlog = os.path.join(run.sync_dir, f"run-{run.id}.trk")
    command = f"tracker-service sync {run.sync_dir}"
    err = capfd.readouterr().err
    assert "finish_timeout" in err and txlog in err and command in err
    (record,) = [r for r in caplog.records if r.name == "tracker"]
    assert txlog in record.getMessage() and command in record.getMessage()
    assert tracker.run is None  # finished here all the same
    with pytest.raises(tracker.Error, match="finished"):
        run.log({"i": 100})
    run.finish()  # a second finish does nothing
    # the sidecar, once resumed, still completes the run from what it received
    api = tracker.Api()
    wait_until(lambda: api.run(run.path).state == "finished", timeout=30)


def test_one_request_function_reaches_a_sidecar_by_paths_endpoint_or_transport(tracker_env):
    from tracker.client import request
    from tracker.client.runtime import read_info, sidecar_paths
    from tracker.proto.messages import Kind

    run = tracker.init(project="life")
    paths = sidecar_paths(tracker_env["store"])
    pid = read_info(paths)["pid"]
    assert request(paths, Kind.PING, timeout=5.0)["pid"] == pid
    assert request(paths.endpoint, Kind.PING, timeout=5.0)["pid"] == pid
    run.log({"a": 1})
    body = request(run._transport, Kind.STATUS, run._token, timeout=5.0)
    assert body["last_step_committed"] == 0  # ordered after the record published before it
    run.finish()


def test_a_sidecar_that_exits_is_reaped_by_the_process_that_started_it(tracker_env):
    import json

    import psutil
    from conftest import _stop_sidecar
    from tracker.client.runtime import sidecar_paths

    run = tracker.init(project="life")
    run.finish()
    pid = json.load(open(sidecar_paths(tracker_env["store"]).info))["pid"]
    assert pid in {c.pid for c in psutil.Process().children()}  # this test started it
    _stop_sidecar(tracker_env["store"])

    # gone, not a zombie child of this process (a zombie's pid still exists)
    wait_until(lambda: not psutil.pid_exists(pid), timeout=10)
