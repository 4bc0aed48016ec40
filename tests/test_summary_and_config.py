"""Summary (§4.3, §4.4) and config, through the real sidecar and read back with the Api."""

import pytest
import tracker


def stored(run):
    return tracker.Api().run(run.path)


def test_summary_holds_the_last_value_of_every_key():
    run = tracker.init(project="sum")
    run.log({"a": 1, "b": "x"})
    run.log({"a": 2})
    assert run.summary["a"] == 2 and run.summary["b"] == "x"
    run.finish()
    s = stored(run).summary
    assert s["a"] == 2 and s["b"] == "x" and s["_step"] == 1


def test_summary_read_during_the_run_sees_only_committed_rows():
    run = tracker.init(project="sum")
    run.log({"a": 100})
    run.log({"a": 200}, commit=False)
    assert run.summary["a"] == 100


def test_manual_override_is_kept_until_the_key_is_logged_again():
    run = tracker.init(project="sum")
    run.define_metric("acc", summary="max")
    run.log({"acc": 0.5})
    run.summary["acc"] = 42
    run.summary.update({"extra": {"nested": 1}})
    assert run.summary["acc"] == 42
    assert run.summary["extra"] == {"nested": 1}
    run.log({"acc": 0.1})
    # logged again: the definition applies again, and max kept counting meanwhile
    assert run.summary["acc"] == {"max": 0.5}
    del run.summary["extra"]
    assert "extra" not in run.summary
    run.finish()
    assert stored(run).summary["acc"] == {"max": 0.5}
    assert "extra" not in stored(run).summary


def test_every_aggregation():
    run = tracker.init(project="sum")
    run.define_metric("loss", summary="min,max,mean,first,last,best", goal="minimize")
    run.define_metric("acc", summary="best,copy", goal="maximize")
    run.define_metric("hidden_one", summary="none")
    for loss, acc in ((3.0, 0.1), (1.0, 0.7), (2.0, 0.4)):
        run.log({"loss": loss, "acc": acc, "hidden_one": 1})
    run.finish()
    s = stored(run).summary
    assert s["loss"] == {
        "min": 1.0,
        "max": 3.0,
        "mean": 2.0,
        "first": 3.0,
        "last": 2.0,
        "best": 1.0,
    }
    assert s["acc"] == {"best": 0.7, "last": 0.4}
    assert "hidden_one" not in s


def test_single_op_still_gives_a_dict_and_ops_are_case_insensitive():
    run = tracker.init(project="sum")
    run.define_metric("x", summary="MAX")
    run.log({"x": 1})
    run.log({"x": 5})
    assert run.summary["x"] == {"max": 5}


def test_min_max_mean_ignore_non_numeric_values():
    run = tracker.init(project="sum")
    run.define_metric("v", summary="min,max,mean,last")
    for v in (2, "skip", 4):
        run.log({"v": v})
    assert run.summary["v"] == {"min": 2, "max": 4, "mean": 3.0, "last": 4}


def test_definitions_merge_unless_overwrite():
    run = tracker.init(project="sum")
    run.define_metric("m", summary="min")
    merged = run.define_metric("m", summary="max")
    assert set(merged.summary) == {"min", "max"}
    run.log({"m": 1})
    run.log({"m": 3})
    assert run.summary["m"] == {"min": 1, "max": 3}
    replaced = run.define_metric("m", summary="mean", overwrite=True)
    assert replaced.summary == ("mean",)
    run.log({"m": 5})
    assert run.summary["m"] == {"mean": 3.0}  # the accumulators kept counting


def test_glob_definitions_match_flattened_keys_but_not_underscore_keys():
    run = tracker.init(project="sum")
    run.define_metric("train/*", summary="max")
    run.define_metric("nest.*", summary="min")
    run.define_metric("_*", summary="max")
    run.log({"train/loss": 1, "train/acc": 0.5, "nest": {"x": 3}, "_private": 1, "other": 2})
    run.log({"train/loss": 2, "train/acc": 0.2, "nest": {"x": 1}, "_private": 5, "other": 1})
    s = run.summary
    assert s["train/loss"] == {"max": 2} and s["train/acc"] == {"max": 0.5}
    assert s["nest.x"] == {"min": 1}
    assert s["_private"] == 5 and s["other"] == 1


