"""Shared fixtures: every test gets its own store, run root and sidecar, torn down after."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable

import pytest

# The PostgreSQL and S3 servers are session fixtures: declared here, once, so that the whole
# session shares one of each (imported into each test module, every module started its own)
from shared_services import aws_env, postgres, s3, shared, shared_uri  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_until(condition: Callable[[], object], timeout: float = 15.0, interval: float = 0.02):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def in_store(api, f) -> str:
    """The stored copy of a ``File`` on disk, as the local store lays it out."""
    return os.path.join(api.store_root, "runs", *f._run_path, "files", f.name)


@pytest.fixture(autouse=True)
def tracker_env(tmp_path, monkeypatch):
    """A private store, run root and runtime dir (short path: ipc socket names are limited)."""
    runtime = tempfile.mkdtemp(prefix="trk-", dir="/tmp")
    store = tmp_path / "store"
    root = tmp_path / "work"
    root.mkdir()
    monkeypatch.setenv("TRACKER_STORE", str(store))
    monkeypatch.setenv("TRACKER_DIR", str(root))
    monkeypatch.setenv("TRACKER_RUNTIME_DIR", runtime)
    monkeypatch.setenv("TRACKER_SILENT", "1")
    monkeypatch.setenv("TRACKER_IDLE_TIMEOUT", "5")
    monkeypatch.setenv("TRACKER_CONSOLE", "off")  # pytest captures fds itself; tests opt in
    monkeypatch.setenv("TRACKER_ENTITY", "tester")
    monkeypatch.delenv("TRACKER_PROJECT", raising=False)
    monkeypatch.delenv("TRACKER_MODE", raising=False)
    monkeypatch.chdir(root)
    yield {"store": str(store), "root": str(root), "runtime": runtime}
    import tracker
    from tracker import state

    run = state.active_run()
    if run is not None:
        try:
            run.finish(quiet=True)
        except Exception:
            pass
        state.set_active_run(None)
    _stop_sidecar(str(store))
    shutil.rmtree(runtime, ignore_errors=True)
    del tracker


def _stop_sidecar(store: str) -> None:
    from tracker.client.control import stop
    from tracker.client.runtime import sidecar_alive, sidecar_paths

    paths = sidecar_paths(store, create=False)
    if sidecar_alive(paths):
        try:
            stop(paths, timeout=20)
        except Exception:
            pass
    info = paths.info
    if os.path.exists(info):
        import json

        try:
            pid = json.load(open(info))["pid"]
            os.kill(pid, 9)
        except Exception:
            pass


@pytest.fixture
def api(tracker_env):
    import tracker

    return tracker.Api()


def script(code: str) -> str:
    return textwrap.dedent(code)


@pytest.fixture
def run_script(tmp_path):
    """Run Python code in a fresh interpreter (the training process), with this env."""

    def run(
        code: str, timeout: float = 60, check: bool = False, **kwargs
    ) -> subprocess.CompletedProcess:
        path = tmp_path / f"script_{time.monotonic_ns()}.py"
        path.write_text(textwrap.dedent(code))
        proc = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=timeout, **kwargs
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"script failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    return run


@pytest.fixture
def start_script(tmp_path):
    """Start Python code in a fresh interpreter without waiting; returns the Popen."""
    procs = []

    def start(code: str, **kwargs) -> subprocess.Popen:
        path = tmp_path / f"script_{time.monotonic_ns()}.py"
        path.write_text(textwrap.dedent(code))
        proc = subprocess.Popen(
            [sys.executable, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
