"""What a W&B user types every day works unchanged with ``import tracker as wandb`` (issue 13).

One test (or a few) per point of the issue: summary attributes, define_metric, run.dir,
save/restore, init arguments, W&B setting names, module-level names. Real sidecar, real store.
"""

from __future__ import annotations

import os
import warnings

import pytest
import tracker
import tracker as wandb
from conftest import wait_until
from tracker.settings import resolve_settings


# -- 1. summary attribute assignment ----------------------------------------------------------
def test_summary_attribute_assignment_is_an_item_and_reaches_the_store(api):
    run = wandb.init(project="compat")
    run.log({"acc": 0.5})
    run.summary.best_acc = 0.97
    assert "best_acc" in run.summary and run.summary["best_acc"] == 0.97
    assert run.summary.best_acc == 0.97
    del run.summary.best_acc
    assert "best_acc" not in run.summary
    run.summary.best_acc = 0.98
    run.finish()
    assert api.run(run.path).summary["best_acc"] == 0.98


# -- 2. define_metric after the key was logged ------------------------------------------------
def test_define_metric_after_logging_keeps_the_last_value_until_new_values_arrive(api):
    run = wandb.init(project="compat")
    run.log({"loss": 0.5})
    run.log({"loss": 0.3})
    run.define_metric("loss", summary="min")
    assert run.summary["loss"] == {"min": 0.3}  # what is known: the last value
    run.log({"loss": 0.4})
    assert run.summary["loss"] == {"min": 0.3}
    run.log({"loss": 0.1})
    run.finish()
    assert api.run(run.path).summary["loss"] == {"min": 0.1}


# -- 3. step_metric given as a Metric ---------------------------------------------------------
def test_define_metric_takes_a_metric_object_as_step_metric(api):
    run = wandb.init(project="compat")
    epoch = run.define_metric("epoch")
    acc = run.define_metric("val_acc", step_metric=epoch, some_future_option=1)
    assert acc.step_metric == "epoch" and acc.step_sync is True
    run.log({"epoch": 1})
    run.log({"val_acc": 0.5})
    run.finish()
    rows = [r for r in api.run(run.path).scan_history() if "val_acc" in r]
    assert rows[0]["epoch"] == 1  # step_sync filled it in
    debug = open(os.path.join(run.sync_dir, "logs", "debug.log")).read()
    assert "some_future_option" in debug


# -- 4. run.dir is the files folder -----------------------------------------------------------
def test_files_written_in_run_dir_are_synced_at_finish_without_save(api):
    run = wandb.init(project="compat")
    assert run.dir == os.path.join(run.sync_dir, "files")
    with open(os.path.join(run.dir, "model.pt"), "wb") as fh:
        fh.write(b"weights")
    os.makedirs(os.path.join(run.dir, "ckpt"))
    with open(os.path.join(run.dir, "ckpt", "epoch1.pt"), "w") as fh:
        fh.write("e1")
    run.finish()
    stored = api.run(run.path)
    names = {f.name for f in stored.files()}
    assert {"model.pt", "ckpt/epoch1.pt"} <= names
    dest = stored.file("model.pt").download(root=str(os.path.join(os.getcwd(), "dl")))
    assert dest.read() == "weights"


def test_save_of_a_file_in_run_dir_keeps_its_name_there(api):
    run = wandb.init(project="compat")
    path = os.path.join(run.dir, "model.h5")
    with open(path, "w") as fh:
        fh.write("h5")
    created = run.save(path)
    assert created == [path] and not os.path.islink(path)
    wandb.save(os.path.join(run.dir, "*.h5"), policy="now")
    run.finish()
    names = {f.name for f in api.run(run.path).files()}
    assert "model.h5" in names
    assert not any(os.path.basename(run.sync_dir) in n or n.startswith("files/") for n in names)


