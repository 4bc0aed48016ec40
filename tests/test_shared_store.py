"""A shared store (§13): PostgreSQL catalogue + S3 blobs, real services on loopback.

PostgreSQL (``initdb``/``pg_ctl``) and moto's S3 server are started by the session fixtures
of ``shared_services``; every test gets a new database and a new bucket.
"""

import json
import time

import pytest
import tracker
from conftest import wait_until
from test_cli_and_sync import cli
from tracker.settings import Env
from tracker.store import open_store, parse_store_uri


def open_shared(uri):
    """The store as tracker's entry points open it: the AWS variables as S3 defaults."""
    return open_store(uri, Env.s3_defaults())


# -- URIs (no service) ---------------------------------------------------------------------
def test_postgresql_uri_splits_catalogue_blobs_and_s3_options():
    where = parse_store_uri(
        "postgresql://me:pw@db.lab:5433/runs?blobs=s3://bkt/team/x&sslmode=require"
        "&endpoint_override=http://minio:9000&region=eu-west-1&secret_key=s3cr3t"
        "&allow_bucket_creation=true&connect_timeout=2"
    )
    assert where.scheme == "postgresql"
    assert where.conninfo == "postgresql://me:pw@db.lab:5433/runs?sslmode=require"
    assert where.blobs == "s3://bkt/team/x"
    assert where.blob_options == {
        "endpoint_override": "http://minio:9000",
        "region": "eu-west-1",
        "secret_key": "s3cr3t",
        "allow_bucket_creation": True,
        "connect_timeout": 2.0,
    }
    assert "pw" not in where.display and "s3cr3t" not in where.display
    assert where.location.startswith("postgresql://me:pw@")  # the sidecar is keyed by all of it


@pytest.mark.parametrize(
    "uri, message",
    [
        ("postgresql://u@h/db", "blobs=s3://bucket/prefix"),
        ("postgresql://u@h/db?blobs=ftp://x/y", "blobs='ftp://x/y'"),
        ("postgresql://u@h?blobs=s3://b/p", "name the database"),
        ("postgresql://u@h/db?blobs=s3://b/p&anonymous=maybe", "anonymous='maybe'"),
        ("postgresql://u@h/db?blobs=s3://b/p&request_timeout=soon", "request_timeout='soon'"),
    ],
)
def test_a_bad_postgresql_uri_names_what_is_wrong(uri, message):
    with pytest.raises(tracker.Error, match=message.replace("?", r"\?")):
        parse_store_uri(uri)


def test_an_unreachable_catalogue_is_a_clear_error(postgres):
    from shared_services import free_port

    uri = f"postgresql://tracker@127.0.0.1:{free_port()}/x?blobs=s3://b/p"
    with pytest.raises(tracker.Error, match="cannot reach the PostgreSQL catalogue"):
        open_store(uri)


# -- the store itself ----------------------------------------------------------------------
def test_catalogue_is_versioned_and_a_newer_one_is_refused(shared_uri):
    import psycopg
    from tracker.store.sqlcat import SCHEMA_VERSION

    open_shared(shared_uri).close()
    open_shared(shared_uri).close()  # a second opener finds it migrated
    conninfo = parse_store_uri(shared_uri).conninfo
    with psycopg.connect(conninfo, autocommit=True) as db:
        assert db.execute("SELECT version FROM tracker_schema").fetchall() == [(SCHEMA_VERSION,)]
        db.execute("UPDATE tracker_schema SET version = version + 1")
    with pytest.raises(tracker.Error, match="newer than this tracker"):
        open_shared(shared_uri)


def test_a_retried_row_never_goes_back_in_time(shared_uri):
    store = open_shared(shared_uri)
    ref = {"entity": "e", "project": "p", "run_id": "r", "run_dir": "/runs/a"}
    store.catalogue.put_run({**ref, "state": "running", "rows_committed": 10, "write_seq": 7})
    store.catalogue.put_run(
        {**ref, "state": "running", "rows_committed": 4, "write_seq": 3}
    )  # late
    assert store.catalogue.get_run("e", "p", "r")["rows_committed"] == 10
    store.catalogue.put_run({**ref, "state": "finished", "rows_committed": 12, "write_seq": 9})
    assert store.catalogue.get_run("e", "p", "r")["state"] == "finished"
    # a new life of the run (resumed, another run directory) starts its log again at 0
    store.catalogue.put_run({**ref, "run_dir": "/runs/b", "rows_committed": 13, "write_seq": 1})
    assert store.catalogue.get_run("e", "p", "r")["rows_committed"] == 13
    assert len(store.catalogue.find_runs()) == 1


