"""Several hosts writing one group of a shared store (§13), simulated on one machine.

Each simulated host has its own ``TRACKER_RUNTIME_DIR`` (so its own sidecar, exactly as two
machines would), its own run folder and its own ``TRACKER_HOST``; they write runs of one
group at once while several readers read the store.
"""

import json
import os
import shutil
import tempfile
import threading

import pytest
import tracker
from conftest import _stop_sidecar

ROWS = 3000

RANK = """
    import json, os, tracker
    from tracker.client.runtime import sidecar_paths
    from tracker.settings import default_store
    rank = int(os.environ["RANK"])
    run = tracker.init(project="multi", group="exp", job_type="train",
                       name=f"{{os.environ['TRACKER_HOST']}}-rank{{rank}}", config={{"rank": rank}})
    sidecar = json.load(open(sidecar_paths(default_store()).info))["pid"]
    for i in range({rows}):
        run.log({{"loss": 1.0 / (i + 1), "i": i}})
        if i % 500 == 0:
            run.config.update({{f"seen_{{i}}": True}})   # config writes all along the run
            run.summary[f"mark_{{i}}"] = rank
    run.finish()
    print(json.dumps({{"sidecar": sidecar, "path": list(run.path)}}))
"""


@pytest.fixture
def hosts(shared_uri, tmp_path, monkeypatch):
    """Two simulated hosts: environment for each (runtime folder, run folder, host name)."""
    monkeypatch.setenv("TRACKER_STORE", shared_uri)
    envs = []
    for name in ("host-a", "host-b"):
        runtime = tempfile.mkdtemp(prefix=f"trk-{name}-", dir="/tmp")
        work = tmp_path / name
        work.mkdir()
        envs.append(
            {
                **os.environ,
                "TRACKER_RUNTIME_DIR": runtime,
                "TRACKER_HOST": name,
                "TRACKER_DIR": str(work),
            }
        )
    yield envs
    for env in envs:
        monkeypatch.setenv("TRACKER_RUNTIME_DIR", env["TRACKER_RUNTIME_DIR"])
        monkeypatch.setenv("TRACKER_HOST", env["TRACKER_HOST"])
        _stop_sidecar(shared_uri)
        shutil.rmtree(env["TRACKER_RUNTIME_DIR"], ignore_errors=True)


def test_runtime_folder_and_host_name_choose_the_sidecar(monkeypatch, tmp_path):
    from tracker.client.runtime import runtime_root, sidecar_paths

    store = "postgresql://u@h/db?blobs=s3://b/p"
    a = sidecar_paths(store, create=False)
    monkeypatch.setenv("TRACKER_HOST", "other")
    b = sidecar_paths(store, create=False)
    assert a.folder != b.folder and a.store == b.store == store  # a URI is not a folder
    monkeypatch.setenv("TRACKER_RUNTIME_DIR", str(tmp_path / "rt"))
    assert runtime_root() == str(tmp_path / "rt")
    monkeypatch.delenv("TRACKER_RUNTIME_DIR")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert runtime_root() == str(tmp_path / "tracker")


def test_host_name_is_recorded_for_the_run(monkeypatch):
    monkeypatch.setenv("TRACKER_HOST", "node-17")
    run = tracker.init(project="h")
    run.finish()
    assert tracker.Api().run(run.path).metadata["host"] == "node-17"


def test_two_hosts_write_one_group_at_once_while_readers_read(hosts, start_script, shared_uri):
    procs = [
        start_script(RANK.format(rows=ROWS), env={**env, "RANK": str(rank)})
        for env in hosts
        for rank in (0, 1)
    ]
    seen, errors, done = [], [], threading.Event()

    def reader():
        api = tracker.Api(store=shared_uri)
        while not done.is_set():
            try:
                for r in api.runs("tester/multi", filters={"group": "exp"}):
                    seen.append(len(list(r.scan_history(keys=["i"]))))
            except Exception as exc:  # pragma: no cover - the assertion below shows it
                errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in readers:
        t.start()
    outs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
            outs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        done.set()
        for t in readers:
            t.join()
    assert not errors and seen
    # one sidecar per simulated host, shared by its two ranks
    by_host = {}
    for i, out in enumerate(outs):
        by_host.setdefault(hosts[i // 2]["TRACKER_HOST"], set()).add(out["sidecar"])
    assert all(len(pids) == 1 for pids in by_host.values())
    assert len(set.union(*by_host.values())) == 2

    runs = tracker.Api(store=shared_uri).runs("tester/multi")
    assert len(runs) == 4 and {r.group for r in runs} == {"exp"}
    assert sorted(r.metadata["host"] for r in runs) == ["host-a", "host-a", "host-b", "host-b"]
    for r in runs:
        assert r.state == "finished"
        assert [row["i"] for row in r.scan_history(keys=["i"])] == list(range(ROWS))
        rank = r.config["rank"]
        assert all(r.config[f"seen_{i}"] for i in range(0, ROWS, 500))
        assert all(r.summary[f"mark_{i}"] == rank for i in range(0, ROWS, 500))