# -- 5. restore right after save --------------------------------------------------------------
def test_restore_right_after_save_reads_the_runs_own_file(tracker_env, tmp_path):
    run = wandb.init(project="compat")
    with open("ckpt.pt", "w") as fh:
        fh.write("v1")
    wandb.save("ckpt.pt", policy="end")
    assert wandb.restore("ckpt.pt").read() == "v1"  # before any copy to the store
    other = wandb.restore("ckpt.pt", root=str(tmp_path))
    assert other.read() == "v1" and other.name == str(tmp_path / "ckpt.pt")
    run.finish()


# -- 7. init arguments W&B accepts ------------------------------------------------------------
def test_init_accepts_every_wandb_argument(api):
    run = wandb.init(
        project="compat",
        magic=True,
        anonymous="allow",
        force=False,
        sync_tensorboard=False,
        tensorboard=False,
        monitor_gym=False,
        resume_from=None,
        config={"lr": 0.1, "secret": "x", "batch": 8},
        config_exclude_keys=["secret"],
        allow_val_change=True,
    )
    assert dict(run.config) == {"lr": 0.1, "batch": 8}
    run.config.lr = 0.2  # allow_val_change=True at init
    assert run.config.lr == 0.2
    debug = open(os.path.join(run.sync_dir, "logs", "debug.log")).read()
    assert "'magic'" in debug and "'monitor_gym'" in debug
    run.finish()
    assert api.run(run.path).config == {"lr": 0.2, "batch": 8}
    with pytest.raises(TypeError, match="no_such_argument"):
        wandb.init(project="compat", no_such_argument=1)


def test_config_include_keys_and_a_yaml_config_file(api, tracker_env):
    with open("params.yaml", "w") as fh:
        fh.write(
            "wandb_version: 1\nlr:\n  desc: learning rate\n  value: 0.01\nepochs: 3\nopt: adam\n"
        )
    run = wandb.init(project="compat", config="params.yaml", config_include_keys=["lr", "epochs"])
    assert dict(run.config) == {"lr": 0.01, "epochs": 3}
    run.finish()
    with pytest.raises(tracker.Error, match="missing.yaml"):
        wandb.init(project="compat", config="missing.yaml")
    with pytest.raises(tracker.Error, match="not both"):
        wandb.init(project="compat", config_include_keys=["a"], config_exclude_keys=["b"])


def test_resume_true_resumes_the_folders_unfinished_run(run_script, api):
    crash = run_script(
        """
        import os, tracker as wandb
        run = wandb.init(project="compat", resume=True)
        run.log({"x": 1})
        run.log({"x": 2})
        while run.status().last_step_committed < 1:  # the sidecar has both rows
            pass
        print(run.id, flush=True)
        os._exit(3)  # dies without finishing
        """,
        check=False,
    )
    first_id = crash.stdout.strip()
    wait_until(lambda: api.run(f"tester/compat/{first_id}").state == "crashed", timeout=30)
    again = run_script(
        """
        import tracker as wandb
        run = wandb.init(project="compat", resume="auto")
        print(run.id, run.resumed, run.starting_step)
        run.log({"x": 3})
        run.finish()
        run2 = wandb.init(project="compat", resume=True)
        print(run2.id, run2.resumed)
        run2.finish()
        """,
        check=True,
    )
    line1, line2 = again.stdout.split("\n")[:2]
    assert line1 == f"{first_id} True 2"
    new_id, resumed = line2.split()
    assert new_id != first_id and resumed == "False"  # a clean finish forgets it


def test_fork_from_starts_with_the_other_runs_history_up_to_a_step(api):
    src = wandb.init(project="compat", id="source")
    for i in range(6):
        src.log({"loss": 1.0 / (i + 1)})
    src.finish()
    fork = wandb.init(project="compat", fork_from="source?_step=2", reinit="finish_previous")
    assert fork.id != "source" and fork.step == 3
    fork.log({"loss": 0.01})
    fork.finish()
    rows = list(api.run(fork.path).scan_history())
    assert [(r["_step"], r["loss"]) for r in rows] == [(0, 1.0), (1, 0.5), (2, 1 / 3), (3, 0.01)]
    with pytest.raises(tracker.Error, match="fork_from"):
        wandb.init(project="compat", fork_from="source@2")