def test_blobs_on_s3_appear_whole_and_list_without_temporaries(shared_uri):
    store = open_shared(shared_uri)
    key = "runs/e/p/r/history/part-00000.parquet"
    with pytest.raises(RuntimeError):
        with store.blobs.writer(key) as out:
            out.write(b"half")
            raise RuntimeError("the writer dies")
    assert store.blobs.list("runs/e/p/r/") == [] and not store.blobs.exists(key)
    store.blobs.put(key, b"whole")
    assert store.blobs.list("runs/e/p/r/") == [key]
    assert store.blobs.open(key).read() == b"whole" and store.blobs.size(key) == 5
    assert store.blobs.url(key).startswith("s3://") and store.blobs.url(key).endswith(key)
    store.delete_run("e", "p", "r")
    assert store.blobs.list("runs/") == []


# -- a real run ----------------------------------------------------------------------------
def test_a_run_logged_into_postgres_and_s3_reads_back(shared, run_script, tmp_path, s3):
    (tmp_path / "weights.bin").write_bytes(b"w" * 10_000)
    run_script(
        f"""
        import numpy as np, tracker
        run = tracker.init(project="lab", group="exp1", config={{"lr": 0.1}})
        run.log({{"loss": 1.0, "i": 0, "img": tracker.Image(np.zeros((4, 4, 3), np.uint8))}})
        for i in range(1, 300):
            run.log({{"loss": 1.0 / (i + 1), "i": i}})
        run.save({str(tmp_path / "weights.bin")!r}, base_path={str(tmp_path)!r}, policy="now")
        run.summary["best"] = 0.5
        run.alert(title="done soon", text="almost")
        run.finish()
        """,
        check=True,
    )
    api = tracker.Api(store=shared)
    (run,) = api.runs("tester/lab")
    assert run.state == "finished" and run.group == "exp1" and run.config["lr"] == 0.1
    assert run.summary["best"] == 0.5 and run.summary["i"] == 299
    rows = list(run.scan_history(keys=["i"]))
    assert [r["i"] for r in rows] == list(range(300))  # every row once
    assert run.file("weights.bin").size == 10_000
    assert {f.name for f in run.files()} >= {"weights.bin", "config.yaml", "summary.json"}
    # the bytes are in the bucket, under the run's keys
    bucket = parse_store_uri(shared).blobs.split("/")[2]
    listed = s3.client().list_objects_v2(Bucket=bucket, Prefix="tracker/runs/tester/lab/")
    keys = [o["Key"] for o in listed["Contents"]]
    assert any("/history/" in k and k.endswith(".parquet") for k in keys)
    assert any(k.endswith("/files/weights.bin") for k in keys)
    # the CLI reads the same store
    listed = json.loads(cli("runs", "tester/lab", "--store", shared, "--json"))
    assert [(r["state"], r["last_step"]) for r in listed] == [("finished", 299)]
    _served_by_the_ui(shared, run.id)


