"""The read side (§5) against a finished and a running run; checked with plain pyarrow too."""

import os

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import tracker
from conftest import wait_until

N = 25_000  # two exported parts of 10,000 rows and a tail


def make_run(finish: bool):
    run = tracker.init(
        project="api",
        group="grp",
        job_type="train",
        tags=["t1"],
        config={"lr": 0.1},
        settings={"system_sample_interval": 0},  # these tests are about the history stream
    )
    run.define_metric("loss", summary="min")
    for i in range(N):
        row = {"loss": 1.0 / (i + 1)}
        if i % 2 == 0:
            row["even"] = i
        if i >= N - 10:
            row["late_key"] = i
        run.log(row)
    if finish:
        run.finish()
    else:
        assert run.status().last_step_committed == N - 1
    return run


def history_files(api, run):
    """The run's history parquet files on disk, as the local store lays them out."""
    folder = os.path.join(api.store_root, "runs", "tester", "api", run.id, "history")
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(os.path.join(folder, f) for f in names if not f.startswith("."))


@pytest.fixture(params=["finished", "running"])
def both(request, api):
    run = make_run(finish=request.param == "finished")
    return request.param, run, api.run(run.path)


def test_attributes(both):
    kind, run, r = both
    assert r.id == run.id and r.entity == "tester" and r.project == "api"
    assert r.path == ["tester", "api", run.id]
    assert r.state == ("finished" if kind == "finished" else "running")
    assert r.config == {"lr": 0.1} and r.rawconfig == {"lr": {"value": 0.1, "desc": None}}
    assert r.group == "grp" and r.job_type == "train" and r.tags == ["t1"]
    assert r.user == "tester" and r.name == run.name
    assert r.created_at.endswith("+00:00") and r.heartbeat_at
    assert r.url.endswith(f"/tester/api/runs/{run.id}")
    assert r.storage_id and r.read_only is False and r.sweep_name is None
    assert r.metadata["python"]
    assert r.system_metrics == {}
    if kind == "finished":
        assert r.summary["loss"] == {"min": 1.0 / N}
        assert r.summary_metrics["_step"] == N - 1
        assert r.lastHistoryStep == N - 1
        assert set(r.history_keys["keys"]) >= {"_step", "loss", "even", "late_key"}
    else:
        wait_until(lambda: r.load() and r.lastHistoryStep == N - 1)


def test_scan_history_is_complete_in_step_order(both):
    kind, run, r = both
    rows = list(r.scan_history())
    assert [row["_step"] for row in rows] == list(range(N))
    assert rows[-1]["late_key"] == N - 1
    evens = list(r.scan_history(keys=["even"]))
    assert [row["even"] for row in evens] == list(range(0, N, 2))
    assert all(set(row) == {"_step", "even"} for row in evens)
    window = list(r.scan_history(keys=["loss"], min_step=10, max_step=20, page_size=3))
    assert [row["_step"] for row in window] == list(range(10, 20))


def test_beta_scan_history_reads_only_exported_parquet(both):
    kind, run, r = both
    rows = list(r.beta_scan_history(keys=["loss"], min_step=0))
    if kind == "finished":
        assert len(rows) == N
    else:
        wait_until(lambda: len(list(r.beta_scan_history(keys=["loss"]))) >= 20_000)
        assert len(list(r.beta_scan_history(keys=["loss"]))) < N


def test_history_samples_evenly_with_first_and_last(both):
    kind, run, r = both
    df = r.history(samples=100)
    assert len(df) == 100
    assert df["_step"].iloc[0] == 0 and df["_step"].iloc[-1] == N - 1
    rows = r.history(samples=10, keys=["late_key"], pandas=False)
    assert [row["late_key"] for row in rows] == list(range(N - 10, N))
    assert all(set(row) <= {"_step", "late_key"} for row in rows)
    assert r.history(stream="system", pandas=False) == []
    with pytest.raises(ValueError):
        r.history(keys="loss")


def test_download_history_exports(both, tmp_path):
    kind, run, r = both
    if kind == "running":
        with pytest.raises(tracker.IncompleteRunHistoryError):
            r.download_history_exports(str(tmp_path / "dl"))
        res = r.download_history_exports(str(tmp_path / "dl"), require_complete_history=False)
        assert res.contains_live_data
    else:
        res = r.download_history_exports(str(tmp_path / "dl"))
        assert not res.contains_live_data and not res.errors
        assert all(p.endswith(".runhistory.parquet") for p in res.paths)
        table = pq.read_table(str(tmp_path / "dl"))
        assert table.num_rows == N


