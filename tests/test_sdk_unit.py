"""Fast tests of the SDK's own work, with no sidecar process: what ``Run`` publishes (decoded
with the project's own ``decode``), the validation it does in the caller, and the spill file."""

from __future__ import annotations

import datetime
import os

import pytest
import tracker
from tracker.client.null import NullTransport
from tracker.client.transport import SpillError, _Batch, _Spill
from tracker.proto import frames
from tracker.proto.messages import Kind, Message, decode
from tracker.proto.payloads import RunInfo
from tracker.training_run import Run

TOKEN = 12345


class RecordingTransport(NullTransport):
    """Keeps every record a run publishes, with the marks the real transport would get."""

    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.marks: list[tuple[int, int]] = []

    def publish(self, record: bytes, token: int = 0, seq: int = 0, rid: int = 0) -> None:
        self.records.append(record)
        self.marks.append((token, seq))

    def messages(self) -> list[Message]:
        return [decode(record) for record in self.records]


def make_run(tmp_path, **settings) -> tuple[Run, RecordingTransport]:
    transport = RecordingTransport()
    run_dir = tmp_path / "run"
    (run_dir / "logs").mkdir(parents=True)
    info = RunInfo(
        id="unit0001",
        entity="tester",
        project="unit",
        name="unit-run-1",
        dir=str(run_dir),
        mode="online",
        start_time=0.0,
    )
    run = Run(
        info=info,
        settings=tracker.Settings(silent=True, **settings),
        conn=None,
        token=TOKEN,
        starting_step=0,
        resumed=False,
        config={},
        transport=transport,
    )
    return run, transport


def test_log_flattens_nested_keys_and_publishes_one_log_record(tmp_path):
    run, transport = make_run(tmp_path)
    run.log({"loss": 0.5, "train": {"acc": 0.9, "deep": {"n": 3}}, "tag": "x", "none": None})
    (msg,) = transport.messages()
    assert msg.KIND == Kind.LOG
    assert msg.data == {
        "loss": 0.5,
        "train.acc": 0.9,
        "train.deep.n": 3,
        "tag": "x",
        "none": None,
    }
    assert (msg.token, msg.seq, msg.step, msg.commit) == (
        TOKEN,
        1,
        None,
        True,
    )
    assert transport.marks == [(TOKEN, 1)]
    assert run.step == 1


def test_log_steps_and_commit_follow_the_wandb_rules(tmp_path):
    run, transport = make_run(tmp_path)
    run.log({"a": 1}, commit=False)  # merged into the pending row
    run.log({"b": 2})  # commits step 0
    run.log({"c": 3}, step=5)  # moves to step 5, does not commit
    run.log({"d": 4}, step=5, commit=True)
    got = [(m.step, m.commit) for m in transport.messages()]
    assert got == [(None, False), (None, True), (5, False), (5, True)]
    assert [m.seq for m in transport.messages()] == [1, 2, 3, 4]
    assert run.step == 6


def test_integers_beyond_int64_become_floats_and_empty_mappings_vanish(tmp_path):
    run, transport = make_run(tmp_path)
    run.log({"big": 2**70, "empty": {}, "ok": 1})
    (msg,) = transport.messages()
    assert msg.data == {"big": float(2**70), "ok": 1}


@pytest.mark.parametrize(
    ("data", "error", "named"),
    [
        ({1: 2}, TypeError, "1"),
        ({"_step": 3}, ValueError, "'_step'"),
        ({"_runtime": 3}, ValueError, "'_runtime'"),
        ({"outer": {"inner": object()}}, ValueError, "'outer.inner'"),
        ({"blob": b"\xff\xfe"}, ValueError, "'blob'"),
    ],
)
def test_bad_log_data_raises_naming_the_key_and_publishes_nothing(tmp_path, data, error, named):
    run, transport = make_run(tmp_path)
    with pytest.raises(error, match=named):
        run.log(data)
    assert transport.records == [] and run.step == 0
    run.log({"fine": 1})
    assert transport.messages()[0].seq == 1  # the failed call used no number


def test_log_rejects_non_mappings_and_non_int_steps(tmp_path):
    run, transport = make_run(tmp_path)
    with pytest.raises(TypeError, match="mapping"):
        run.log([("a", 1)])
    with pytest.raises(TypeError, match="step must be an int"):
        run.log({"a": 1}, step="3")
    with pytest.raises(TypeError, match="step must be an int"):
        run.log({"a": 1}, step=True)
    assert transport.records == []


def test_a_message_over_max_message_bytes_names_its_largest_key(tmp_path):
    run, transport = make_run(tmp_path, max_message_bytes=1000)
    with pytest.raises(ValueError, match="'big'"):
        run.log({"small": 1, "big": "x" * 5000})
    assert transport.records == []


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"name": ""}, "name"),
        ({"name": "a*b"}, "'a\\*b'"),
        ({"name": "loss", "summary": "min,median"}, "'median'"),
        ({"name": "loss", "goal": "up"}, "goal"),
        ({"name": "loss", "step_sync": "yes"}, "step_sync"),
        ({"name": "loss", "hidden": 1}, "hidden"),
        ({"name": "loss", "step_metric": ""}, "step_metric"),
    ],
)
def test_define_metric_validation_names_the_argument(tmp_path, kwargs, named):
    run, transport = make_run(tmp_path)
    with pytest.raises(tracker.Error, match=named):
        run.define_metric(**kwargs)
    assert transport.records == []


