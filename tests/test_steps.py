"""Every step rule of §4.1, through the real sidecar, read back from parquet."""

import os

import pyarrow.parquet as pq
import pytest
import tracker


def rows_of(run):
    return list(tracker.Api().run(run.path).scan_history())


def steps_and(rows, key):
    return [(r["_step"], r.get(key)) for r in rows]


def test_log_without_step_commits_one_row_each_and_increments_step():
    run = tracker.init(project="steps")
    assert run.step == 0
    for i in range(5):
        run.log({"a": i})
    assert run.step == 5
    run.finish()
    rows = rows_of(run)
    assert steps_and(rows, "a") == [(i, i) for i in range(5)]


def test_commit_false_merges_into_the_pending_row():
    run = tracker.init(project="steps")
    run.log({"a": 1})
    run.log({"c": 3}, commit=False)
    run.log({"d": 4}, commit=False)
    assert run.step == 1
    run.log({"e": 5})
    assert run.step == 2
    run.finish()
    rows = rows_of(run)
    assert [r["_step"] for r in rows] == [0, 1]
    assert {k: rows[1][k] for k in ("c", "d", "e")} == {"c": 3, "d": 4, "e": 5}


def test_same_key_twice_in_one_step_keeps_the_later_value():
    run = tracker.init(project="steps")
    run.log({"a": 100}, commit=False)
    run.log({"a": 101})
    run.finish()
    assert steps_and(rows_of(run), "a") == [(0, 101)]


def test_step_above_current_commits_pending_and_jumps():
    run = tracker.init(project="steps")
    run.log({"x": 1}, step=10)
    assert run.step == 10
    run.log({"y": 2}, step=10)
    run.log({"w": 3}, step=12)
    assert run.step == 12
    run.finish()
    rows = rows_of(run)
    assert [r["_step"] for r in rows] == [10, 12]
    assert rows[0]["x"] == 1 and rows[0]["y"] == 2
    assert rows[1]["w"] == 3


def test_step_with_commit_true_commits_and_increments():
    run = tracker.init(project="steps")
    run.log({"x": 1}, step=20, commit=True)
    assert run.step == 21
    run.log({"y": 1})
    run.finish()
    assert [r["_step"] for r in rows_of(run)] == [20, 21]


def test_step_jump_with_empty_pending_row_writes_nothing():
    run = tracker.init(project="steps")
    run.log({"a": 1}, step=5, commit=True)
    run.log({"b": 1}, step=9)
    run.finish()
    assert [r["_step"] for r in rows_of(run)] == [5, 9]


def test_step_below_current_is_dropped_and_counted():
    run = tracker.init(project="steps")
    for i in range(11):
        run.log({"a": i})
    run.log({"late": 1}, step=5)
    run.log({"later": 1}, step=3)
    assert run.step == 11
    status = run.status()
    assert status.steps_dropped == 2
    assert status.first_dropped_step == 5
    assert status.first_dropped_key == "late"
    run.finish()
    rows = rows_of(run)
    assert len(rows) == 11
    assert all("late" not in r and "later" not in r for r in rows)
    log_text = open(f"{run.sync_dir}/logs/sidecar.log").read()
    assert "dropped log at step 5" in log_text


def test_step_below_current_warns_once_per_run(capsys, monkeypatch):
    monkeypatch.setenv("TRACKER_SILENT", "0")
    run = tracker.init(project="steps")
    run.log({"a": 1}, step=10, commit=True)
    run.log({"a": 2}, step=3)
    run.log({"a": 3}, step=4)
    err = capsys.readouterr().err
    assert err.count("less than the current step") == 1


def test_strict_steps_raises_instead_of_dropping():
    run = tracker.init(project="steps", settings={"strict_steps": True})
    run.log({"a": 1}, step=10, commit=True)
    with pytest.raises(ValueError, match="step 3"):
        run.log({"a": 2}, step=3)
    assert run.step == 11


def test_empty_log_uses_up_a_step_and_has_reserved_columns():
    run = tracker.init(project="steps")
    run.log({})
    run.log({"a": 1})
    run.finish()
    rows = rows_of(run)
    assert [r["_step"] for r in rows] == [0, 1]
    assert set(rows[0]) == {"_step", "_timestamp", "_runtime"}


def test_pending_commit_false_row_is_committed_at_finish():
    run = tracker.init(project="steps")
    run.log({"a": 1})
    run.log({"b": 2}, commit=False)
    run.finish()
    rows = rows_of(run)
    assert steps_and(rows, "b") == [(0, None), (1, 2)]


def test_user_timestamp_is_kept_and_runtime_is_set():
    run = tracker.init(project="steps")
    run.log({"_timestamp": 123.0, "a": 1})
    run.log({"a": 2})
    run.finish()
    rows = rows_of(run)
    assert rows[0]["_timestamp"] == 123.0
    assert rows[1]["_timestamp"] > 1e9
    assert all(isinstance(r["_runtime"], float) and r["_runtime"] >= 0 for r in rows)


def test_step_types_are_checked():
    import numpy as np

    run = tracker.init(project="steps")
    for bad in (1.0, "3", True):
        with pytest.raises(TypeError, match="step"):
            run.log({"a": 1}, step=bad)
    run.log({"a": 1}, step=np.int64(4), commit=True)
    assert run.step == 5


def test_parquet_columns_have_the_documented_types():
    run = tracker.init(project="steps")
    for i in range(3):
        run.log({"a": i, "f": i / 2})
    run.finish()
    api = tracker.Api()
    folder = os.path.join(api.store_root, "runs", *api.run(run.path).path, "history")
    (name,) = os.listdir(folder)
    table = pq.read_table(os.path.join(folder, name))
    assert str(table.schema.field("_step").type) == "int64"
    assert str(table.schema.field("_timestamp").type) == "double"
    assert str(table.schema.field("_runtime").type) == "double"
    assert table.column("a").to_pylist() == [0, 1, 2]


def test_log_after_finish_raises():
    run = tracker.init(project="steps")
    run.finish()
    with pytest.raises(tracker.Error, match="finished"):
        run.log({"a": 1})