def test_exported_history_reads_with_plain_pyarrow_and_pandas(api):
    run = make_run(finish=True)
    files = history_files(api, run)
    assert len(files) == 1  # the three parts were compacted into one file at finish
    schema = __import__("pyarrow").unify_schemas(
        [pq.read_schema(f) for f in files], promote_options="permissive"
    )
    table = ds.dataset(files, schema=schema, format="parquet").to_table()
    assert table.num_rows == N
    assert sorted(table.column("_step").to_pylist()) == list(range(N))
    import pandas as pd

    df = pd.concat([pd.read_parquet(f) for f in files])
    assert len(df) == N and df["loss"].iloc[0] == 1.0


def test_running_run_parts_are_readable_while_it_runs(api):
    run = make_run(finish=False)
    wait_until(lambda: len(history_files(api, run)) >= 2)
    first = pq.read_table(history_files(api, run)[0])
    assert first.num_rows == 10_000


def test_update_save_delete_load(api):
    run = make_run(finish=True)
    r = api.run(run.path)
    r.name = "edited"
    r.notes = "n"
    r.tags = ["x", "y"]
    r.group = "g2"
    r.job_type = "eval"
    r.config["new"] = 1
    r.summary["best"] = 0.5
    r.update()
    again = api.run(run.path)
    assert (again.name, again.notes, again.tags, again.group, again.job_type) == (
        "edited",
        "n",
        ["x", "y"],
        "g2",
        "eval",
    )
    assert again.config["new"] == 1 and again.summary["best"] == 0.5
    again.summary["other"] = 2
    again.save()
    assert api.run(run.path).summary["other"] == 2
    assert r.load(force=True)["name"] == "edited" and r.load_full_data()["name"] == "edited"
    r.delete()
    with pytest.raises(tracker.Error, match="not found"):
        api.run(run.path)
    assert not os.path.exists(os.path.join(api.store_root, "runs", "tester", "api", run.id))


def test_runs_filters_and_order(api):
    made = []
    for i, (state_code, lr, tags) in enumerate(
        [(0, 0.1, ["a"]), (1, 0.2, ["b"]), (0, 0.3, ["a", "b"])]
    ):
        run = tracker.init(
            project="many", group="g" if i < 2 else "h", config={"lr": lr}, tags=tags, reinit=True
        )
        run.log({"acc": i})
        run.finish(exit_code=state_code)
        made.append(run.id)
    ids = lambda runs: [r.id for r in runs]  # noqa: E731
    assert ids(api.runs("tester/many")) == made[::-1]
    assert ids(api.runs("many", order="+created_at")) == made
    assert ids(api.runs("many", filters={"state": "failed"})) == [made[1]]
    assert ids(api.runs("many", filters={"group": "g"}, order="created_at")) == made[:2]
    assert (
        ids(api.runs("many", filters={"config.lr": {"$gt": 0.15}}, order="config.lr")) == made[1:]
    )
    assert ids(api.runs("many", filters={"summary.acc": {"$lt": 1}})) == [made[0]]
    assert ids(api.runs("many", filters={"tags": "b"}, order="created_at")) == made[1:]
    assert ids(api.runs("many", filters={"state": {"$in": ["failed", "crashed"]}})) == [made[1]]
    assert ids(api.runs("many", filters={"group": {"$ne": "g"}})) == [made[2]]
    assert ids(api.runs("many", order="-summary.acc")) == made[::-1]
    with pytest.raises(ValueError, match=r"\$like"):
        api.runs("many", filters={"state": {"$like": "f%"}})
    assert api.run(made[0]).id == made[0]  # id alone, found across projects


def test_wait_until_finished_create_and_update_state(api, start_script):
    proc = start_script(
        """
        import time, tracker
        run = tracker.init(project="wait")
        print(run.path, flush=True)
        run.log({"a": 1})
        time.sleep(1)
        run.finish(exit_code=4)
        """
    )
    path = proc.stdout.readline().split()[0]
    r = api.run(path)
    assert r.state == "running"
    assert r.wait_until_finished(timeout=20) == "failed"
    assert r.update_state("pending") and api.run(path).state == "pending"
    with pytest.raises(tracker.Error, match="pending"):
        r.update_state("pending")
    with pytest.raises(tracker.Error):
        r.update_state("finished")

    created = tracker.api.Run.create(api, run_id="prepared", project="wait", state="pending")
    assert created.state == "pending" and api.run("wait/prepared").state == "pending"
    run = tracker.init(project="wait", id="prepared", resume="must")
    run.log({"a": 1})
    run.finish()
    assert api.run("wait/prepared").state == "finished"
