"""Edits through the read API (§5 ``update()``) reach the run's one writer (§13).

Regression: ``Api().run(p).update()`` on a running run wrote the catalogue row, and the
sidecar overwrote it from memory about a second later, so the edit was lost.
"""

from __future__ import annotations

import time

import tracker
from conftest import wait_until
from tracker.api.edits import run_changes


def test_an_edit_to_a_running_run_is_applied_by_its_sidecar_and_kept(api):
    run = tracker.init(project="edit", config={"lr": 0.1, "bs": 32})
    for i in range(10):
        run.log({"loss": 1.0 / (i + 1)})
    run.status()
    r = api.run(run.path)
    r.name = "renamed-from-api"
    r.notes = "edited while running"
    r.tags = ["api"]
    r.config["lr"] = 0.2
    r.summary["best_acc"] = 0.97
    r.update()
    assert r.name == "renamed-from-api" and r.config["lr"] == 0.2  # read back at once
    time.sleep(1.5)  # the sidecar writes the run's row every second while it runs
    for i in range(10, 20):
        run.log({"loss": 1.0 / (i + 1)})
    run.status()
    time.sleep(1.5)
    again = api.run(run.path)
    assert again.name == "renamed-from-api" and again.notes == "edited while running"
    assert again.tags == ["api"] and again.config == {"lr": 0.2, "bs": 32}
    assert again.summary["best_acc"] == 0.97
    assert again.summary["loss"] == 1.0 / 20  # logging goes on updating what was not edited
    run.finish()
    final = api.run(run.path)
    assert final.state == "finished" and final.name == "renamed-from-api"
    assert final.summary["best_acc"] == 0.97 and final.config["lr"] == 0.2


def test_an_edit_survives_a_takeover_of_the_run(api, tracker_env):
    import json
    import os
    import signal

    from tracker.client.runtime import read_info, sidecar_paths

    run = tracker.init(project="edit")
    run.log({"x": 1})
    run.status()
    r = api.run(run.path)
    r.notes = "from the api"
    r.update()
    paths = sidecar_paths(tracker_env["store"])
    pid = json.load(open(paths.info))["pid"]
    os.kill(pid, signal.SIGKILL)  # the new sidecar rebuilds the run from its log
    wait_until(lambda: (read_info(paths) or {}).get("pid") not in (None, pid), timeout=30)
    run.log({"x": 2})
    run.finish()
    assert api.run(run.path).notes == "from the api"


def test_an_edit_to_a_finished_run_goes_to_the_store(api):
    run = tracker.init(project="edit")
    run.log({"x": 1})
    run.finish()
    r = api.run(run.path)
    r.summary["x"] = 5
    r.group = "g"
    r.save()
    again = api.run(run.path)
    assert again.summary["x"] == 5 and again.group == "g"


def test_run_changes_carry_only_what_changed():
    record = {"name": "a", "notes": None, "tags": ["t"], "group_name": None, "job_type": "j"}
    record |= {"config": {"lr": 1, "bs": 2}, "summary": {"loss": 0.5}}
    edited = {"name": "b", "notes": None, "tags": ["t"], "group": None, "job_type": "j"}
    edited |= {"config": {"lr": 1, "bs": 4}, "summary": {"loss": 0.5, "best": 1}}
    assert run_changes(record, edited).given() == {
        "name": "b",
        "config": {"bs": 4},
        "summary": {"best": 1},
    }