def test_save_code_saves_the_main_script(run_script, api, tracker_env):
    proc = run_script(
        """
        import tracker as wandb
        run = wandb.init(project="compat", save_code=True)
        run.finish()
        print(run.path)
        """,
        check=True,
    )
    names = {f.name for f in api.run(proc.stdout.strip()).files()}
    assert any(n.startswith("code/") and n.endswith(".py") for n in names), names


def test_reinit_and_mode_take_wandbs_spellings(tracker_env):
    a = wandb.init(project="compat", mode="dryrun")
    assert a.mode == "offline"
    assert wandb.init(project="compat", reinit="return_previous") is a
    b = wandb.init(project="compat", reinit="create_new", mode="disabled")
    assert b is not a and a._finished


# -- 8. W&B setting names ---------------------------------------------------------------------
def test_settings_take_wandb_names():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = wandb.Settings(x_disable_stats=True, init_timeout=12, start_method="thread")
        wandb.Settings(start_method="fork")
    assert s.system_sample_interval == 0 and s.init_timeout == 12.0
    assert [str(w.message) for w in caught if "start_method" in str(w.message)] == [
        "tracker.Settings: W&B setting 'start_method' has no meaning in tracker and is ignored"
    ]
    assert wandb.Settings(x_stats_sampling_interval=5).system_sample_interval == 5.0
    assert wandb.Settings(console="wrap").console == "redirect"
    with pytest.raises(TypeError):
        wandb.Settings(no_such_setting=1)
    with pytest.raises(tracker.Error, match="no_such_setting"):
        resolve_settings({"no_such_setting": 1})
    assert resolve_settings({"x_disable_stats": True}).system_sample_interval == 0


def test_settings_init_names_fill_init_arguments(tracker_env):
    settings = wandb.Settings(mode="offline", project="from-settings", run_name="nm", run_id="sid1")
    run = wandb.init(settings=settings)
    assert (run.mode, run.project, run.name, run.id) == ("offline", "from-settings", "nm", "sid1")
    run.finish()
    run = wandb.init(project="given", settings={"project": "ignored", "mode": "disabled"})
    assert run.project == "given" and run.disabled


# -- 9. module-level names --------------------------------------------------------------------
def test_module_level_names_of_wandb(capsys, monkeypatch):
    assert wandb.login() is True and wandb.login(key="x", relogin=True) is True
    assert wandb.setup() is None and wandb.require("core") is None
    monkeypatch.delenv("TRACKER_SILENT")
    wandb.termlog("hello")
    wandb.termwarn("careful")
    assert capsys.readouterr().err == "tracker: hello\ntracker: WARNING careful\n"
    assert issubclass(wandb.CommError, wandb.Error) and issubclass(wandb.UsageError, wandb.Error)
    from tracker.api.public_run import Run as PublicRun

    assert wandb.apis.public.Run is PublicRun
    assert hasattr(wandb, "config") and "config" in dir(wandb)
    with pytest.raises(wandb.Error, match="init"):
        wandb.config.update({"a": 1})


# -- 6. None and changing types ---------------------------------------------------------------
def test_a_logged_none_is_kept_as_null_and_each_value_keeps_its_type(api):
    run = wandb.init(project="compat")
    run.log({"a": 1, "b": None})
    run.log({"a": "x", "c": 2})
    run.log({"a": 2.5, "b": 3})
    run.log({"a": True, "b": None, "d": [1, "two"]})
    run.finish()
    rows = [
        {k: v for k, v in r.items() if not k.startswith("_")}
        for r in api.run(run.path).scan_history()
    ]
    assert rows == [
        {"a": 1, "b": None},
        {"a": "x", "c": 2},
        {"a": 2.5, "b": 3},
        {"a": True, "b": None, "d": [1, "two"]},
    ]
    assert [type(r["a"]) for r in rows] == [int, str, float, bool]
    hist = api.run(run.path).history(keys=["b"], pandas=False)
    assert [r.get("b", "absent") for r in hist] == [None, 3, None]


