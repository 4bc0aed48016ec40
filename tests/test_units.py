"""Fast tests of the sidecar's pure logic, with no sidecar process: the step rules of the
committer (§4.1), the summary and ``define_metric`` (§4.3, §4.4) and the save policies of the
file syncer (§4.5), the last with a real copier thread and a real local blob store."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time

import pytest
from conftest import wait_until
from tracker.service.committer import Committer
from tracker.service.summary import SummaryState
from tracker.service.syncer import Copier, FileSyncer
from tracker.store import open_store
from tracker.store.keys import file_key

# -- committer: W&B's step rules (§4.1) ---------------------------------------------------


def make_committer(
    starting_step: int = 0,
    start_time: float = 1000.0,
    runtime_offset: float = 0.0,
    summary: SummaryState | None = None,
) -> tuple[Committer, list[dict]]:
    rows: list[dict] = []
    committer = Committer(
        starting_step, start_time, runtime_offset, summary or SummaryState(), rows.append
    )
    return committer, rows


def user_columns(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("_step", "_timestamp", "_runtime")}


def test_log_without_step_commits_one_row_per_call_and_advances_the_step():
    committer, rows = make_committer()
    for i in range(3):
        assert committer.log(None, True, 1000.0 + i, {"loss": 1.0 / (i + 1)})
    assert [row["_step"] for row in rows] == [0, 1, 2]
    assert [row["loss"] for row in rows] == [1.0, 0.5, 1.0 / 3]
    assert committer.step == 3
    assert committer.rows == 3


def test_every_committed_row_gets_step_timestamp_and_runtime():
    committer, rows = make_committer(start_time=1000.0)
    committer.log(None, True, 1002.5, {"a": 1})
    (row,) = rows
    assert row["_step"] == 0 and type(row["_step"]) is int
    assert row["_timestamp"] == 1002.5 and type(row["_timestamp"]) is float
    assert row["_runtime"] == pytest.approx(2.5) and type(row["_runtime"]) is float


def test_a_timestamp_given_by_the_user_is_kept():
    committer, rows = make_committer()
    committer.log(None, True, 1005.0, {"a": 1, "_timestamp": 123.0})
    assert rows[0]["_timestamp"] == 123.0
    assert rows[0]["_runtime"] == pytest.approx(5.0)


def test_an_empty_log_commits_a_row_of_reserved_columns_and_uses_up_a_step():
    committer, rows = make_committer()
    committer.log(None, True, 1001.0, {})
    committer.log(None, True, 1002.0, {"a": 1})
    assert sorted(rows[0]) == ["_runtime", "_step", "_timestamp"]
    assert [row["_step"] for row in rows] == [0, 1]


def test_commit_false_merges_into_the_next_committed_row():
    committer, rows = make_committer()
    committer.log(None, True, 1000.0, {"a": 1})
    committer.log(None, False, 1001.0, {"c": 3, "x": 100})
    committer.log(None, False, 1002.0, {"d": 4})
    assert len(rows) == 1 and committer.step == 1  # nothing committed yet
    committer.log(None, True, 1003.0, {"e": 5, "x": 101})
    assert len(rows) == 2
    assert user_columns(rows[1]) == {"c": 3, "d": 4, "e": 5, "x": 101}  # the later value wins
    assert rows[1]["_step"] == 1
    assert rows[1]["_timestamp"] == 1003.0  # the last partial call's time
    assert committer.step == 2


def test_an_explicit_step_above_the_current_one_commits_the_pending_row_and_jumps():
    committer, rows = make_committer()
    committer.log(None, False, 1000.0, {"x": 1})
    committer.log(10, False, 1001.0, {"y": 2})
    assert [(r["_step"], user_columns(r)) for r in rows] == [(0, {"x": 1})]
    assert committer.step == 10
    committer.log(10, False, 1002.0, {"z": 3})  # equal step: merges
    assert len(rows) == 1
    committer.log(12, False, 1003.0, {"w": 4})
    assert [(r["_step"], user_columns(r)) for r in rows] == [
        (0, {"x": 1}),
        (10, {"y": 2, "z": 3}),
    ]
    assert committer.step == 12


def test_an_explicit_step_with_commit_writes_that_row_and_the_next_step_follows_it():
    committer, rows = make_committer()
    committer.log(20, True, 1000.0, {"x": 1})
    assert [r["_step"] for r in rows] == [20]  # no rows for the skipped steps
    assert committer.step == 21
    committer.log(None, True, 1001.0, {"y": 2})
    assert [r["_step"] for r in rows] == [20, 21]


def test_a_step_equal_to_the_current_one_merges_into_the_pending_row():
    committer, rows = make_committer()
    committer.log(None, False, 1000.0, {"a": 1})
    committer.log(0, True, 1001.0, {"b": 2})
    assert [(r["_step"], user_columns(r)) for r in rows] == [(0, {"a": 1, "b": 2})]


def test_a_step_below_the_current_one_is_dropped_and_counted():
    committer, rows = make_committer()
    for i in range(3):
        committer.log(None, True, 1000.0 + i, {"a": i})
    committer.log(None, False, 1003.0, {"pending": 1})

    assert committer.log(1, True, 1004.0, {"late": 1, "other": 2}) is False
    assert committer.log(2, False, 1005.0, {"later": 2}) is False

    assert committer.dropped == 2
    assert committer.first_dropped_step == 1
    assert committer.first_dropped_key == "late"
    assert committer.step == 3 and len(rows) == 3  # nothing written, the counter unchanged
    committer.flush()
    assert user_columns(rows[-1]) == {"pending": 1}  # the pending row was left alone
    assert "late" not in committer.summary.view() and "later" not in committer.summary.view()


def test_flush_commits_the_pending_row_at_the_current_step_and_nothing_when_none_is_pending():
    committer, rows = make_committer()
    committer.log(None, True, 1000.0, {"a": 1})
    committer.flush()
    assert len(rows) == 1
    committer.log(None, False, 1001.0, {"b": 2})
    committer.flush()
    assert [(r["_step"], user_columns(r)) for r in rows] == [(0, {"a": 1}), (1, {"b": 2})]
    assert committer.step == 2
    committer.flush()
    assert len(rows) == 2


def test_a_resumed_committer_continues_its_steps_and_runtime():
    committer, rows = make_committer(starting_step=11, start_time=2000.0, runtime_offset=50.0)
    committer.log(None, True, 2002.5, {"a": 1})
    assert rows[0]["_step"] == 11
    assert rows[0]["_runtime"] == pytest.approx(52.5)
    assert committer.log(5, True, 2003.0, {"old": 1}) is False  # below the resumed step
    assert committer.dropped == 1 and committer.first_dropped_step == 5
    committer.log(None, True, 2004.0, {"a": 2})
    assert [r["_step"] for r in rows] == [11, 12]


def test_the_summary_sees_committed_rows_only():
    committer, _ = make_committer()
    committer.log(None, True, 1000.0, {"a": 1})
    committer.log(None, False, 1001.0, {"a": 2})
    assert committer.summary.view()["a"] == 1
    committer.flush()
    summary = committer.summary.view()
    assert summary["a"] == 2
    assert summary["_step"] == 1  # reserved columns are summarised too, as in W&B


def test_step_sync_fills_in_the_latest_step_metric_in_rows_that_lack_it():
    summary = SummaryState()
    summary.define({"name": "val/*", "step_metric": "epoch", "step_sync": True})
    committer, rows = make_committer(summary=summary)
    committer.log(None, True, 1000.0, {"epoch": 3})
    committer.log(None, True, 1001.0, {"val/loss": 0.5})
    committer.log(None, True, 1002.0, {"train/loss": 0.7})
    assert rows[1]["epoch"] == 3
    assert "epoch" not in rows[2]  # no definition for train/*


# -- summary: last values, define_metric, overrides (§4.3, §4.4) ----------------------------


def logged(*rows: dict, summary: SummaryState | None = None) -> SummaryState:
    summary = summary or SummaryState()
    for row in rows:
        summary.update(row)
    return summary


def test_the_summary_holds_the_last_value_of_every_key_by_default():
    summary = logged({"loss": 3.0, "name": "a"}, {"loss": 1.0, "list": [1, 2]}, {"name": None})
    assert summary.view() == {"loss": 1.0, "name": None, "list": [1, 2]}


def test_each_aggregation_is_kept_in_a_dict_keyed_by_op():
    summary = SummaryState()
    summary.define({"name": "loss", "summary": ["min", "max", "mean", "first", "last"]})
    logged({"loss": 3}, {"loss": 1}, {"loss": 2}, summary=summary)
    assert summary.view()["loss"] == {"min": 1, "max": 3, "mean": 2.0, "first": 3, "last": 2}


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("min", {"min": 1}),
        ("max", {"max": 3}),
        ("mean", {"mean": 2.0}),
        ("first", {"first": 3}),
        ("last", {"last": 2}),
        ("copy", {"last": 2}),
    ],
)
def test_a_single_aggregation_still_gives_a_dict(op, expected):
    summary = SummaryState()
    summary.define({"name": "loss", "summary": [op]})
    logged({"loss": 3}, {"loss": 1}, {"loss": 2}, summary=summary)
    assert summary.view()["loss"] == expected


def test_best_follows_the_goal():
    summary = SummaryState()
    summary.define({"name": "acc", "summary": ["best"], "goal": "maximize"})
    summary.define({"name": "loss", "summary": ["best"], "goal": "minimize"})
    logged(
        {"acc": 0.2, "loss": 2}, {"acc": 0.9, "loss": 1}, {"acc": 0.5, "loss": 3}, summary=summary
    )
    assert summary.view()["acc"] == {"best": 0.9}
    assert summary.view()["loss"] == {"best": 1}


def test_summary_none_removes_the_key_from_the_summary():
    summary = SummaryState()
    summary.define({"name": "noisy", "summary": ["none"]})
    logged({"noisy": 1, "kept": 2}, summary=summary)
    assert summary.view() == {"kept": 2}


def test_min_max_and_mean_ignore_non_numeric_values():
    summary = SummaryState()
    summary.define({"name": "m", "summary": ["min", "max", "mean", "last"]})
    logged({"m": 2}, {"m": "n/a"}, {"m": math.nan}, {"m": 4}, summary=summary)
    assert summary.view()["m"] == {"min": 2, "max": 4, "mean": 3.0, "last": 4}


def test_a_glob_definition_applies_to_every_matching_key_and_no_other():
    summary = SummaryState()
    summary.define({"name": "val/*", "summary": ["max"]})
    logged(
        {"val/acc": 0.1, "val/loss": 2.0, "train/acc": 0.3, "val.acc": 5},
        {"val/acc": 0.4, "val/loss": 1.0, "train/acc": 0.2, "val.acc": 1},
        summary=summary,
    )
    view = summary.view()
    assert view["val/acc"] == {"max": 0.4}
    assert view["val/loss"] == {"max": 2.0}
    assert view["train/acc"] == 0.2
    assert view["val.acc"] == 1  # nested keys are flattened with "." and don't match "val/"


def test_globs_never_match_keys_starting_with_an_underscore():
    summary = SummaryState()
    summary.define({"name": "*", "summary": ["max"]})
    logged({"_custom": 5, "x": 5}, {"_custom": 1, "x": 1}, summary=summary)
    view = summary.view()
    assert view["_custom"] == 1
    assert view["x"] == {"max": 5}


def test_an_exact_definition_wins_over_a_glob_and_a_longer_glob_over_a_shorter_one():
    summary = SummaryState()
    summary.define({"name": "val/*", "summary": ["max"]})
    summary.define({"name": "val/loss*", "summary": ["min"]})
    summary.define({"name": "val/acc", "summary": ["first"]})
    logged({"val/acc": 1, "val/loss": 2, "val/f1": 3}, summary=summary)
    logged({"val/acc": 4, "val/loss": 5, "val/f1": 6}, summary=summary)
    view = summary.view()
    assert view["val/acc"] == {"first": 1}
    assert view["val/loss"] == {"min": 2}
    assert view["val/f1"] == {"max": 6}


def test_a_redefinition_merges_unless_it_overwrites_and_aggregates_keep_counting():
    summary = SummaryState()
    summary.define({"name": "loss", "summary": ["min"]})
    logged({"loss": 3}, {"loss": 1}, summary=summary)
    summary.define({"name": "loss", "summary": ["max"]})
    assert summary.view()["loss"] == {"min": 1, "max": 3}
    summary.define({"name": "loss", "summary": ["mean"], "overwrite": True})
    logged({"loss": 2}, summary=summary)
    assert summary.view()["loss"] == {"mean": 2.0}  # (3 + 1 + 2) / 3: earlier values counted


def test_a_manual_value_wins_until_the_key_is_logged_again():
    summary = SummaryState()
    summary.define({"name": "acc", "summary": ["max"]})
    logged({"acc": 0.5}, {"acc": 0.7}, summary=summary)
    summary.set({"acc": 42, "note": {"nested": True}}, [])
    assert summary.view()["acc"] == 42
    assert summary.view()["note"] == {"nested": True}  # a key never logged can be set
    logged({"acc": 0.1}, summary=summary)
    assert summary.view()["acc"] == {"max": 0.7}  # the definition applies again, values kept
    assert summary.view()["note"] == {"nested": True}


def test_a_manual_value_overrides_a_plain_last_value():
    summary = logged({"a": 1})
    summary.set({"a": "manual"}, [])
    logged({"b": 2}, summary=summary)  # another key logged leaves it alone
    assert summary.view() == {"a": "manual", "b": 2}
    logged({"a": 3}, summary=summary)
    assert summary.view()["a"] == 3


def test_a_removed_key_is_gone_until_it_is_logged_again():
    summary = logged({"a": 1, "b": 2})
    summary.set({"c": 3}, [])
    summary.set({}, ["a", "c"])
    assert summary.view() == {"b": 2}
    logged({"a": 5}, summary=summary)
    assert summary.view() == {"a": 5, "b": 2}


def test_the_summary_state_survives_a_json_round_trip_as_a_takeover_does():
    before = SummaryState()
    before.define({"name": "val/*", "summary": ["max"]})
    before.define({"name": "loss", "summary": ["min", "mean"]})
    logged({"loss": 3, "val/acc": 0.1, "x": 1}, {"loss": 1, "val/acc": 0.3, "x": 2}, summary=before)
    before.set({"note": "hi"}, ["x"])

    after = SummaryState.from_state(json.loads(json.dumps(before.to_state())))
    assert after.view() == before.view()
    assert after.view()["loss"] == {"min": 1, "mean": 2.0}

    # and it goes on as the first one would have: aggregates, globs, removals
    for state in (before, after):
        logged({"loss": 2, "val/acc": 0.9, "val/f1": 0.5, "x": 7}, summary=state)
    assert after.view() == before.view()
    assert after.view()["loss"] == {"min": 1, "mean": 2.0}
    assert after.view()["val/f1"] == {"max": 0.5}
    assert after.view()["x"] == 7


def test_an_empty_state_gives_an_empty_summary_that_keeps_last_values():
    summary = SummaryState.from_state(None)
    assert summary.view() == {}
    logged({"a": 1}, summary=summary)
    assert summary.view() == {"a": 1}


def test_defining_a_metric_after_it_was_logged_keeps_its_last_value():
    """Regression: the entry became ``{}`` until the key was logged again."""
    summary = logged({"acc": 1, "loss": 3.0, "val/x": 5})
    summary.define({"name": "acc", "summary": ["last"]})
    summary.define({"name": "loss", "summary": ["min"]})
    summary.define({"name": "val/*", "summary": ["max"]})
    assert summary.view() == {"acc": {"last": 1}, "loss": {"min": 3.0}, "val/x": {"max": 5}}
    summary.update({"loss": 4.0, "acc": 2})
    assert summary.view()["loss"] == {"min": 3.0} and summary.view()["acc"] == {"last": 2}


# -- file syncer: save policies (§4.5) -----------------------------------------------------

ENTITY, PROJECT, RUN_ID = "tester", "proj", "run1"


def key(name: str) -> str:
    return file_key(ENTITY, PROJECT, RUN_ID, name)


class Files:
    """A file syncer over a real copier thread and a real local blob store."""

    def __init__(self, tmp_path, live_interval: float) -> None:
        self.run_dir = tmp_path / "run"
        (self.run_dir / "files").mkdir(parents=True)
        self.src = tmp_path / "src"
        self.src.mkdir()
        self.store = open_store(str(tmp_path / "unit-store"))
        self.copier = Copier()
        self.records: list[dict] = []
        self.logs: list[str] = []
        self.syncer = FileSyncer(
            str(self.run_dir),
            self.copier,
            self.store.blobs,
            key,
            self.records.extend,
            self.logs.append,
            live_interval,
        )

    def write(self, name: str, data: bytes) -> str:
        path = self.src / name
        path.write_bytes(data)
        return str(path)

    def save(self, policy: str, *names: str) -> None:
        self.syncer.add({"policy": policy, "files": [[n, str(self.src / n)] for n in names]})

    def settle(self) -> None:
        """Run the callbacks of every copy submitted so far, on this (the owner's) thread."""
        copier = self.copier
        wait_until(lambda: (copier.run_completed(), copier.pending == 0)[1], timeout=5)

    def finish(self) -> None:
        self.syncer.begin_finish()
        syncer, copier = self.syncer, self.copier
        wait_until(lambda: (copier.run_completed(), syncer.idle)[1], timeout=5)

    def stored(self, name: str) -> bytes | None:
        if not self.store.blobs.exists(key(name)):
            return None
        with self.store.blobs.open(key(name)) as fh:
            return fh.read()

    def close(self) -> None:
        self.copier.stop(5)
        self.store.close()


@pytest.fixture
def files(tmp_path):
    made: list[Files] = []

    def make(live_interval: float = 50.0) -> Files:
        made.append(Files(tmp_path, live_interval))
        return made[-1]

    yield make
    for f in made:
        f.close()


def test_a_now_file_is_copied_at_once_and_only_once(files):
    f = files()
    f.write("model.txt", b"v1")
    f.save("now", "model.txt")  # no tick: the copy starts when the request arrives
    f.settle()
    assert f.stored("model.txt") == b"v1"
    assert f.records == [
        {
            "name": "model.txt",
            "size": 2,
            "md5": hashlib.md5(b"v1").hexdigest(),
            "updated_at": f.records[0]["updated_at"],
            "policy": "now",
        }
    ]

    f.write("model.txt", b"version 2")  # later edits do not change what was synced
    f.syncer.tick(time.monotonic() + 1000)
    f.finish()
    assert f.stored("model.txt") == b"v1"
    assert f.syncer.copies == 1 and len(f.records) == 1


def test_a_live_file_is_copied_when_it_changes_but_at_most_once_per_interval(files):
    f = files(live_interval=50.0)
    f.write("log.txt", b"a")
    f.save("live", "log.txt")
    assert f.copier.submitted == 0  # a live file waits for the housekeeping tick
    t0 = time.monotonic()
    f.syncer.tick(t0)
    f.settle()
    assert f.stored("log.txt") == b"a"

    f.write("log.txt", b"ab")
    f.syncer.tick(t0 + 1)  # changed, but within live_interval of the last copy
    f.settle()
    assert f.copier.submitted == 1 and f.stored("log.txt") == b"a"

    f.syncer.tick(t0 + 60)  # the interval has passed
    f.settle()
    assert f.stored("log.txt") == b"ab"
    assert f.syncer.copies == 2
    assert [r["size"] for r in f.records] == [1, 2]


def test_an_unchanged_live_file_is_not_copied_again(files):
    f = files(live_interval=1.0)
    f.write("log.txt", b"same")
    f.save("live", "log.txt")
    t0 = time.monotonic()
    f.syncer.tick(t0)
    f.settle()
    f.syncer.tick(t0 + 100)
    f.syncer.tick(t0 + 200)
    f.settle()
    f.finish()
    assert f.copier.submitted == 1 and f.syncer.copies == 1


def test_a_live_file_changed_since_its_last_copy_is_copied_once_more_at_finish(files):
    f = files(live_interval=50.0)
    f.write("log.txt", b"first")
    f.save("live", "log.txt")
    t0 = time.monotonic()
    f.syncer.tick(t0)
    f.settle()
    f.write("log.txt", b"final content")
    f.syncer.tick(t0 + 1)  # debounced
    f.settle()
    assert f.stored("log.txt") == b"first"
    f.finish()
    assert f.stored("log.txt") == b"final content"
    assert f.syncer.copies == 2


def test_an_end_file_is_copied_only_at_finish(files):
    f = files(live_interval=0.0)
    f.write("result.txt", b"partial")
    f.save("end", "result.txt")
    t0 = time.monotonic()
    f.syncer.tick(t0)
    f.syncer.tick(t0 + 1000)
    f.settle()
    assert f.copier.submitted == 0 and f.stored("result.txt") is None
    f.write("result.txt", b"complete")
    f.finish()
    assert f.stored("result.txt") == b"complete"
    assert [(r["name"], r["policy"]) for r in f.records] == [("result.txt", "end")]


def test_a_missing_now_file_is_reported_in_errors_never_raised(files):
    f = files()
    f.save("now", "ghost.txt")  # no such file
    assert f.copier.submitted == 0
    (error,) = f.syncer.errors()
    assert error.startswith("ghost.txt: ") and "missing" in error
    assert len(f.logs) == 1 and "ghost.txt" in f.logs[0]
    f.finish()  # reported again at finish, and the finish still completes
    assert f.stored("ghost.txt") is None
    assert "at finish" in f.syncer.errors()[0]


def test_a_missing_live_or_end_file_is_reported_and_the_finish_still_completes(files):
    f = files()
    f.save("live", "gone-live.txt")
    f.save("end", "gone-end.txt")
    f.syncer.tick(time.monotonic())  # the live one is stat'ed here
    assert [e.split(":")[0] for e in f.syncer.errors()] == ["gone-live.txt"]
    f.finish()
    assert sorted(e.split(":")[0] for e in f.syncer.errors()) == ["gone-end.txt", "gone-live.txt"]
    assert f.copier.submitted == 0


def test_a_live_file_that_appears_later_is_copied_and_its_error_cleared(files):
    f = files()
    f.save("live", "late.txt")
    t0 = time.monotonic()
    f.syncer.tick(t0)
    assert f.syncer.errors()
    f.write("late.txt", b"here now")
    f.syncer.tick(t0 + 1)  # never copied yet, so no debounce
    f.settle()
    assert f.stored("late.txt") == b"here now"
    assert f.syncer.errors() == []


def test_a_name_that_climbs_out_of_the_run_files_is_reported_not_copied(files):
    f = files()
    f.write("x.txt", b"x")
    f.syncer.add({"policy": "now", "files": [["../escape.txt", str(f.src / "x.txt")]]})
    assert f.copier.submitted == 0
    (error,) = f.syncer.errors()
    assert error.startswith("../escape.txt: ")
    assert f.store.blobs.list(f"runs/{ENTITY}/") == []


def test_pending_counts_files_not_yet_copied_by_policy(files):
    f = files(live_interval=50.0)
    for name in ("n.txt", "l.txt", "e.txt"):
        f.write(name, b"1")
    f.save("now", "n.txt")
    f.save("live", "l.txt")
    f.save("end", "e.txt")
    assert f.syncer.pending() == {"now": 1, "live": 1, "end": 1}
    f.settle()
    assert f.syncer.pending() == {"now": 0, "live": 1, "end": 1}
    t0 = time.monotonic()
    f.syncer.tick(t0)
    f.settle()
    assert f.syncer.pending() == {"now": 0, "live": 0, "end": 1}
    f.write("l.txt", b"22")  # changed since its copy: pending again
    assert f.syncer.pending() == {"now": 0, "live": 1, "end": 1}
    f.finish()
    assert f.syncer.pending() == {"now": 0, "live": 0, "end": 0}


def test_at_finish_links_in_files_are_replaced_by_the_final_content(files):
    f = files()
    src = f.write("ckpt.txt", b"epoch 1")
    link = f.run_dir / "files" / "ckpt.txt"
    os.symlink(src, link)
    f.save("live", "ckpt.txt")
    f.syncer.tick(time.monotonic())
    f.settle()
    f.write("ckpt.txt", b"epoch 2 (final)")
    f.finish()
    f.syncer.finalize_links()
    assert not link.is_symlink()
    assert link.read_bytes() == b"epoch 2 (final)"
    f.write("ckpt.txt", b"rewritten after the run")  # the user's file, not the run's
    assert link.read_bytes() == b"epoch 2 (final)"
    assert f.stored("ckpt.txt") == b"epoch 2 (final)"
