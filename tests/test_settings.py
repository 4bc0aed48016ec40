"""Settings and environment variables are declared in one module (``tracker.settings``) and
read nowhere else (§3, STYLE 9)."""

import os
import re

import pytest
import tracker
from conftest import REPO
from tracker.settings import Env, setting_variables

_READS = re.compile(r"os\.environ\.get|os\.environ\[|os\.getenv|[\"']TRACKER_[A-Z_]+[\"']")


def test_no_module_but_settings_reads_the_environment():
    strays = []
    for package in ("sdk", "service", "store", "proto"):
        for folder, _, names in os.walk(os.path.join(REPO, package)):
            for name in names:
                path = os.path.join(folder, name)
                if not name.endswith(".py") or path.endswith(os.path.join("sdk", "settings.py")):
                    continue
                with open(path) as fh:
                    for number, line in enumerate(fh, 1):
                        if _READS.search(line):
                            strays.append(f"{os.path.relpath(path, REPO)}:{number}: {line.strip()}")
    assert strays == []


def test_every_setting_has_its_variable():
    names = set(tracker.Settings().to_dict())
    assert {"finish_timeout", "fsync_interval"} <= names
    assert setting_variables() == {n: f"TRACKER_{n.upper()}" for n in names}


def test_file_watch_is_declared_and_checked(monkeypatch):
    monkeypatch.delenv("TRACKER_FILE_WATCH", raising=False)
    assert Env.file_watch() == "auto"
    monkeypatch.setenv("TRACKER_FILE_WATCH", "poll")
    assert Env.file_watch() == "poll"
    monkeypatch.setenv("TRACKER_FILE_WATCH", "inotify")
    with pytest.raises(tracker.Error, match="TRACKER_FILE_WATCH"):
        Env.file_watch()


def test_stop_grace_is_declared_and_checked(monkeypatch):
    monkeypatch.delenv("TRACKER_STOP_GRACE", raising=False)
    assert Env.stop_grace() == 30.0
    monkeypatch.setenv("TRACKER_STOP_GRACE", "2.5")
    assert Env.stop_grace() == 2.5
    for bad in ("soon", "0", "-1", "nan"):
        monkeypatch.setenv("TRACKER_STOP_GRACE", bad)
        with pytest.raises(tracker.Error, match="TRACKER_STOP_GRACE"):
            Env.stop_grace()
