"""Artifacts end to end (§12): a real sidecar hashes and stores, the read API reads back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import tracker
from conftest import wait_until
from tracker.store.artifacts import BLOB_PREFIX


@pytest.fixture
def api(tracker_env):
    return tracker.Api()


def write(path: str, data: bytes | str) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)
    return path


def blob_bytes(api) -> int:
    blobs = api.store.blobs
    return sum(blobs.size(k) or 0 for k in blobs.list(BLOB_PREFIX))


def test_log_artifact_versions_aliases_and_download(tracker_env, api, tmp_path):
    root = tracker_env["root"]
    write(f"{root}/data/a.txt", "alpha")
    write(f"{root}/data/sub/b.txt", "beta")
    run = tracker.init(project="arts")
    art = tracker.Artifact("ds", type="dataset", metadata={"n": 2}, description="two files")
    art.add_dir(f"{root}/data")
    with art.new_file("notes/readme.md") as fh:
        fh.write("# hello")
    logged = run.log_artifact(art, aliases=["best"])
    assert logged is art and art.state == "PENDING" and art.digest is None
    art.wait()
    assert art.version == "v0" and art.name == "ds:v0"
    assert set(art.aliases) == {"latest", "best"}
    assert sorted(e.path for e in art.files()) == ["a.txt", "notes/readme.md", "sub/b.txt"]
    assert len(art.digest) == 64

    write(f"{root}/data/a.txt", "alpha 2")
    art2 = tracker.Artifact("ds", type="dataset")
    art2.add_dir(f"{root}/data")
    run.log_artifact(art2).wait()
    assert art2.version == "v1" and "latest" in art2.aliases
    run.finish()

    stored = api.artifact("arts/ds:best")
    assert stored.version == "v0" and stored.metadata == {"n": 2}
    assert stored.description == "two files"
    assert api.artifact("tester/arts/ds").version == "v1"
    assert api.artifact("arts/ds:v1").digest == art2.digest
    out = stored.download(str(tmp_path / "dl"))
    assert open(f"{out}/a.txt").read() == "alpha"
    assert open(f"{out}/notes/readme.md").read() == "# hello"
    stored.verify(out)
    write(f"{out}/a.txt", "tampered")
    with pytest.raises(tracker.Error, match="changed a.txt"):
        stored.verify(out)
    assert stored.download(out) == out
    assert open(f"{out}/a.txt").read() == "alpha"
    write(f"{out}/extra.txt", "x")
    stored.checkout(out)
    assert not os.path.exists(f"{out}/extra.txt")
    versions = api.artifacts("dataset", "arts/ds")
    assert [v.version for v in versions] == ["v1", "v0"]
    assert [c.name for c in api.artifact_collections("arts", "dataset")] == ["ds"]


def test_same_content_makes_no_version_and_stores_no_bytes(tracker_env, api):
    root = tracker_env["root"]
    files = [write(f"{root}/ck/f{i:03d}.bin", os.urandom(10_000)) for i in range(100)]
    run = tracker.init(project="dedup")
    first = run.log_artifact(f"{root}/ck", name="ckpt", type="model").wait()
    assert first.version == "v0"
    before = blob_bytes(api)
    assert before == 100 * 10_000
    again = run.log_artifact(f"{root}/ck", name="ckpt", type="model", aliases=["again"]).wait()
    assert again.version == "v0" and again.id == first.id  # same content: the same version
    assert blob_bytes(api) == before  # and not one byte more
    write(files[7], os.urandom(10_000))
    third = run.log_artifact(f"{root}/ck", name="ckpt", type="model").wait()
    assert third.version == "v1"
    assert blob_bytes(api) == before + 10_000  # only the changed file
    run.finish()
    assert "again" in api.artifact("dedup/ckpt:v0").aliases
    assert api.artifact("dedup/ckpt:latest").version == "v1"


def test_snapshot_a_file_changed_after_log_artifact(tracker_env, api):
    root = tracker_env["root"]
    path = write(f"{root}/model.pt", b"A" * 1000)
    run = tracker.init(project="snap")
    art = run.log_artifact(path, name="m", type="model")
    # the caller replaces its file (write a new one, rename over): the version keeps "A"s
    write(f"{root}/model.pt.tmp", b"B" * 1000)
    os.replace(f"{root}/model.pt.tmp", path)
    art.wait()
    run.finish()
    out = api.artifact("snap/m:v0").download(f"{root}/dl")
    assert open(f"{out}/model.pt", "rb").read() == b"A" * 1000


def test_a_file_rewritten_in_place_before_it_was_read_fails_the_version(tracker_env, api):
    from tracker.client.runtime import sidecar_paths

    root = tracker_env["root"]
    path = write(f"{root}/model.pt", b"A" * 1000)
    run = tracker.init(project="snap")
    pid = json.load(open(sidecar_paths(tracker_env["store"]).info))["pid"]
    os.kill(pid, signal.SIGSTOP)  # the sidecar cannot read the file before it changes
    try:
        art = run.log_artifact(path, name="m", type="model")
        with open(path, "r+b") as fh:  # rewritten in place: the hard link sees it
            fh.write(b"B" * 2000)
    finally:
        os.kill(pid, signal.SIGCONT)
    with pytest.raises(tracker.Error, match="changed after log_artifact"):
        art.wait()
    run.finish()
    assert not api.artifact_exists("snap/m")  # never committed with mixed content


def test_a_sidecar_killed_before_building_the_version_is_replaced_and_builds_it(tracker_env, api):
    from tracker.client.runtime import sidecar_paths

    root = tracker_env["root"]
    path = write(f"{root}/ck.bin", os.urandom(100_000))
    run = tracker.init(project="sk")
    pid = json.load(open(sidecar_paths(tracker_env["store"]).info))["pid"]
    os.kill(pid, signal.SIGSTOP)
    art = run.log_artifact(path, name="ck", type="model")
    os.kill(pid, signal.SIGKILL)  # it never read the record; the SDK sends it to the next one
    art.wait(timeout=60)
    assert art.version == "v0"
    run.log({"after": 1})
    run.finish()
    assert api.artifact("sk/ck").get_entry("ck.bin").size == 100_000


def test_a_sidecar_killed_while_building_is_replaced_and_the_log_rebuilds_it(tracker_env, api):
    from tracker.client.runtime import sidecar_paths

    root = tracker_env["root"]
    path = write(f"{root}/big.bin", os.urandom(1 << 20) * 64)
    run = tracker.init(project="sk2")
    pid = json.load(open(sidecar_paths(tracker_env["store"]).info))["pid"]
    art = run.log_artifact(path, name="big", type="model")
    wait_until(lambda: run.status().artifacts_pending.get("versions"), interval=0.005)
    os.kill(pid, signal.SIGKILL)  # acknowledged and being built: the next sidecar replays it
    art.wait(timeout=60)
    assert art.version == "v0"
    run.finish()
    stored = api.artifact("sk2/big")
    assert stored.get_entry("big.bin").size == 64 << 20
    stored.download(f"{root}/dl")  # every byte, hash-checked


def test_lineage_both_ways_and_use_model(tracker_env, api):
    root = tracker_env["root"]
    write(f"{root}/weights.bin", b"w" * 64)
    producer = tracker.init(project="lin")
    model = producer.log_model(f"{root}/weights.bin", name="net", aliases=["prod"])
    producer.link_model(f"{root}/weights.bin", "classifier", name="net", aliases=["staging"])
    model.wait()
    producer.finish()

    consumer = tracker.init(project="lin")
    used = consumer.use_artifact("net:prod", type="model")
    assert used.version == "v0"
    folder = consumer.use_model("net")
    assert open(f"{folder}/weights.bin", "rb").read() == b"w" * 64
    consumer.finish()

    stored = api.artifact("lin/net:v0")
    assert stored.logged_by().id == producer.id
    assert [r.id for r in stored.used_by()] == [consumer.id]
    assert [a.name for a in api.run(consumer.path).used_artifacts()] == ["net:v0"]
    assert [a.name for a in api.run(producer.path).logged_artifacts()] == ["net:v0"]
    linked = api.artifact("model-registry/classifier:staging")
    assert linked.version == "v0" and linked.type == "model"
    assert linked.digest == stored.digest


def test_sigkill_right_after_log_artifact_still_commits(tracker_env, api):
    root = tracker_env["root"]
    write(f"{root}/big.bin", os.urandom(2_000_000))
    script = textwrap.dedent(
        f"""
        import os, signal, time, tracker
        run = tracker.init(project="kill")
        run.log_artifact({root!r} + "/big.bin", name="ck", type="model")
        time.sleep(0.3)
        print(run.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    run_id = proc.stdout.strip()
    wait_until(lambda: api.run(f"kill/{run_id}").load()["state"] == "crashed", timeout=30)
    art = api.artifact("kill/ck:latest")
    assert art.logged_by().id == run_id
    assert art.get_entry("big.bin").size == 2_000_000


def test_bad_input_gives_clear_errors(tracker_env, api):
    root = tracker_env["root"]
    with pytest.raises(tracker.Error, match="may not contain ':'"):
        tracker.Artifact("a:b", type="dataset")
    art = tracker.Artifact("ok", type="dataset")
    with pytest.raises(tracker.Error, match="is not a file"):
        art.add_file(f"{root}/missing.txt")
    with pytest.raises(tracker.Error, match="relative path"):
        art.add_file(write(f"{root}/x.txt", "x"), name="../x.txt")
    run = tracker.init(project="bad")
    with pytest.raises(tracker.Error, match="does not exist"):
        run.log_artifact(f"{root}/nope.bin", type="model")
    with pytest.raises(tracker.Error, match="bad artifact alias"):
        run.log_artifact(f"{root}/x.txt", name="x", type="t", aliases=["a:b"])
    with pytest.raises(tracker.Error, match="not found"):
        run.use_artifact("never-logged:latest")
    run.log_artifact(f"{root}/x.txt", name="x", type="t").wait()
    with pytest.raises(tracker.Error, match="no alias or version 'nope'"):
        api.artifact("bad/x:nope")
    with pytest.raises(tracker.Error, match="one ':' before the alias"):
        api.artifact("bad/x:v0:v1")
    with pytest.raises(tracker.Error, match="holds type 't', not 'other'"):
        run.log_artifact(f"{root}/x.txt", name="x", type="other").wait()
    run.finish()
    assert [a.version for a in api.artifacts(None, "bad/x")] == ["v0"]  # nothing half-written


def test_module_functions_log_code_and_a_finished_runs_log_artifact(tracker_env, api):
    root = tracker_env["root"]
    write(f"{root}/train.py", "print('hi')\n")
    write(f"{root}/pkg/model.py", "x = 1\n")
    run = tracker.init(project="mod")
    created = tracker.log_code()
    assert len(created) == 2  # the code/ files of the run, as before
    art = tracker.log_artifact(write(f"{root}/cfg.json", "{}"), name="cfg", type="config")
    art.wait()
    assert tracker.use_artifact("cfg:v0").id == art.id
    run.finish()
    code = api.artifact(f"mod/source-mod-{run.id}", type="code")
    assert sorted(e.path for e in code.files()) == ["pkg/model.py", "train.py"]
    # the read API logs into a finished run in this process
    late = tracker.Artifact("late", type="report")
    late.add_file(write(f"{root}/report.txt", "done"))
    public = api.run(run.path)
    public.log_artifact(late, aliases=["final"])
    assert late.version == "v0" and "final" in late.aliases
    assert sorted(a.name for a in public.logged_artifacts()) == [
        "cfg:v0", "late:v0", f"source-mod-{run.id}:v0",
    ]  # fmt: skip
    assert [a.name for a in public.used_artifacts()] == ["cfg:v0"]


def test_bad_artifact_records_fail_their_job_and_hurt_nothing(tracker_env, api):
    from tracker.proto.messages import Kind

    run = tracker.init(project="badrec")
    bad = [
        {"op": "log", "id": "x1"},
        {"op": "log", "id": "x2", "name": "n", "type": "t", "entries": [1, "a"]},
        {"op": "nope", "id": "x3"},
        {"op": "log", "id": "x4", "name": "n", "type": "t",
         "entries": [{"path": "a", "local": "/nonexistent", "size": "big"}]},
        {"op": "log", "id": "x5", "name": "n", "type": "t",
         "entries": [{"path": "a", "local": "/nonexistent", "size": 1}]},
        {"op": "link", "id": "x6", "artifact_id": "nope", "collection": "c"},
    ]  # fmt: skip
    run._send(Kind.ARTIFACT, "not a map")
    for spec in bad:
        run._send(Kind.ARTIFACT, spec)
    run.log({"i": 1})
    for spec in bad:
        assert run._wait_artifact(spec["id"], 30)["state"] == "failed", spec
    run.finish()
    assert api.run(run.path).summary["i"] == 1
    assert api.artifact_collections("badrec") == []


def test_a_table_an_image_and_json_added_to_an_artifact_read_back(tracker_env, api):
    """``add(obj, name)`` / ``get(name)``: a Table kept as parquet (types, nulls, a mixed
    column), an Image as PNG, a dict as JSON; read back by a fresh Api from the store."""
    import numpy as np

    table = tracker.Table(columns=["id", "score", "label", "mixed"])
    table.add_data(1, 0.5, "cat", 3)
    table.add_data(2, None, "dog", "three")
    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    run = tracker.init(project="objs")
    art = tracker.Artifact("evals", type="dataset")
    assert art.add(table, "preds").path == "preds.table.parquet"
    assert art.add(tracker.Image(pixels), "sample").path == "sample.image.png"
    art.add({"k": [1, 2]}, "meta")
    assert art.get("preds").data == table.data  # a draft reads its own files
    with pytest.raises(ValueError, match="cannot be kept"):
        art.add(tracker.Html("<b>x</b>"), "page")
    run.log_artifact(art).wait()
    run.finish()

    stored = tracker.Api().artifact("objs/evals:latest")
    got = stored.get("preds")
    assert isinstance(got, tracker.Table)
    assert got.columns == table.columns and got.data == table.data
    assert (np.array(stored.get("sample").image) == pixels).all()
    assert stored.get("meta") == {"k": [1, 2]}
    with pytest.raises(KeyError):
        stored.get("absent")


def test_a_table_of_a_large_dataframe_added_to_an_artifact_reads_back(tracker_env):
    # numeric columns of 64 KB and more travel as Blobs (media arrays): add() must read them
    import numpy as np
    import pandas as pd

    df = pd.DataFrame({"x": np.arange(20_000, dtype=np.float64), "name": ["n"] * 20_000})
    art = tracker.Artifact("big-table", type="dataset")
    assert art.add(tracker.Table(dataframe=df), "rows").path == "rows.table.parquet"
    got = art.get("rows")
    assert len(got.data) == 20_000 and got.data[-1] == [19_999.0, "n"]


def test_an_s3_reference_is_checksummed_downloaded_and_refused_once_changed(
    tracker_env, aws_env, tmp_path
):
    """``add_reference("s3://...")`` on moto (loopback): the sidecar reads the object for its
    sha256 (nothing copied into the store); download reads it from S3 and checks it; an object
    changed since fails with the URI named; a missing one fails the version at ``wait()``."""
    import hashlib

    bucket = aws_env.new_bucket()
    body = b"a,b\n1,2\n"
    aws_env.client().put_object(Bucket=bucket, Key="data/train.csv", Body=body)
    uri = f"s3://{bucket}/data/train.csv"
    run = tracker.init(project="refs")
    art = tracker.Artifact("remote", "dataset")
    art.add_reference(uri)
    run.log_artifact(art).wait()
    missing = tracker.Artifact("gone", "dataset")
    missing.add_reference(f"s3://{bucket}/no/such.csv")
    run.log_artifact(missing)
    with pytest.raises(tracker.Error, match=f"s3://{bucket}/no/such.csv cannot be read"):
        missing.wait()
    run.finish()

    api = tracker.Api()
    stored = api.artifact("refs/remote:latest")
    entry = stored.get_entry("train.csv")
    assert (entry.ref, entry.size, entry.digest) == (
        uri,
        len(body),
        hashlib.sha256(body).hexdigest(),
    )
    assert blob_bytes(api) == 0  # a reference is never copied into the store
    root = stored.download(str(tmp_path / "dl"))
    assert open(os.path.join(root, "train.csv"), "rb").read() == body
    stored.verify(root)
    aws_env.client().put_object(Bucket=bucket, Key="data/train.csv", Body=b"changed")
    with pytest.raises(tracker.Error, match=f"{uri} no longer matches its checksum"):
        stored.download(str(tmp_path / "dl2"))
    assert not os.path.exists(tmp_path / "dl2" / "train.csv")  # nothing half-written
