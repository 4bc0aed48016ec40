"""Alerts (§4.6): validation in the caller, throttling, records, console and a real webhook."""

import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import tracker
from conftest import wait_until


class Hook:
    """A real local HTTP server that records POSTs; fails the first `fail` requests."""

    def __init__(self, fail: int = 0, hang: bool = False):
        self.bodies, self.attempts = [], 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                hook.attempts += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hang:
                    time.sleep(10)
                    return
                if hook.attempts <= fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"title": "", "text": "x"}, ValueError, "title"),
        ({"title": "t" * 64, "text": "x"}, ValueError, "64"),
        ({"title": 3, "text": "x"}, TypeError, "title"),
        ({"title": "t", "text": None}, TypeError, "text"),
        ({"title": "t", "text": "x", "level": "FATAL"}, ValueError, "level"),
        ({"title": "t", "text": "x", "wait_duration": "1m"}, TypeError, "wait_duration"),
    ],
)
def test_bad_alert_arguments_raise_in_the_caller(kwargs, exc, match):
    run = tracker.init(project="alerts")
    with pytest.raises(exc, match=match):
        run.alert(**kwargs)


def test_throttling_records_and_counts(api, tracker_env):
    run = tracker.init(project="alerts")
    run.alert("loss spike", "loss is 9", level=tracker.AlertLevel.WARN)
    run.alert("loss spike", "loss is 10")  # within 60 s: throttled
    run.alert("other", "text", level="error", wait_duration=datetime.timedelta(seconds=0))
    run.alert("other", "again", wait_duration=0)  # 0: no throttling
    tracker.alert("nan", "NaN loss", wait_duration=0.0)
    status = run.status()
    assert (status.alerts_sent, status.alerts_throttled) == (4, 1)
    run.finish()
    alerts = api.run(run.path).alerts()
    assert [(a["title"], a["level"], a["outcome"]) for a in alerts] == [
        ("loss spike", "WARN", "sent"),
        ("loss spike", "INFO", "throttled"),
        ("other", "ERROR", "sent"),
        ("other", "INFO", "sent"),
        ("nan", "INFO", "sent"),
    ]
    assert alerts[0]["text"] == "loss is 9" and alerts[0]["time"] > 1e9
    lines = [json.loads(x) for x in open(f"{run.sync_dir}/logs/alerts.jsonl")]
    assert [x["outcome"] for x in lines] == ["sent", "throttled", "sent", "sent", "sent"]


def test_console_gets_one_line_per_delivered_alert(capsys, monkeypatch):
    monkeypatch.setenv("TRACKER_SILENT", "0")
    run = tracker.init(project="alerts")
    capsys.readouterr()
    run.alert("spike", "loss is 9", level="WARN")
    run.alert("spike", "loss is 10")
    err = capsys.readouterr().err
    assert err.count("alert [WARN] spike: loss is 9") == 1 and "loss is 10" not in err


def test_webhook_receives_a_slack_compatible_body_after_failures(api, monkeypatch):
    hook = Hook(fail=2)
    try:
        monkeypatch.setenv("TRACKER_ALERT_WEBHOOK", hook.url)
        run = tracker.init(project="alerts")
        run.alert("diverged", "loss is NaN", level="ERROR")
        wait_until(lambda: hook.bodies, timeout=20)
        body = hook.bodies[0]
        assert "diverged" in body["text"] and "loss is NaN" in body["text"]
        assert body["tracker"]["level"] == "ERROR" and body["tracker"]["run"] == run.path
        assert hook.attempts == 3
        wait_until(lambda: (api.run(run.path).alerts()[0]["webhook"] or "").startswith("delivered"))
        run.finish()
    finally:
        hook.close()


def test_a_webhook_that_never_answers_blocks_neither_caller_nor_ingest(api, monkeypatch):
    hook = Hook(hang=True)
    try:
        monkeypatch.setenv("TRACKER_ALERT_WEBHOOK", hook.url)
        run = tracker.init(project="alerts", settings={"alert_retries": 2})
        t0 = time.monotonic()
        run.alert("stuck", "the endpoint hangs")
        assert time.monotonic() - t0 < 0.1
        for i in range(5000):
            run.log({"i": i})
        assert run.status().last_step_committed == 4999
        run.finish()
        assert time.monotonic() - t0 < 3
        r = api.run(run.path)
        wait_until(lambda: (r.alerts()[0]["webhook"] or "").startswith("failed"), timeout=30)
        assert "2 attempt" in r.alerts()[0]["webhook"]
    finally:
        hook.close()
