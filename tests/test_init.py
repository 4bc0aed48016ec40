"""``tracker.init`` (§3): arguments, environment, settings, modes, resume, run directory."""

import os
import re
import time

import pytest
import tracker


def test_defaults_and_attributes(api, tracker_env):
    t0 = time.time()
    run = tracker.init()
    assert re.fullmatch(r"[a-z0-9]{8}", run.id)
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", run.name)
    assert run.project == "uncategorized" and run.entity == "tester"
    assert run.path == f"tester/uncategorized/{run.id}"
    assert run.mode == "online" and not run.offline and not run.disabled
    assert run.step == 0 and run.starting_step == 0 and run.resumed is False
    assert run.start_time >= t0 - 1
    assert run.sweep_id is None and run.get_sweep_url() is None
    assert run.group == "" and run.job_type == ""
    assert run.settings.live_interval == 2.0
    assert run.url == f"http://127.0.0.1:8080/tester/uncategorized/runs/{run.id}"
    assert run.get_url() == run.url
    assert run.get_project_url() == "http://127.0.0.1:8080/tester/uncategorized"
    assert run.project_name() == "uncategorized"
    d = run.sync_dir
    assert run.dir == os.path.join(d, "files")  # W&B's run.dir is the files folder
    assert os.path.dirname(d) == os.path.join(tracker_env["root"], "tracker")
    assert re.fullmatch(r"run-\d{8}_\d{6}-" + run.id, os.path.basename(d))
    assert os.path.isdir(os.path.join(d, "files")) and os.path.isdir(os.path.join(d, "logs"))
    assert os.path.realpath(os.path.join(tracker_env["root"], "tracker", "latest-run")) == d
    assert os.path.exists(os.path.join(d, f"run-{run.id}.trk"))
    run.finish()
    r = api.run(run.path)
    assert r.metadata["python"] and r.metadata["host"]


def test_arguments_are_stored(api):
    run = tracker.init(
        project="p",
        entity="e",
        name="my-run",
        id="custom_id-1.x",
        group="grp",
        job_type="train",
        tags=["a", "b"],
        notes="some notes",
        config={"lr": 1},
    )
    assert run.tags == ("a", "b") and run.notes == "some notes"
    run.name = "renamed"
    run.tags = ("c",)
    run.notes = "new notes"
    run.finish()
    r = api.run("e/p/custom_id-1.x")
    assert (r.name, r.group, r.job_type, r.tags, r.notes) == (
        "renamed",
        "grp",
        "train",
        ["c"],
        "new notes",
    )
    assert r.config == {"lr": 1}


def test_environment_fills_missing_arguments(monkeypatch, api):
    monkeypatch.setenv("TRACKER_PROJECT", "envproj")
    monkeypatch.setenv("TRACKER_ENTITY", "envent")
    monkeypatch.setenv("TRACKER_RUN_ID", "envid123")
    monkeypatch.setenv("TRACKER_RUN_GROUP", "envgroup")
    monkeypatch.setenv("TRACKER_JOB_TYPE", "envjob")
    run = tracker.init()
    assert run.path == "envent/envproj/envid123"
    assert run.group == "envgroup" and run.job_type == "envjob"
    run.finish()
    run2 = tracker.init(project="given", id="other")
    assert run2.path == "envent/given/other"


@pytest.mark.parametrize("bad_id", ["has space", "a/b", "", "x" * 65, "é"])
def test_bad_ids_raise(bad_id):
    with pytest.raises(tracker.Error, match="id"):
        tracker.init(id=bad_id)


def test_settings_validation_names_the_key(monkeypatch):
    with pytest.raises(tracker.Error, match="'nope'"):
        tracker.init(settings={"nope": 1})
    with pytest.raises(tracker.Error, match="live_interval"):
        tracker.init(settings={"live_interval": "soon"})
    monkeypatch.setenv("TRACKER_ALERT_RETRIES", "many")
    with pytest.raises(tracker.Error, match="TRACKER_ALERT_RETRIES"):
        tracker.init()
    monkeypatch.delenv("TRACKER_ALERT_RETRIES")
    run = tracker.init(settings=tracker.Settings(live_interval=5, ui_port=9000))
    assert run.settings.live_interval == 5.0 and run.url.startswith("http://127.0.0.1:9000/")
    with pytest.raises(Exception):
        run.settings.live_interval = 1  # frozen


