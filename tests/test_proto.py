"""The schema (§6): encode/decode, version and kind errors, and transaction-log framing."""

import io

import msgpack
import pytest
from tracker.proto import frames
from tracker.proto.messages import (
    SCHEMA_VERSION,
    Kind,
    ProtoError,
    decode,
    decode_reply,
    encode,
    encode_log,
    encode_reply,
    iter_batch,
    to_message,
)

SAMPLE_PAYLOADS = {
    "RunInfo": dict(id="r1", entity="e", project="p", dir="/tmp/r", start_time=1.0),
    "MetricSpec": dict(name="loss", summary=["min"]),
    "SaveSpec": dict(policy="now", files=[["a.txt", "/tmp/a.txt"]]),
    "AlertSpec": dict(title="t", text="x", level="WARN"),
    "RunChanges": dict(name="n", config={"lr": 1}),
    "RunRef": dict(entity="e", project="p", id="r1"),
}


def test_every_kind_round_trips_as_its_typed_class():
    from tracker.proto.messages import CLASSES, LAYOUT, encode_message

    for kind, layout in LAYOUT.items():
        values = [
            payload(**SAMPLE_PAYLOADS[payload.__name__]) if payload else f"v{i}"
            for i, (_, payload) in enumerate(layout)
        ]
        msg = decode(encode(kind, *values))
        assert type(msg) is CLASSES[kind] and msg.KIND == kind
        assert [getattr(msg, name) for name, _ in layout] == values
        assert decode(encode_message(msg)) == msg


def test_a_payload_from_a_newer_producer_keeps_what_this_side_knows():
    from tracker.proto.payloads import RunInfo

    wire = {**SAMPLE_PAYLOADS["RunInfo"], "settings": {"fsync_interval": 0.5, "new": 1}, "x": 2}
    msg = decode(encode(Kind.INIT, 7, wire))
    assert msg.run_info.settings.fsync_interval == 0.5
    assert msg.run_info.settings.live_interval == 2.0  # a default for what was not sent
    assert isinstance(msg.run_info, RunInfo) and msg.run_info.ref == ("e", "p", "r1")


def test_a_payload_missing_a_required_field_is_a_clear_error():
    with pytest.raises(ProtoError, match="INIT.*RunInfo"):
        decode(encode(Kind.INIT, 7, {"id": "r1"}))
    with pytest.raises(ProtoError, match="RunInfo must be a map"):
        decode(encode(Kind.INIT, 7, "not a map"))


def test_log_fast_path_matches_the_schema():
    from tracker.proto.messages import Log

    msg = decode(encode_log(3, 7, None, True, 1.5, {"a": 1}))
    assert msg == Log(token=3, seq=7, step=None, commit=True, ts=1.5, data={"a": 1})


def test_notices_are_typed():
    from tracker.proto.payloads import Ack, Resend, UnknownRun, notice_of

    assert notice_of(Ack(ack=[[1, 5]]).to_wire()) == Ack(ack=[[1, 5]])
    assert notice_of({"resend": [1, 4]}) == Resend(resend=[1, 4])
    assert notice_of({"unknown_token": 9}).unknown_token == 9
    assert isinstance(notice_of({"unknown_token": 9}), UnknownRun)
    assert notice_of({"rows": []}) is None


def test_wrong_field_count_is_refused_on_both_sides():
    with pytest.raises(ProtoError, match="LOG"):
        encode(Kind.LOG, 1, 2)
    with pytest.raises(ProtoError, match="fields"):
        decode(msgpack.packb([SCHEMA_VERSION, int(Kind.LOG), 1]))


def test_newer_version_unknown_kind_and_garbage_are_clear_errors():
    with pytest.raises(ProtoError, match="newer"):
        decode(msgpack.packb([SCHEMA_VERSION + 1, int(Kind.LOG)]))
    with pytest.raises(ProtoError, match="unknown message kind 999"):
        decode(msgpack.packb([SCHEMA_VERSION, 999]))
    with pytest.raises(ProtoError, match="malformed"):
        decode(b"\xc1\xff\x00")
    with pytest.raises(ProtoError, match="malformed"):
        decode(msgpack.packb({"not": "an array"}))


def test_reply_round_trip():
    assert decode_reply(encode_reply(5, True, {"x": 1})) == (5, True, {"x": 1})


def test_batches_split_back_into_messages_with_their_bytes():
    a, b = encode_log(1, 1, None, True, 0.0, {"a": 1}), encode(Kind.PING, 9)
    batch = a + b
    parts = list(iter_batch(batch))
    assert [batch[s:e] for _, s, e in parts] == [a, b]
    assert to_message(parts[1][0]).KIND == Kind.PING
    with pytest.raises(ProtoError, match="truncated"):
        list(iter_batch(batch[:-1]))


def log_bytes(frames_):
    return frames.HEADER + b"".join(frames.frame(p) for p in frames_)


def test_frames_read_back():
    payloads = [b"one", b"two" * 100, b"three"]
    report = frames.ReadReport()
    assert list(frames.read_frames(io.BytesIO(log_bytes(payloads)), report)) == payloads
    assert report.frames == 3 and report.dropped == 0


def test_torn_tail_and_flipped_bytes_keep_every_intact_frame():
    payloads = [f"record-{i}".encode() * 5 for i in range(10)]
    data = bytearray(log_bytes(payloads))
    # flip a byte inside frame 3's payload
    offset = len(frames.HEADER) + sum(8 + len(p) for p in payloads[:3]) + 8 + 2
    data[offset] ^= 0xFF
    torn = bytes(data[:-7])  # cut the last frame in the middle
    report = frames.ReadReport()
    got = list(frames.read_frames(io.BytesIO(torn), report))
    assert got == payloads[:3] + payloads[4:9]
    assert report.dropped == 2
    assert [reason for _, reason in report.damaged] == [
        "checksum mismatch",
        "torn frame at end of log",
    ]


def test_missing_header_is_reported():
    report = frames.ReadReport()
    assert list(frames.read_frames(io.BytesIO(b"garbage"), report)) == []
    assert report.damaged == [(0, "missing header")]
