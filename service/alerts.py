"""Alerts (§4.6): throttling per (run, title), the record of every alert, webhook delivery.

Each alert is decided at once on the ingest thread (delivered or throttled, by the time the
caller raised it), appended to the run's ``logs/alerts.jsonl`` and written to the store. A
webhook, when configured, is POSTed by one :class:`WebhookSender` thread with exponential
backoff, so a slow or dead endpoint never holds up ingest or the caller; its outcome is
appended to ``alerts.jsonl`` and updated in the store when known.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from tracker.service.worker import Worker

ATTEMPT_TIMEOUT = 3.0
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


class AlertBook:
    """The alerts of one run: throttle state, counts and the ``alerts.jsonl`` file."""

    def __init__(self, run_dir: str, path: str) -> None:
        self.file = os.path.join(run_dir, "logs", "alerts.jsonl")
        self.path = path
        self.last_delivered: dict[str, float] = {}
        self.sent = 0
        self.throttled = 0
        self.count = 0
        self.file_errors = 0  # alerts.jsonl lines that could not be written

    def decide(self, spec: dict[str, Any], write_file: bool = True) -> dict[str, Any]:
        """Throttle and record one alert; return its record."""
        title, ts = spec["title"], float(spec.get("ts") or time.time())
        last = self.last_delivered.get(title)
        wait = float(spec.get("wait_duration") or 0.0)
        if last is not None and ts - last < wait:
            outcome = "throttled"
            self.throttled += 1
        else:
            outcome = "sent"
            self.sent += 1
            self.last_delivered[title] = ts
        self.count += 1
        record = {
            "alert_id": f"{self.path}#{self.count}",
            "time": ts,
            "level": spec["level"],
            "title": title,
            "text": spec["text"],
            "wait_duration": wait,
            "outcome": outcome,
            "webhook": None,
        }
        if write_file:
            self.append(record)
        return record

    def append(self, line: dict[str, Any]) -> None:
        try:
            os.makedirs(os.path.dirname(self.file), exist_ok=True)
            with open(self.file, "a") as fh:
                fh.write(json.dumps(line) + "\n")
        except OSError:
            self.file_errors += 1  # shown in the run's status; the store has the alert


def slack_body(record: dict[str, Any], run_path: str, url: str | None) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body (``text`` plus a structured copy)."""
    icon = {"INFO": ":information_source:", "WARN": ":warning:", "ERROR": ":rotating_light:"}
    text = f"{icon.get(record['level'], '')} *{record['title']}* ({run_path})\n{record['text']}"
    return {
        "text": text.strip(),
        "username": "tracker",
        "tracker": {
            "run": run_path,
            "url": url,
            "level": record["level"],
            "title": record["title"],
            "text": record["text"],
            "time": record["time"],
        },
    }


class WebhookSender(Worker):
    """One thread that POSTs alert bodies, retrying with exponential backoff."""

    def __init__(self) -> None:
        super().__init__("webhooks")
        self._stop = threading.Event()

    def send(self, url: str, body: dict, attempts: int, on_done: Callable[[str], None]) -> None:
        """POST ``body`` as JSON; ``on_done`` gets a line saying how it went."""
        data = json.dumps(body).encode()
        self.submit(lambda: self._post(url, data, max(1, attempts)), on_done, "webhook")

    def _post(self, url: str, data: bytes, attempts: int) -> str:
        import urllib.error  # 17 ms of a sidecar's start, paid by the first alert instead
        import urllib.request

        delay = FIRST_BACKOFF
        error = "not sent"
        for attempt in range(1, attempts + 1):
            req = urllib.request.Request(
                url, data=data, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(req, timeout=ATTEMPT_TIMEOUT) as resp:
                    if 200 <= resp.status < 300:
                        return f"delivered (attempt {attempt})"
                    error = f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except Exception as exc:  # timeouts, refused connections, bad URLs: retried
                error = f"{type(exc).__name__}: {exc}"
            if attempt < attempts and self._stop.wait(delay):
                break
            delay = min(delay * 2, MAX_BACKOFF)
        self.errors.record(f"webhook to {url}", f"failed after {attempts} attempt(s): {error}")
        return f"failed after {attempts} attempt(s): {error}"

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()  # no more waiting between retries
        super().stop(timeout)