def _served_by_the_ui(shared, run_id):
    """`tracker-service ui --store postgresql://...?blobs=s3://...` lists the run, serves its
    chart data, a file and an image (the S3 endpoint from the AWS variables; the secret key in
    the URI is not printed)."""
    import urllib.request

    from test_ui import _start_ui

    proc, url, err = _start_ui(shared + "&access_key=testing&secret_key=s3cr3t-hidden")
    try:
        assert "secret_key=***" in err and "s3cr3t-hidden" not in err

        def get(path):
            try:
                with urllib.request.urlopen(url + path, timeout=20) as resp:
                    return resp.read()
            except urllib.error.HTTPError as exc:
                raise AssertionError(f"{path}: {exc.code} {exc.read()!r}") from None

        runs = json.loads(get("/api/runs/tester/lab"))["runs"]
        assert [(r["run_id"], r["state"]) for r in runs] == [(run_id, "finished")]
        series = json.loads(get(f"/api/run/tester/lab/{run_id}/series?key=loss&buckets=100"))
        assert series["rows"] == 300 and series["series"]["loss"]["max"][0] == 1.0
        assert get(f"/files/tester/lab/{run_id}/weights.bin") == b"w" * 10_000
        (img,) = json.loads(get(f"/api/run/tester/lab/{run_id}/media"))["media"]
        assert get(f"/media/tester/lab/{run_id}/{img['steps'][0]['items'][0]['path']}")[:4] == (
            b"\x89PNG"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_status_of_a_live_run_on_the_shared_store(shared):
    run = tracker.init(project="lab")
    for i in range(50):
        run.log({"a": i})
    assert run.status().last_step_committed == 49
    data = json.loads(cli("status", "--store", shared, "--json"))
    (sidecar,) = data["sidecars"]
    assert sidecar["store"].startswith("postgresql://") and "blobs=s3://" in sidecar["store"]
    assert sidecar["runs"][0]["path"] == run.path
    api = tracker.Api(store=shared)

    def state() -> str | None:  # the row is written by the sidecar's store writer: not at once
        try:
            return api.run(run.path).state
        except tracker.Error:
            return None

    wait_until(lambda: state() == "running", timeout=20)
    run.finish()
    assert api.run(run.path).lastHistoryStep == 49


def test_aws_variables_alone_reach_the_s3_service_and_uri_options_win(shared_uri):
    from shared_services import free_port

    # no option in the URI: endpoint, region and keys come from AWS_* only
    assert "endpoint_override" not in shared_uri
    store = open_shared(shared_uri)
    store.blobs.put("runs/e/p/r/files/x", b"x")
    assert store.blobs.list("runs/") == ["runs/e/p/r/files/x"]
    # an option named as S3FileSystem names it wins over the variable: here a dead port
    dead = f"{shared_uri}&endpoint_override=http://127.0.0.1:{free_port()}&request_timeout=1"
    with pytest.raises(OSError):
        open_shared(dead).blobs.list("runs/")


# -- sync ----------------------------------------------------------------------------------
def test_sync_pushes_offline_and_local_store_runs_into_the_shared_store(
    shared_uri, run_script, tracker_env
):
    proc = run_script(
        """
        import tracker
        off = tracker.init(project="moved", mode="offline", config={"where": "offline"})
        for i in range(120):
            off.log({"a": i})
        off.finish()
        local = tracker.init(project="moved", config={"where": "local"})  # the local store
        for i in range(80):
            local.log({"a": i})
        local.finish()
        print(off.sync_dir, local.sync_dir)
        """,
        check=True,
    )
    offline_dir, local_dir = proc.stdout.split()[-2:]
    assert tracker.Api(store=tracker_env["store"]).runs("moved")  # the local run is local
    out = json.loads(cli("sync", offline_dir, local_dir, "--store", shared_uri, "--json"))
    assert [r["status"] for r in out] == ["synced", "synced"]
    again = json.loads(cli("sync", offline_dir, "--store", shared_uri, "--json"))
    assert again[0]["status"] == "skipped"  # idempotent: nothing written twice
    runs = tracker.Api(store=shared_uri).runs("tester/moved")
    assert sorted(r.config["where"] for r in runs) == ["local", "offline"]
    for r in runs:
        assert r.state == "finished"
        expected = 120 if r.config["where"] == "offline" else 80
        assert [row["a"] for row in r.scan_history(keys=["a"])] == list(range(expected))


# -- the store writer (no sidecar) ---------------------------------------------------------
def test_store_writer_queues_in_order_while_postgres_is_down_then_catches_up(shared_uri, postgres):
    from tracker.service.storewriter import StoreWriter

    store, writer, landed = open_shared(shared_uri), StoreWriter(), []
    ref = {"entity": "e", "project": "p", "run_id": "r", "run_dir": "/d"}

    def row(n):
        writer.put_run(store, {**ref, "rows_committed": n, "write_seq": n}, landed.append)

    row(1)
    assert writer.drain(10) and landed == [None]
    postgres.stop()
    try:
        for n in range(2, 6):
            row(n)
        writer.write_alerts(store, [{**ref, "alert_id": "a1", "time": 1.0, "title": "late"}])

        def queued():
            writer.run_completed()
            writer.flush(time.monotonic())
            b = writer.backlog()
            return b["failing_since"] and b["catalogue_writes"] == 5 and b

        assert "catalogue row of r" in wait_until(queued, timeout=30)["last_failure"]
        assert landed == [None]  # nothing is given up while the store is away
    finally:
        postgres.start()
    assert writer.drain(30)
    assert landed == [None] * 5 and writer.backlog()["failing_since"] is None
    assert store.catalogue.get_run("e", "p", "r")["rows_committed"] == 5
    assert [a["title"] for a in store.catalogue.get_alerts("e", "p", "r")] == ["late"]
    writer.stop()


def test_store_writer_drops_a_record_the_store_refuses_and_goes_on(tmp_path):
    from tracker.service.storewriter import StoreWriter

    store, writer = open_store(str(tmp_path / "local")), StoreWriter()
    ref = {"entity": "e", "project": "p", "run_id": "r"}
    writer.write_alerts(store, [{**ref, "alert_id": "bad", "title": object()}])  # unbindable
    writer.write_alerts(store, [{**ref, "alert_id": "good", "time": 1.0, "title": "ok"}])
    assert writer.drain(10)
    assert [a["alert_id"] for a in store.catalogue.get_alerts("e", "p", "r")] == ["good"]
    assert writer.errors.count == 1 and "alert records" in writer.errors.last
    writer.stop()