def test_types_that_change_between_history_parts_read_back_and_compact_alike():
    from tracker.service.export import build_table
    from tracker.store.tables import combine, conform, plain_rows, unify_schemas

    parts = [
        build_table([{"_step": 0, "a": 1, "s": "1"}, {"_step": 1, "a": 2, "s": None}]),
        build_table([{"_step": 2, "a": "two", "s": "x"}]),
        build_table([{"_step": 3, "a": 3.5, "s": 5}]),
    ]
    expected = [
        {"_step": 0, "a": 1, "s": "1"},
        {"_step": 1, "a": 2, "s": None},
        {"_step": 2, "a": "two", "s": "x"},
        {"_step": 3, "a": 3.5, "s": 5},
    ]
    assert plain_rows(combine(parts)) == expected
    schema = unify_schemas(p.schema for p in parts)
    compacted = combine([conform(p, schema) for p in parts])  # as compaction writes it
    assert plain_rows(combine([compacted])) == expected


# -- 10. the read side ------------------------------------------------------------------------
@pytest.fixture
def five_runs(api):
    made = []
    for i in range(5):
        run = wandb.init(
            project="reads",
            name=f"bert-{i}" if i % 2 else f"gpt-{i}",
            config={"lr": 0.1 * (i + 1)},
            tags=["even"] if i % 2 == 0 else ["odd"],
            reinit=True,
        )
        run.log({"loss": 1.0 / (i + 1)})
        if i < 3:
            run.log({"acc": i})
        run.finish(exit_code=1 if i == 4 else 0)
        made.append(run.id)
    return made


def test_runs_is_lazy_and_paginated(api, five_runs):
    loads = []
    found_store = api.store.catalogue.find_runs

    def counting(**kwargs):
        loads.append(kwargs)
        return found_store(**kwargs)

    api._store.catalogue.find_runs = counting
    runs = api.runs("reads", per_page=2, order="+created_at")
    assert loads == [] and runs.pages_loaded == 0  # nothing read yet
    assert len(runs) == 5 and runs.length == 5 and len(loads) == 1
    assert runs[0].id == five_runs[0] and runs.pages_loaded == 1
    assert runs[-1].id == five_runs[-1] and runs.pages_loaded == 3
    assert [r.id for r in runs] == five_runs and [r.id for r in runs[1:3]] == five_runs[1:3]
    assert len(loads) == 1  # one catalogue read for every page
    with pytest.raises(IndexError):
        runs[5]
    with pytest.raises(ValueError, match="per_page"):
        api.runs("reads", per_page=0)


def test_runs_histories(api, five_runs):
    runs = api.runs("reads", order="+created_at")
    rows = runs.histories(samples=10, keys=["loss"])
    assert [(r["run_id"], r["loss"]) for r in rows] == [
        (rid, 1.0 / (i + 1)) for i, rid in enumerate(five_runs)
    ]
    frame = runs.histories(keys=["acc"], format="pandas")
    assert list(frame["run_id"]) == five_runs[:3] and list(frame["acc"]) == [0, 1, 2]
    with pytest.raises(ValueError, match="format"):
        runs.histories(format="csv")


