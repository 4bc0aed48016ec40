"""Artifacts across processes and the CLI: ranks upserting into one version, status counts,
``tracker-service gc``, ``run.delete(delete_artifacts=True)``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import tracker
from conftest import wait_until
from tracker.store.artifacts import BLOB_PREFIX

RANK = textwrap.dedent(
    """
    import sys, tracker
    rank, root = int(sys.argv[1]), sys.argv[2]
    path = f"{root}/shard{rank}.bin"
    open(path, "wb").write(bytes([rank]) * 1000)
    run = tracker.init(project="dist", group="g1")
    art = tracker.Artifact("shards", type="dataset")
    art.add_file(path, name=f"rank{rank}/shard.bin")
    run.upsert_artifact(art, distributed_id="d1").wait()
    run.finish()
    """
)


def test_three_processes_upsert_into_one_version(tracker_env):
    root = tracker_env["root"]
    procs = [
        subprocess.Popen([sys.executable, "-c", RANK, str(rank), root], stderr=subprocess.PIPE)
        for rank in range(3)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()
    run = tracker.init(project="dist", group="g1")
    final = run.finish_artifact(tracker.Artifact("shards", type="dataset"), distributed_id="d1")
    final.wait()
    assert final.version == "v0"
    assert sorted(e.path for e in final.files()) == [f"rank{r}/shard.bin" for r in range(3)]
    late = tracker.Artifact("shards", type="dataset")
    late.add_file(f"{root}/shard0.bin", name="late.bin")
    with pytest.raises(tracker.Error, match="finished already"):
        run.upsert_artifact(late, distributed_id="d1")
    run.finish()
    api = tracker.Api()
    assert [v.version for v in api.artifacts("dataset", "dist/shards")] == ["v0"]
    out = api.artifact("dist/shards:latest").download(f"{root}/dl")
    assert open(f"{out}/rank2/shard.bin", "rb").read() == bytes([2]) * 1000


def test_status_counts_pending_artifacts(tracker_env):
    root = tracker_env["root"]
    big = f"{root}/big.bin"
    with open(big, "wb") as fh:
        fh.write(os.urandom(1 << 20) * 64)  # 64 MiB: hashing and storing take a while
    run = tracker.init(project="st")
    art = run.log_artifact(big, name="big", type="model")
    # while the sidecar hashes and stores 64 MiB, status counts the version, file and bytes
    seen = wait_until(lambda: run.status().artifacts_pending.get("versions"), interval=0.005)
    assert seen == 1
    assert run.status().artifacts_pending in (
        {"versions": 1, "files": 1, "bytes": 64 << 20},
        {"versions": 0, "files": 0, "bytes": 0},  # done since the poll above
    )
    art.wait()
    assert run.status().artifacts_pending == {"versions": 0, "files": 0, "bytes": 0}
    run.finish()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tracker.service.cli", *args], capture_output=True, text=True
    )


def test_gc_after_run_delete_with_artifacts(tracker_env):
    root = tracker_env["root"]
    for name, data in (("keep.bin", b"k" * 100), ("drop.bin", b"d" * 50)):
        with open(f"{root}/{name}", "wb") as fh:
            fh.write(data)
    keeper = tracker.init(project="gc")
    keeper.log_artifact(f"{root}/keep.bin", name="keep", type="t").wait()
    keeper.finish()
    dropper = tracker.init(project="gc")
    dropper.log_artifact(f"{root}/drop.bin", name="drop", type="t").wait()
    dropper.finish()
    api = tracker.Api()
    api.run(dropper.path).delete(delete_artifacts=True)
    assert not api.artifact_exists("gc/drop")
    assert len(api.store.blobs.list(BLOB_PREFIX)) == 2  # the blob waits for gc
    dry = _cli("gc", "--dry-run", "--json")
    assert json.loads(dry.stdout) == {"blobs": 1, "bytes": 50, "dry_run": True}, dry.stderr
    real = _cli("gc")
    assert "removed 1 blobs, 50 bytes" in real.stdout, real.stderr
    assert len(api.store.blobs.list(BLOB_PREFIX)) == 1
    kept = api.artifact("gc/keep")
    kept.download(f"{root}/dl")
    kept.verify(f"{root}/dl")


def test_an_offline_runs_artifact_is_built_by_sync(tracker_env):
    root = tracker_env["root"]
    with open(f"{root}/w.bin", "wb") as fh:
        fh.write(b"offline" * 100)
    run = tracker.init(project="off", mode="offline")
    art = run.log_artifact(f"{root}/w.bin", name="w", type="model")
    with pytest.raises(tracker.Error, match="tracker-service sync"):
        art.wait()
    run.finish()
    os.unlink(f"{root}/w.bin")  # the snapshot in the run folder keeps the content
    out = _cli("sync", run.sync_dir)
    assert out.returncode == 0, out.stderr
    stored = tracker.Api().artifact("off/w:v0")
    assert stored.logged_by().id == run.id
    stored.download(f"{root}/dl")
    assert open(f"{root}/dl/w.bin", "rb").read() == b"offline" * 100


WRITER = textwrap.dedent(
    """
    import os, sys, tracker
    n = int(sys.argv[1])
    pool = [os.urandom(2 << 20) for _ in range(4)]  # 2 MiB each: hashing takes a moment
    run = tracker.init(project="gcw")
    api = tracker.Api()
    for i in range(n):
        art = tracker.Artifact("ckpt", type="model")
        with art.new_file("w.bin", mode="wb") as fh:
            fh.write(pool[i % 4])
        with art.new_file("step.txt") as fh:
            fh.write(str(i))
        run.log_artifact(art).wait()
        if i % 2:  # odd versions go: pool[1] and pool[3] lose every reference, then come back
            api.artifact(f"gcw/ckpt:v{i}").delete(delete_aliases=True)
    run.finish()
    """
)
GC_LOOP = textwrap.dedent(
    """
    import os, sys, time
    from tracker.store import open_store
    from tracker.store.artifacts import collect_garbage
    store, removed = open_store(sys.argv[1]), 0
    while not os.path.exists(sys.argv[2]):
        removed += collect_garbage(store)["blobs"]
        time.sleep(0.02)
    print(removed)
    """
)


def test_gc_in_other_processes_never_breaks_a_version_being_written(tracker_env):
    """One process logs versions (2 MiB files, half of them deleted so that their blobs lose
    every reference and are logged again later) while a second process collects in a tight
    loop and ``tracker-service gc`` runs too: every kept version downloads and verifies at the
    end, and gc did remove blobs meanwhile."""
    root, n = tracker_env["root"], 6
    stop = os.path.join(root, "stop")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(n)], stderr=subprocess.PIPE)
    looper = subprocess.Popen(
        [sys.executable, "-c", GC_LOOP, tracker_env["store"], stop],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out = _cli("gc", "--json")  # the command too, once, while the versions are written
    assert out.returncode == 0, out.stderr
    cli_removed = json.loads(out.stdout)["blobs"]
    writer.wait(timeout=120)
    open(stop, "w").close()
    loop_out, loop_err = looper.communicate(timeout=60)
    assert writer.returncode == 0, writer.stderr.read().decode()
    assert looper.returncode == 0, loop_err.decode()
    assert cli_removed + int(loop_out) > 0  # gc had work while the versions were written

    api = tracker.Api()
    kept = api.artifact_versions("model", "gcw/ckpt")
    assert {a.version for a in kept} == {f"v{i}" for i in range(0, n, 2)}
    for art in kept:
        folder = art.download(os.path.join(root, "dl", art.version))
        art.verify(folder)
        assert open(os.path.join(folder, "step.txt")).read() == art.version[1:]