def test_longest_glob_wins():
    run = tracker.init(project="sum")
    run.define_metric("g*", summary="min")
    run.define_metric("ga*", summary="max")
    run.log({"gab": 1})
    run.log({"gab": 2})
    assert run.summary["gab"] == {"max": 2}


def test_step_sync_fills_in_the_latest_step_metric():
    run = tracker.init(project="sum")
    m = run.define_metric("val/*", step_metric="epoch")
    assert m.step_sync is True
    run.log({"epoch": 1, "val/acc": 0.1})
    run.log({"train/loss": 3})
    run.log({"val/acc": 0.2})
    run.log({"epoch": 2})
    run.log({"val/acc": 0.3})
    run.define_metric("nosync", step_metric="epoch", step_sync=False)
    run.log({"nosync": 1})
    run.finish()
    rows = list(stored(run).scan_history())
    assert [(r.get("val/acc"), r.get("epoch")) for r in rows if "val/acc" in r] == [
        (0.1, 1),
        (0.2, 1),
        (0.3, 2),
    ]
    assert "epoch" not in rows[1]  # train/loss has no step metric
    assert "epoch" not in rows[-1]  # step_sync=False


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": ""}, "non-empty"),
        ({"name": "a*b"}, "last character"),
        ({"name": "x", "summary": "median"}, "median"),
        ({"name": "x", "goal": "up"}, "goal"),
        ({"name": "x", "step_sync": "yes"}, "step_sync"),
    ],
)
def test_define_metric_bad_arguments_raise_tracker_error(kwargs, message):
    run = tracker.init(project="sum")
    with pytest.raises(tracker.Error, match=message):
        run.define_metric(**kwargs)


def test_config_access_update_and_allow_val_change():
    run = tracker.init(project="cfg", config={"lr": 0.1, "layers": [1, 2]})
    assert run.config.lr == 0.1 and run.config["layers"] == [1, 2]
    run.config.batch = 32
    run.config["opt"] = {"name": "adam"}
    run.config.update({"lr": 0.1})  # same value: fine
    with pytest.raises(tracker.Error, match="'lr'"):
        run.config.update({"lr": 0.2})
    with pytest.raises(tracker.Error, match="allow_val_change"):
        run.config.lr = 0.3
    run.config.update({"lr": 0.2}, allow_val_change=True)
    assert run.config.lr == 0.2
    run.finish()
    cfg = stored(run).config
    assert cfg == {"lr": 0.2, "layers": [1, 2], "batch": 32, "opt": {"name": "adam"}}
    text = open(f"{run.sync_dir}/files/config.yaml").read()
    assert '"lr":\n  value: 0.2' in text


def test_config_from_argparse_namespace():
    import argparse

    ns = argparse.Namespace(lr=0.01, epochs=3)
    run = tracker.init(project="cfg", config=ns)
    assert dict(run.config) == {"lr": 0.01, "epochs": 3}


def test_module_shortcuts_need_an_active_run():
    with pytest.raises(tracker.Error, match="tracker.init"):
        tracker.log({"a": 1})
    # a placeholder before init (§3): reading through it raises
    with pytest.raises(tracker.Error, match="tracker.init"):
        tracker.config["k"]
    with pytest.raises(tracker.Error, match="tracker.init"):
        tracker.summary["a"]
    with pytest.raises(tracker.Error, match="tracker.init"):
        tracker.define_metric("x")
    tracker.finish()  # no active run: nothing happens
    run = tracker.init(project="mod")
    assert tracker.run is run
    tracker.log({"a": 1})
    tracker.config.update({"k": 1})
    assert tracker.summary["a"] == 1
    tracker.finish()
    assert tracker.run is None
