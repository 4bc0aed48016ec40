"""Real services on loopback for the shared-store tests: PostgreSQL and an S3 server (moto).

PostgreSQL comes from the system (``initdb``/``pg_ctl``, Debian's ``postgresql`` package,
installed by ``.ci/run`` when missing). It refuses to run as root, so when the tests run as
root the server runs as the ``postgres`` user the package creates (``nobody`` otherwise), its
data folder in a temporary folder owned by that user, on a free port of 127.0.0.1 with its
unix socket in that folder. moto's S3 server runs as a process of this interpreter.

S3 outages are made by a TCP forwarder process in front of moto (:class:`Forwarder`): the
endpoint the sidecars use is the forwarder's port, and killing the forwarder makes that
endpoint refuse connections exactly as a dead S3 process would, while moto (which keeps its
objects in memory only) keeps what was stored.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def reaper(stop: list[str] | None = None, pids: list[int] = (), folders: list[str] = ()):
    """A detached process that stops a server if this test process dies without teardown.

    Kill it (``proc.kill()``) in the normal teardown, before the server's pids can be reused.
    """
    spec = {"owner": os.getpid(), "stop": stop, "pids": list(pids), "folders": list(folders)}
    return subprocess.Popen(
        [sys.executable, os.path.join(HERE, "reaper.py"), json.dumps(spec)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a kill of the test's process group spares it
    )


def _dismiss(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        pytest.fail(f"{name} not found: install PostgreSQL (apt-get install postgresql)")
    return found


class Postgres:
    """A PostgreSQL server in a temporary folder, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="trk-pg-", dir="/tmp")
        self.data = os.path.join(self.folder, "data")
        self.port = free_port()
        self.user = None
        if os.getuid() == 0:
            import pwd

            self.user = "postgres"
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                self.user = "nobody"
            shutil.chown(self.folder, user=self.user)
        self._run(_pg_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "tracker", "-N")
        self.start()
        self._reaper = reaper(
            stop=self._argv(_pg_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "stop"),
            folders=[self.folder],
        )

    def _argv(self, *argv: str) -> list[str]:
        return list(argv) if self.user is None else ["runuser", "-u", self.user, "--", *argv]

    def _run(self, *argv: str) -> None:
        proc = subprocess.run(self._argv(*argv), capture_output=True, text=True, cwd=self.folder)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stdout}\n{proc.stderr}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = os.path.join(self.folder, "server.log")
        self._run(_pg_bin("pg_ctl"), "-D", self.data, "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://tracker@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh, empty database; its name."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return name

    def close(self) -> None:
        _dismiss(self._reaper)
        try:  # immediate: the data is thrown away, no shutdown checkpoint to wait for
            self._run(_pg_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            # removed by a detached process: a suite's databases are tens of thousands of
            # files, and removing them took 36 s at the end of every test session here
            subprocess.Popen(
                ["rm", "-rf", self.folder],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )


class Forwarder:
    """A TCP forwarder process: ``127.0.0.1:port`` → ``127.0.0.1:target``; stop it to cut."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        script = os.path.join(HERE, "tcp_forward.py")
        self.proc = subprocess.Popen(
            [sys.executable, script, str(self.port), str(self.target)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._reaper = reaper(pids=[self.proc.pid])
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            _dismiss(self._reaper)
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class S3Server:
    """moto's S3 server on a free port of 127.0.0.1, with a forwarder in front of it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._reaper = reaper(pids=[self.proc.pid])
        wait_port(self.port)
        self.front = Forwarder(self.port)

    @property
    def endpoint(self) -> str:
        """The endpoint for clients (through the forwarder)."""
        return f"http://127.0.0.1:{self.front.port}"

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def new_bucket(self) -> str:
        name = "b-" + uuid.uuid4().hex[:12]
        self.client().create_bucket(Bucket=name)
        return name

    def close(self) -> None:
        _dismiss(self._reaper)
        self.front.stop()
        self.proc.kill()  # its objects live in its memory only: nothing to shut down cleanly
        self.proc.wait()


@pytest.fixture(scope="session")
def postgres():
    server = Postgres()
    yield server
    server.close()


@pytest.fixture(scope="session")
def s3():
    server = S3Server()
    yield server
    server.close()


@pytest.fixture
def aws_env(s3, monkeypatch):
    """The usual AWS variables, pointing at the S3 server (through its forwarder)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return s3


@pytest.fixture
def shared_uri(postgres, aws_env):
    """A fresh shared store: a new database and a new bucket."""
    return f"{postgres.url(postgres.new_database())}?blobs=s3://{aws_env.new_bucket()}/tracker"


@pytest.fixture
def shared(shared_uri, monkeypatch):
    """TRACKER_STORE is the shared store; its sidecar is stopped after the test."""
    from conftest import _stop_sidecar

    monkeypatch.setenv("TRACKER_STORE", shared_uri)
    yield shared_uri
    _stop_sidecar(shared_uri)