def test_runs_filters_of_wandb(api, five_runs):
    def ids(filters):
        return [r.id for r in api.runs("reads", filters=filters, order="+created_at")]

    assert ids({"$or": [{"state": "failed"}, {"tags": "odd"}]}) == [
        five_runs[1],
        five_runs[3],
        five_runs[4],
    ]
    assert ids({"$and": [{"tags": "even"}, {"config.lr": {"$gte": 0.3}}]}) == [
        five_runs[2],
        five_runs[4],
    ]
    assert ids({"display_name": {"$regex": "^bert"}}) == [five_runs[1], five_runs[3]]
    assert ids({"config.lr.value": {"$lte": 0.2}}) == five_runs[:2]
    assert ids({"state": {"$nin": ["finished"]}}) == [five_runs[4]]
    assert ids({"summary_metrics.acc": {"$exists": True}}) == five_runs[:3]
    assert ids({"summary_metrics.acc": {"$exists": False}}) == five_runs[3:]
    assert ids({"$nor": [{"tags": "even"}]}) == [five_runs[1], five_runs[3]]
    with pytest.raises(ValueError, match=r"\$near"):
        api.runs("reads", filters={"config.lr": {"$near": 1}})
    with pytest.raises(ValueError, match=r"\$or"):
        api.runs("reads", filters={"$or": {"state": "failed"}})


def test_api_arguments_projects_and_flush(tracker_env, five_runs):
    api = wandb.Api(overrides={"entity": "tester", "project": "reads"}, timeout=19)
    assert api.default_project == "reads" and api.timeout == 19
    assert len(api.runs()) == 5
    assert [p.name for p in api.projects()] == ["reads"]
    assert len(api.projects()[0].runs()) == 5
    assert api.flush() is None


def test_public_run_names_of_wandb(api, five_runs):
    run = api.run(f"reads/{five_runs[0]}")
    assert run.username == "tester" and run.project_internal_id == "tester/reads"
    assert run.snake_to_camel("created_at_time") == "createdAtTime"
    same = wandb.apis.public.Run(api, "tester", "reads", five_runs[0])
    assert same.id == run.id and same.config == run.config
    with pytest.raises(wandb.Error, match="not found"):
        wandb.apis.public.Run(api, "tester", "reads", "nosuchrun")


def test_history_events_stream_is_the_system_stream(api):
    run = wandb.init(project="reads", settings={"system_sample_interval": 0.2})
    wait_until(lambda: api.run(run.path).system_metrics, timeout=30)  # sampled at least once
    run.finish()
    stored = api.run(run.path)
    events = stored.history(stream="events", pandas=False)
    assert events and events == stored.history(stream="system", pandas=False)


def test_file_attributes_and_delete(api, tracker_env):
    run = wandb.init(project="reads")
    with open(os.path.join(run.dir, "notes.json"), "w") as fh:
        fh.write("{}")
    run.finish()
    stored = api.run(run.path)
    f = stored.file("notes.json")
    assert f.mimetype == "application/json" and f.id == f"tester/reads/{run.id}/notes.json"
    assert f.direct_url == f.url and f.path_uri == f.url
    f.delete()
    assert stored.file("notes.json") is None
    assert "notes.json" not in {x.name for x in stored.files()}


def test_none_and_mixed_types_survive_parts_and_compaction(api):
    run = wandb.init(project="compat")
    for i in range(25_000):  # three history parts of 10,000 rows, compacted at finish
        run.log({"v": i if i < 12_000 else f"s{i}", "n": None if i % 2 else i})
    run.finish()
    assert "compacted" in open(os.path.join(run.sync_dir, "logs", "sidecar.log")).read()
    rows = list(api.run(run.path).scan_history())
    assert len(rows) == 25_000
    assert rows[5]["v"] == 5 and rows[20_000]["v"] == "s20000"
    assert rows[1]["n"] is None and rows[2]["n"] == 2
    assert all(("n" in r) and ("v" in r) for r in rows)


def test_history_keys_of_a_running_run_show_before_its_first_part(api):
    run = wandb.init(project="reads", settings={"system_sample_interval": 0})
    run.log({"loss": 0.5, "acc": 0.1})
    # a part is cut every 10 s or 10,000 rows: the keys (and the UI's charts) come sooner
    keys = wait_until(lambda: api.run(run.path).history_keys["keys"], timeout=5)
    assert {"loss", "acc"} <= set(keys)
    run.finish()
