"""``tracker-service`` (§9): status of a running run, start/stop, runs, offline sync."""

import json
import os
import subprocess
import sys

import tracker
from conftest import wait_until
from tracker.service.cli import app
from typer.testing import CliRunner

runner = CliRunner()


def cli(*args):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_status_without_sidecar_says_so():
    assert "No tracker sidecar is running." in cli("status")
    assert json.loads(cli("status", "--json"))["sidecars"] == []


def test_status_json_shows_a_running_runs_last_committed_step():
    run = tracker.init(project="cli")
    for i in range(1234):
        run.log({"a": i})
    run.log({"a": 0}, step=3)  # dropped and counted
    assert run.status().last_step_committed == 1233
    data = json.loads(cli("status", "--json"))
    (sidecar,) = data["sidecars"]
    assert sidecar["pid"] > 0 and sidecar["store"].endswith("/store")
    (entry,) = sidecar["runs"]
    assert entry["path"] == run.path and entry["state"] == "running"
    assert entry["last_step_committed"] == 1233 and entry["rows_committed"] == 1234
    assert entry["steps_dropped"] == 1 and entry["first_dropped_step"] == 3
    text = cli("status")
    assert run.path in text and "1233" in text


def test_status_via_the_console_script(tracker_env):
    run = tracker.init(project="cli")
    run.log({"a": 1})
    run.status()
    exe = os.path.join(os.path.dirname(sys.executable), "tracker-service")
    out = subprocess.run([exe, "status", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sidecars"][0]["runs"][0]["last_step_committed"] == 0


def test_start_and_stop(tracker_env):
    from tracker.client.runtime import sidecar_alive, sidecar_paths

    paths = sidecar_paths(tracker_env["store"])
    assert "sidecar running" in cli("start")
    assert sidecar_alive(paths)
    assert "stopped" in cli("stop")
    assert not sidecar_alive(paths)


def test_stop_under_a_live_run_hands_it_over_and_the_run_goes_on(tracker_env):
    assert "sidecar running" in cli("start")
    run = tracker.init(project="cli")  # joins the started sidecar
    run.log({"a": 1})
    run.status()
    assert "stopped" in cli("stop")
    run.log({"a": 2})  # a new sidecar takes the run over from its log
    run.finish()
    r = tracker.Api().run(run.path)
    assert r.state == "finished" and r.summary["a"] == 2  # nothing lost, nothing closed early
    assert [row["a"] for row in r.scan_history()] == [1, 2]


def test_runs_lists_a_project():
    for _ in range(2):
        run = tracker.init(project="listed", reinit=True)
        run.log({"a": 1})
        run.finish()
    out = cli("runs", "listed", "--json")
    assert len(json.loads(out)) == 2
    assert "finished" in cli("runs", "tester/listed")


def test_offline_run_stays_local_then_syncs_once(run_script, tracker_env, api):
    proc = run_script(
        """
        import tracker
        run = tracker.init(project="off", mode="offline", config={"lr": 3})
        run.define_metric("loss", summary="min")
        for i in range(25000):
            run.log({"loss": 100 - i % 50, "i": i})
        run.summary["note"] = "hi"
        run.finish()
        print(run.sync_dir)
        """,
        check=True,
    )
    run_dir = proc.stdout.split()[-1]
    assert os.path.basename(run_dir).startswith("offline-run-")
    assert api.runs("off") == []
    assert os.path.exists(os.path.join(run_dir, "files", "summary.json"))
    status = json.loads(cli("status", "--json"))
    assert run_dir in status["unsynced_offline_runs"]

    out = cli("sync", run_dir)
    assert "synced" in out and "25000 rows" in out
    (r,) = api.runs("off")
    assert r.state == "finished" and r.config == {"lr": 3}
    assert r.summary["loss"] == {"min": 51} and r.summary["note"] == "hi"
    assert [row["i"] for row in r.scan_history()] == list(range(25000))

    assert "already synced" in cli("sync", os.path.join(tracker_env["root"], "tracker"))
    cli("sync", run_dir, "--force")
    (r,) = api.runs("off")
    assert [row["i"] for row in r.scan_history()] == list(range(25000))
    assert run_dir not in json.loads(cli("status", "--json"))["unsynced_offline_runs"]


def test_sync_to_another_store(run_script, tmp_path):
    proc = run_script(
        """
        import tracker
        run = tracker.init(project="off", mode="offline")
        run.log({"a": 1})
        run.finish()
        print(run.sync_dir)
        """,
        check=True,
    )
    other = tmp_path / "other-store"
    cli("sync", proc.stdout.split()[-1], "--store", str(other))
    (r,) = tracker.Api(store=str(other)).runs("off")
    assert r.summary["a"] == 1


def test_offline_run_killed_mid_way_syncs_as_crashed(start_script, api):
    proc = start_script(
        """
        import tracker, time
        run = tracker.init(project="off", mode="offline")
        print(run.sync_dir, flush=True)
        for i in range(1000):
            run.log({"i": i})
        run.status()
        print("logged", flush=True)
        time.sleep(60)
        """
    )
    run_dir = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "logged"
    proc.kill()
    proc.wait()
    sidecar_log = os.path.join(run_dir, "logs", "sidecar.log")
    wait_until(lambda: "closed as crashed" in open(sidecar_log).read())
    out = cli("sync", run_dir)
    assert "crashed" in out
    (r,) = api.runs("off")
    assert r.state == "crashed" and r.lastHistoryStep == 999


def test_sync_of_a_run_with_saved_files_copies_them_and_reports_the_run(run_script, api):
    """Regression: a file copy completing inside sync's finish loop rebound its result and
    crashed with "'tuple' object has no attribute 'rows'". Every saved file is copied by
    the copier thread while sync waits for the finish, so this happens on every run."""
    proc = run_script(
        """
        import tracker
        run = tracker.init(project="off", mode="offline", id="withfiles")
        for name, policy in (("a.txt", "now"), ("b.txt", "end"), ("c.txt", "live")):
            with open(name, "w") as fh:
                fh.write(name * 1000)
            run.save(name, policy=policy)
        run.log({"x": 1})
        run.finish()
        print(run.sync_dir)
        """,
        check=True,
    )
    from tracker.service.sync import sync_run_dir

    result = sync_run_dir(proc.stdout.split()[-1], os.environ["TRACKER_STORE"])
    assert (result.status, result.state, result.rows) == ("synced", "finished", 1)
    r = api.run("off/withfiles")
    names = {f.name for f in r.files()}
    assert {"a.txt", "b.txt", "c.txt"} <= names
    assert r.file("b.txt").size == len("b.txt" * 1000)
    assert "synced" in cli("sync", proc.stdout.split()[-1], "--force")


def test_stop_acts_on_tracker_store_and_stop_all_on_every_store(tmp_path, monkeypatch):
    from tracker.client.runtime import sidecar_alive, sidecar_paths

    stores = [str(tmp_path / "store-a"), str(tmp_path / "store-b")]
    a, b = (sidecar_paths(s) for s in stores)
    try:
        for store in stores:
            assert "sidecar running" in cli("start", "--store", store)
        assert sidecar_alive(a) and sidecar_alive(b)

        monkeypatch.setenv("TRACKER_STORE", stores[0])
        (only_a,) = json.loads(cli("status", "--json"))["sidecars"]
        assert only_a["store"].endswith("/store-a")
        assert len(json.loads(cli("status", "--all", "--json"))["sidecars"]) == 2
        assert f"stopped: sidecar for {stores[0]}" in cli("stop")
        assert not sidecar_alive(a)
        assert sidecar_alive(b)  # another store's sidecar is left alone

        monkeypatch.setenv("TRACKER_STORE", str(tmp_path / "store-c"))  # none runs there
        assert "No tracker sidecar is running." in cli("stop")
        assert sidecar_alive(b)
        assert f"stopped: sidecar for {stores[1]}" in cli("stop", "--all")
        assert not sidecar_alive(b)
    finally:
        cli("stop", "--all")


def test_stop_with_store_option_stops_only_that_store(tmp_path):
    from tracker.client.runtime import sidecar_alive, sidecar_paths

    stores = [str(tmp_path / "store-a"), str(tmp_path / "store-b")]
    a, b = (sidecar_paths(s) for s in stores)
    try:
        for store in stores:
            cli("start", "--store", store)
        cli("stop", "--store", stores[1])
        assert sidecar_alive(a) and not sidecar_alive(b)
    finally:
        cli("stop", "--all")
