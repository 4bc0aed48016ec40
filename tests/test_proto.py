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


def test_every_kind_round_trips():
    from tracker.proto.messages import FIELDS

    for kind, names in FIELDS.items():
        values = [f"v{i}" for i in range(len(names))]
        msg = decode(encode(kind, *values))
        assert msg.kind == kind and list(msg.fields.values()) == values


def test_log_fast_path_matches_the_schema():
    msg = decode(encode_log(3, 7, None, True, 1.5, {"a": 1}))
    assert msg.kind == Kind.LOG
    assert msg.fields == {
        "token": 3,
        "seq": 7,
        "step": None,
        "commit": True,
        "ts": 1.5,
        "data": {"a": 1},
    }


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
    assert to_message(parts[1][0]).kind == Kind.PING
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
