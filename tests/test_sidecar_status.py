"""What the sidecar reports about itself (§6, §9): failures of every stage, and how far each
run's transaction log is on disk (group commit)."""

from __future__ import annotations

import socket

import tracker
from conftest import wait_until
from tracker.client.control import sidecar_statuses
from tracker.service.cli import app
from typer.testing import CliRunner


def _sidecar() -> dict:
    (status,) = sidecar_statuses()
    return status


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failing_stage_is_counted_and_shown_by_status(tracker_env):
    port = _free_port()  # nothing listens: every delivery is refused
    run = tracker.init(
        project="stat",
        settings={"alert_webhook": f"http://127.0.0.1:{port}/hook", "alert_retries": 1},
    )
    run.alert("diverged", "loss is nan")
    errors = wait_until(lambda: _sidecar()["errors"].get("webhooks"), timeout=30)
    assert errors["count"] == 1
    assert "webhook to http://127.0.0.1" in errors["last"] and "failed after 1" in errors["last"]
    text = CliRunner().invoke(app, ["status"]).output  # and for people
    assert "webhooks: 1 failure(s)" in text and "failed after 1 attempt" in text
    run.finish()


def test_status_says_how_far_the_transaction_log_is_synced(tracker_env):
    run = tracker.init(project="stat")
    for i in range(1000):
        run.log({"i": i})
    run.status()  # every record before it is in the log

    def synced() -> dict | None:
        (r,) = _sidecar()["runs"]
        return r if r["log_synced_seq"] >= 1000 else None

    r = wait_until(synced, timeout=10)  # fsync_interval defaults to 0.2 s
    assert r["log_synced_bytes"] == r["log_bytes"] > 0
    assert r["log_synced_at"] is not None
    assert _sidecar()["fsyncs"] >= 1
    assert run.status().log_synced_bytes == r["log_bytes"]  # the SDK's RunStatus says so too
    text = CliRunner().invoke(app, ["status"]).output
    assert f"transaction log {r['log_bytes']} bytes, {r['log_bytes']} on disk" in text
    run.finish()
