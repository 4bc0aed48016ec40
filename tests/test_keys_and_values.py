"""Keys (§4.2) and values (§4.1): flattening, reserved keys, and bad input raising in the caller."""

import math

import numpy as np
import pytest
import tracker


def rows_of(run):
    return list(tracker.Api().run(run.path).scan_history())


def test_nested_dicts_flatten_with_dots_and_flat_keys_are_never_split():
    run = tracker.init(project="keys")
    run.log({"train": {"acc": 0.9, "deep": {"x": 1}}, "val/acc": 0.8, "a.b": 5})
    run.log({"a": {"b": 6}})
    run.finish()
    rows = rows_of(run)
    assert rows[0]["train.acc"] == 0.9
    assert rows[0]["train.deep.x"] == 1
    assert rows[0]["val/acc"] == 0.8
    assert [r["a.b"] for r in rows] == [5, 6]  # "a.b" and {"a": {"b"}} are one column


def test_keys_are_case_sensitive():
    run = tracker.init(project="keys")
    run.log({"Loss": 1, "loss": 2})
    run.finish()
    row = rows_of(run)[0]
    assert row["Loss"] == 1 and row["loss"] == 2


@pytest.mark.parametrize("key", ["_step", "_runtime"])
def test_reserved_keys_are_refused(key):
    run = tracker.init(project="keys")
    with pytest.raises(ValueError, match=key):
        run.log({key: 1})
    assert run.step == 0


def test_other_underscore_keys_are_allowed():
    run = tracker.init(project="keys")
    run.log({"_custom": 1})
    run.finish()
    assert rows_of(run)[0]["_custom"] == 1


def test_non_str_top_level_key_raises_type_error():
    run = tracker.init(project="keys")
    with pytest.raises(TypeError, match="keys must be strings"):
        run.log({1: 2})


def test_non_mapping_data_raises_type_error():
    run = tracker.init(project="keys")
    for bad in ([("a", 1)], "a", 3, None):
        with pytest.raises(TypeError, match="mapping"):
            run.log(bad)


def test_unsupported_value_raises_value_error_naming_the_key_and_sends_nothing():
    run = tracker.init(project="keys")
    run.log({"ok": 1})
    with pytest.raises(ValueError, match="'model.weights'"):
        run.log({"fine": 2, "model": {"weights": object()}})
    run.log({"ok": 3})
    run.finish()
    rows = rows_of(run)
    assert [r["ok"] for r in rows] == [1, 3]
    assert all("fine" not in r for r in rows)


def test_values_of_every_supported_kind_round_trip():
    run = tracker.init(project="keys")
    run.log(
        {
            "b": True,
            "i": 7,
            "big": 2**70,
            "f": 0.5,
            "nan": float("nan"),
            "inf": float("inf"),
            "ninf": float("-inf"),
            "s": "hello",
            "none": None,
            "lst": [1, 2, 3],
            "tup": (0.5, 1.5),
            "np_f": np.float32(1.5),
            "np_i": np.int64(3),
            "np_one": np.array([4.0]),
            "np_small": np.arange(4),
            "np_big": np.arange(100),
        }
    )
    run.finish()
    row = rows_of(run)[0]
    assert row["b"] is True and row["i"] == 7 and row["s"] == "hello"
    assert row["big"] == float(2**70)
    assert math.isnan(row["nan"]) and row["inf"] == math.inf and row["ninf"] == -math.inf
    assert "none" in row and row["none"] is None  # a logged None is kept as null, as in W&B
    assert row["lst"] == [1, 2, 3] and row["tup"] == [0.5, 1.5]
    assert row["np_f"] == 1.5 and row["np_i"] == 3 and row["np_one"] == 4.0
    assert row["np_small"] == [0, 1, 2, 3]
    assert row["np_big"]["_type"] == "histogram" and sum(row["np_big"]["values"]) == 100


def test_big_inputs_work():
    run = tracker.init(project="keys")
    wide = {f"k{i}": float(i) for i in range(10_000)}
    run.log(wide)
    run.log({"text": "x" * 1_000_000})
    deep = cur = {}
    for _ in range(50):
        cur["n"] = {}
        cur = cur["n"]
    cur["leaf"] = 1
    run.log(deep)
    run.finish()
    rows = rows_of(run)
    assert rows[0]["k9999"] == 9999.0
    assert len(rows[1]["text"]) == 1_000_000
    assert rows[2][".".join(["n"] * 50) + ".leaf"] == 1


def test_a_key_whose_type_changes_keeps_every_value():
    run = tracker.init(project="keys")
    run.log({"v": 1})
    run.log({"v": "one"})
    run.finish()
    values = [r["v"] for r in rows_of(run)]
    assert [str(v) for v in values] == ["1", "one"]


def test_a_message_over_max_message_bytes_raises_in_the_caller_naming_the_key():
    run = tracker.init(project="keys", settings={"max_message_bytes": 100_000})
    run.log({"small": 1})
    with pytest.raises(ValueError, match="max_message_bytes.*'blob'"):
        run.log({"small": 2, "blob": "x" * 200_000})
    run.log({"small": 3})
    run.finish()
    assert [r["small"] for r in rows_of(run)] == [1, 3]
    assert "init tester/keys" in open(f"{run.sync_dir}/logs/debug.log").read()