def test_a_setting_given_explicitly_wins_over_its_variable_even_at_the_default(monkeypatch):
    monkeypatch.setenv("TRACKER_LIVE_INTERVAL", "7")
    monkeypatch.setenv("TRACKER_IDLE_TIMEOUT", "5")
    given = tracker.Settings(live_interval=2.0)  # the default value, given on purpose
    run = tracker.init(mode="disabled", settings=given)
    assert run.settings.live_interval == 2.0  # the argument, not TRACKER_LIVE_INTERVAL
    assert run.settings.idle_timeout == 5.0  # not given: the variable fills it
    run.finish()
    assert given.given() == {"live_interval"}
    run = tracker.init(mode="disabled", settings=tracker.Settings())
    assert run.settings.live_interval == 7.0  # nothing given: the variable wins
    run.finish()


def test_finish_timeout_and_fsync_interval_settings(monkeypatch):
    defaults = tracker.Settings()
    assert defaults.finish_timeout == 120.0 and defaults.fsync_interval == 0.2
    monkeypatch.setenv("TRACKER_FINISH_TIMEOUT", "3.5")
    monkeypatch.setenv("TRACKER_FSYNC_INTERVAL", "0")
    run = tracker.init(mode="disabled")
    assert run.settings.finish_timeout == 3.5 and run.settings.fsync_interval == 0.0
    run.finish()
    with pytest.raises(tracker.Error, match="fsync_interval"):
        tracker.Settings(fsync_interval=-1)
    monkeypatch.setenv("TRACKER_FINISH_TIMEOUT", "soon")
    with pytest.raises(tracker.Error, match="TRACKER_FINISH_TIMEOUT"):
        tracker.init(mode="disabled")


def test_the_run_settings_reach_the_sidecar_with_the_run(tracker_env):
    from tracker.proto import frames
    from tracker.proto.messages import Kind, iter_batch, to_message
    from tracker.proto.payloads import RunSettings

    run = tracker.init(settings={"fsync_interval": 0.05, "finish_timeout": 9})
    run.finish()
    with open(os.path.join(run.sync_dir, f"run-{run.id}.trk"), "rb") as fh:
        payload = next(frames.read_frames(fh))
    msg = to_message(next(iter_batch(payload))[0])
    assert msg.KIND == Kind.INIT
    # the sidecar gets the typed settings it acts on (finish_timeout is the SDK's own)
    settings = msg.run_info.settings
    assert isinstance(settings, RunSettings) and settings.fsync_interval == 0.05


def test_bad_mode_and_resume_raise():
    with pytest.raises(tracker.Error, match="mode"):
        tracker.init(mode="cloud")
    with pytest.raises(tracker.Error, match="resume"):
        tracker.init(resume="sometimes")  # "auto" is W&B's (issue 13)


def test_init_returns_the_active_run_unless_reinit(api):
    run = tracker.init(project="p")
    assert tracker.init(project="p") is run
    run2 = tracker.init(project="p", reinit=True)
    assert run2 is not run and tracker.run is run2
    assert api.run(run.path).state == "finished"


def test_disabled_mode_is_a_working_no_op(tracker_env):
    run = tracker.init(mode="disabled", config={"a": 1})
    assert run.disabled
    run.log({"x": 1})
    run.log({"x": 2}, step=5)
    run.define_metric("x", summary="max")
    run.summary["best"] = 3
    assert run.summary["best"] == 3
    run.config.update({"b": 2})
    assert run.status().last_step_committed == 4
    run.finish()
    assert not os.path.exists(os.path.join(tracker_env["root"], "tracker"))
    assert not os.path.exists(os.path.join(tracker_env["store"], "catalogue.db"))


