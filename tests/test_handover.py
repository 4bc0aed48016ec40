"""A sidecar that stops under live runs (§6): nothing lost, a new sidecar takes over, and
``finish()`` returns with the real final state.

Regression tests for the defect where ``tracker-service stop`` (or SIGTERM to the sidecar)
two seconds into a run closed it as ``crashed`` with the rows received so far, refused the
rest and left ``finish()`` printing "flushing history" forever.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.dataset as ds
import pytest
import tracker
from conftest import wait_until
from tracker.client.runtime import read_info, sidecar_alive, sidecar_paths

TRAINER = """
import time, tracker
run = tracker.init(project="handover", id="h1")
print("started", flush=True)
for i in range(50):
    run.log({"i": i, "sq": i * i})
    time.sleep(0.04)
run.finish()
print("finished", flush=True)
"""


def _stop_sidecar(how: str, store: str) -> None:
    paths = sidecar_paths(store)
    if how == "cli":
        out = subprocess.run(
            [sys.executable, "-m", "tracker.service.cli", "stop", "--store", store],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stdout + out.stderr
    else:
        os.kill(read_info(paths)["pid"], signal.SIGTERM)
    wait_until(lambda: read_info(paths) is None or not sidecar_alive(paths), timeout=30)


@pytest.mark.parametrize("how", ["cli", "sigterm"])
def test_stopping_the_sidecar_under_a_live_run_loses_nothing_and_finish_returns(
    how, tracker_env, api, start_script
):
    proc = start_script(TRAINER)
    assert proc.stdout.readline().strip() == "started"
    paths = sidecar_paths(tracker_env["store"])
    first_pid = read_info(paths)["pid"]
    time.sleep(0.8)  # a third of the rows are in
    _stop_sidecar(how, tracker_env["store"])
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "finished" in out and "flushing" not in err
    run = api.run("tester/handover/h1")
    assert run.state == "finished"
    steps = [row["_step"] for row in run.scan_history()]
    assert steps == list(range(50))
    # an independent reader sees every row once
    folder = os.path.join(tracker_env["store"], "runs", "tester", "handover", "h1", "history")
    table = ds.dataset(folder, format="parquet").to_table()
    assert sorted(table.column("i").to_pylist()) == list(range(50))
    # and it was a new sidecar that finished it
    (run_dir,) = glob.glob(os.path.join(tracker_env["root"], "tracker", "run-*-h1"))
    log = open(os.path.join(run_dir, "logs", "sidecar.log")).read()
    assert "run left to the next sidecar" in log and "taken over by sidecar" in log
    assert str(first_pid) in log


def test_sigterm_to_the_sidecar_hands_this_processes_run_to_a_new_one(tracker_env, api):
    run = tracker.init(project="life")
    for i in range(50):
        run.log({"i": i})
    run.status()
    paths = sidecar_paths(tracker_env["store"])
    pid = json.load(open(paths.info))["pid"]
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: (read_info(paths) or {}).get("pid") not in (None, pid), timeout=30)
    for i in range(50, 80):
        run.log({"i": i})
    run.finish()
    r = api.run(run.path)
    assert r.state == "finished" and r.lastHistoryStep == 79
    assert [row["i"] for row in r.scan_history()] == list(range(80))