def test_define_metric_without_a_sidecar_returns_the_checked_metric(tmp_path):
    run, _ = make_run(tmp_path)
    metric = run.define_metric("val/*", step_metric="epoch", summary="Max,min", goal="MAXIMIZE")
    assert metric.name == "val/*" and metric.step_metric == "epoch" and metric.step_sync
    assert metric.summary == ("max", "min") and metric.goal == "maximize"


@pytest.mark.parametrize(
    ("args", "error", "named"),
    [
        (("", "text"), ValueError, "title"),
        (("x" * 64, "text"), ValueError, "title"),
        ((3, "text"), TypeError, "title"),
        (("title", None), TypeError, "text"),
        (("title", "text", "LOUD"), ValueError, "level"),
        (("title", "text", None, "1m"), TypeError, "wait_duration"),
        (("title", "text", None, -1), ValueError, "wait_duration"),
    ],
)
def test_alert_validation_names_the_argument(tmp_path, args, error, named):
    run, transport = make_run(tmp_path)
    with pytest.raises(error, match=named):
        run.alert(*args)
    assert transport.records == []


def test_alert_publishes_its_checked_spec(tmp_path):
    run, transport = make_run(tmp_path)
    run.alert("diverged", "loss is nan", level=tracker.AlertLevel.ERROR, wait_duration=0)
    run.alert("slow", "epoch took long", level="warn", wait_duration=datetime.timedelta(minutes=5))
    first, second = transport.messages()
    assert first.KIND == Kind.ALERT and first.token == TOKEN
    spec = first.spec
    assert (spec.title, spec.text, spec.level, spec.wait_duration) == (
        "diverged",
        "loss is nan",
        "ERROR",
        0.0,
    )
    assert second.spec.level == "WARN"
    assert second.spec.wait_duration == 300.0


def test_config_summary_and_renames_are_published_as_records(tmp_path):
    run, transport = make_run(tmp_path)
    run.config["lr"] = 0.1
    run.name = "renamed"
    kinds = [m.KIND for m in transport.messages()]
    assert kinds == [Kind.CONFIG, Kind.RUN_UPDATE]
    assert transport.messages()[0].data == {"lr": 0.1}
    assert transport.messages()[1].changes.given() == {"name": "renamed"}


def test_a_disabled_run_goes_through_a_null_transport(tracker_env):
    run = tracker.init(mode="disabled")
    assert isinstance(run._transport, NullTransport)
    run.log({"a": {"b": 1}})
    with pytest.raises(ValueError, match="'_step'"):
        run.log({"_step": 1})  # validated as in any other mode
    run.finish()
    assert not os.path.exists(os.path.join(tracker_env["root"], "tracker"))


def _batch(n: int) -> _Batch:
    return _Batch(bytes([n]) * (100 + n), {TOKEN: n}, {n} if n % 2 else set())


def _spill_with_three_batches(tmp_path) -> tuple[_Spill, list[int]]:
    spill = _Spill(str(tmp_path / "spill.trkq"))
    offsets = []
    for n in (1, 2, 3):
        spill._fh.flush()
        offsets.append(os.path.getsize(spill.path))
        spill.push(_batch(n))
    spill._fh.flush()
    return spill, offsets


def _corrupt(path: str, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def test_spill_file_gives_back_its_batches_in_order(tmp_path):
    spill, _ = _spill_with_three_batches(tmp_path)
    with open(spill.path, "rb") as fh:
        assert len(list(frames.read_frames(fh))) == 3  # the transaction log's framing
    for n in (1, 2, 3):
        batch = spill.pop()
        assert (batch.data, batch.marks, batch.rids) == (_batch(n).data, {TOKEN: n}, _batch(n).rids)
    assert spill.count == 0 and spill.bytes == 0
    spill.close()
    assert not os.path.exists(spill.path)


def test_a_damaged_spill_frame_is_detected_and_the_next_one_still_read(tmp_path):
    spill, offsets = _spill_with_three_batches(tmp_path)
    _corrupt(spill.path, offsets[1] + 8 + 20, b"\x00\x00\x00")  # flipped payload bytes
    assert spill.pop().data == _batch(1).data
    with pytest.raises(SpillError, match="checksum"):
        spill.pop()
    assert spill.pop().data == _batch(3).data
    assert spill.count == 0 and spill.bytes == 0
    spill.close()


def test_a_spill_frame_with_a_damaged_length_is_not_misparsed(tmp_path):
    spill, offsets = _spill_with_three_batches(tmp_path)
    _corrupt(spill.path, offsets[1], (5).to_bytes(4, "little"))
    spill.pop()
    with pytest.raises(SpillError):
        spill.pop()
    assert spill.pop().data == _batch(3).data
    spill.close()