def test_resume_never_must_allow(api):
    run = tracker.init(project="res", id="resume01", config={"lr": 1})
    for i in range(5):
        run.log({"a": i})
    run.summary["manual"] = "kept"
    run.finish()

    with pytest.raises(tracker.Error, match="already exists"):
        tracker.init(project="res", id="resume01")
    with pytest.raises(tracker.Error, match="already exists"):
        tracker.init(project="res", id="resume01", resume="never")
    with pytest.raises(tracker.Error, match="does not exist"):
        tracker.init(project="res", id="missing1", resume="must")

    run = tracker.init(project="res", id="resume01", resume="must", config={"epochs": 2})
    assert run.resumed and run.starting_step == 5 and run.step == 5
    assert dict(run.config) == {"lr": 1, "epochs": 2}
    assert run.summary["manual"] == "kept" and run.summary["a"] == 4
    run.log({"a": 5})
    run.finish()
    r = api.run("res/resume01")
    assert [row["a"] for row in r.scan_history()] == list(range(6))
    assert r.lastHistoryStep == 5

    fresh = tracker.init(project="res", id="newone01", resume="allow")
    assert not fresh.resumed and fresh.starting_step == 0
    fresh.finish()


def test_import_tracker_is_light(run_script):
    proc = run_script(
        """
        import sys, time
        t = time.perf_counter()
        import tracker
        took = time.perf_counter() - t
        heavy = [m for m in ("pyarrow", "pandas", "numpy", "psutil", "typer", "rich") if m in sys.modules]
        print(heavy)
        """,
        check=True,
    )
    assert proc.stdout.strip() == "[]"


def test_config_and_summary_are_placeholders_before_init(run_script):
    # a fresh interpreter: nothing in it has ever called init
    proc = run_script(
        """
        import inspect, tracker
        assert hasattr(tracker, "config") and hasattr(tracker, "summary")
        assert {"config", "summary", "run", "log", "init"} <= set(dir(tracker))
        members = dict(inspect.getmembers(tracker))
        assert "config" in members and "summary" in members
        assert "init()" in repr(tracker.config)
        assert not hasattr(tracker.config, "__wrapped__")
        failures = []
        for use in (
            lambda: tracker.config["lr"],
            lambda: setattr(tracker.config, "lr", 1),
            lambda: tracker.config.update({"lr": 1}),
            lambda: tracker.summary["x"],
            lambda: tracker.summary.__setitem__("x", 1),
            lambda: "x" in tracker.summary,
        ):
            try:
                use()
            except tracker.Error as exc:
                failures.append("tracker.init() first" in str(exc))
        print(failures)
        """,
        check=True,
    )
    assert proc.stdout.strip() == str([True] * 6)


def test_config_and_summary_act_on_the_active_run_after_init():
    early = tracker.config  # taken before init, used after: acts on the run then
    run = tracker.init(mode="disabled", config={"lr": 1})
    assert tracker.config is run.config and tracker.config["lr"] == 1
    tracker.config.update({"epochs": 3})
    early.batch = 32
    assert dict(run.config) == {"lr": 1, "epochs": 3, "batch": 32}
    tracker.summary["best"] = 0.5
    assert run.summary["best"] == 0.5
    run.finish()
    with pytest.raises(tracker.Error, match=r"tracker\.init\(\) first"):
        tracker.config["lr"]


@pytest.mark.parametrize(
    "uri, scheme, says",
    [
        ("mysql://me@db:5432/runs", "mysql", "served: file"),
        # served, but without its blob store: refused as well, never a folder
        ("postgresql://me@db:5432/runs", "postgresql", "blobs=s3://bucket/prefix"),
    ],
)
def test_a_store_uri_with_a_scheme_no_backend_serves_is_refused_everywhere(
    tracker_env, monkeypatch, tmp_path, uri, scheme, says
):
    """§13: never a local folder named after the URI (``./mysql:/...``)."""
    import re
    import subprocess
    import sys

    monkeypatch.setenv("TRACKER_STORE", uri)
    with pytest.raises(tracker.Error, match=f"TRACKER_STORE.*{re.escape(says)}"):
        tracker.init(project="x")
    out = subprocess.run(
        [sys.executable, "-m", "tracker.service.cli", "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and scheme in out.stderr and says.split()[0] in out.stderr
    with pytest.raises(tracker.Error, match=re.escape(says.split()[0])):
        tracker.Api()
    assert not any(scheme in p.name for p in tmp_path.rglob("*"))
    assert not os.path.exists(os.path.join(tracker_env["root"], f"{scheme}:"))
    assert not os.path.exists(os.path.join(tracker_env["root"], "tracker"))  # no run folder
