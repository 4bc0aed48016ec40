"""Message schema: one definition per kind, a schema version, encode/decode helpers.

Wire grammar (msgpack)::

    message := [version:int, kind:int, field_1, ..., field_n]
    reply   := [version:int, ok:bool, request_id:int, body]   # body: dict, or error text

``fields`` are positional, in the order given by :data:`FIELDS` for the kind. Positional
arrays keep the hot ``log`` path small and fast (no field names on the wire). A decoder
refuses a message whose version is newer than its own, whose kind it does not know, or
whose field count does not match, with a :class:`ProtoError` that says which.

Persisted records (the ones replayed from a transaction log) are kept apart from control
requests: see :data:`PERSISTED`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NamedTuple

import msgpack

SCHEMA_VERSION = 1


class ProtoError(ValueError):
    """A message could not be decoded: malformed, unknown kind, or a newer schema."""


class Kind(IntEnum):
    # Persisted records: appended to the run's transaction log, replayed by sync/recovery.
    INIT = 1
    LOG = 2
    SUMMARY = 3
    CONFIG = 4
    DEFINE_METRIC = 5
    FINISH = 6
    PREEMPTING = 7
    RUN_UPDATE = 8
    SAVE = 9
    ALERT = 10
    ARTIFACT = 11
    # Control requests: answered, never persisted.
    STATUS = 20
    HEARTBEAT = 21
    GET_SUMMARY = 22
    HISTORY_TAIL = 23
    SIDECAR_STATUS = 24
    SHUTDOWN = 25
    PING = 26


# Field names per kind. Every request that expects a reply carries ``request_id`` first
# after the kind, so the sidecar can answer without knowing the kind's layout.
FIELDS: dict[Kind, tuple[str, ...]] = {
    # run_info: dict with id, entity, project, name, group, job_type, tags, notes, config,
    # dir, mode, resume, pid, pid_create_time, start_time, settings, metadata
    Kind.INIT: ("request_id", "run_info"),
    # token: the sidecar's handle for the run; seq: per-run sequence number;
    # step: int or None as the user gave it; commit: bool; ts: unix seconds; data: flat dict
    Kind.LOG: ("token", "seq", "step", "commit", "ts", "data"),
    # set: dict of overrides; remove: list of keys
    Kind.SUMMARY: ("token", "seq", "set", "remove"),
    Kind.CONFIG: ("token", "seq", "data"),
    # spec: dict name, step_metric, step_sync, hidden, summary (list), goal, overwrite
    Kind.DEFINE_METRIC: ("request_id", "token", "seq", "spec"),
    Kind.FINISH: ("request_id", "token", "seq", "exit_code"),
    Kind.PREEMPTING: ("token", "seq"),
    # changes: dict of name / notes / tags
    Kind.RUN_UPDATE: ("token", "seq", "changes"),
    Kind.SAVE: ("token", "seq", "spec"),
    Kind.ALERT: ("token", "seq", "spec"),
    Kind.ARTIFACT: ("token", "seq", "spec"),
    Kind.STATUS: ("request_id", "token"),
    Kind.HEARTBEAT: ("token",),
    Kind.GET_SUMMARY: ("request_id", "token"),
    # ref: {"entity", "project", "id"}; min_step inclusive
    Kind.HISTORY_TAIL: ("request_id", "ref", "min_step"),
    Kind.SIDECAR_STATUS: ("request_id",),
    Kind.SHUTDOWN: ("request_id",),
    Kind.PING: ("request_id",),
}

PERSISTED = frozenset(
    {
        Kind.INIT,
        Kind.LOG,
        Kind.SUMMARY,
        Kind.CONFIG,
        Kind.DEFINE_METRIC,
        Kind.FINISH,
        Kind.PREEMPTING,
        Kind.RUN_UPDATE,
        Kind.SAVE,
        Kind.ALERT,
        Kind.ARTIFACT,
    }
)

WANTS_REPLY = frozenset(k for k, f in FIELDS.items() if f and f[0] == "request_id")


class Message(NamedTuple):
    """A decoded message: its kind and its fields by name."""

    kind: Kind
    fields: dict[str, Any]


def _default(obj: Any) -> Any:
    # Sets and tuples travel as lists; anything else is a bug in the caller's validation.
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"cannot serialize object of type {type(obj).__name__}")


_packer_opts = {"use_bin_type": True, "default": _default}
_packb = msgpack.packb


def pack_value(value: Any) -> bytes:
    """Serialize a plain value (dicts, lists, scalars) with the project's msgpack options."""
    return _packb(value, **_packer_opts)


def unpack_value(data: bytes) -> Any:
    """Inverse of :func:`pack_value`."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def encode(kind: Kind, *fields: Any) -> bytes:
    """Encode a message of ``kind`` with its fields given positionally (see :data:`FIELDS`).

    Raises:
        ProtoError: if the number of fields does not match the kind's schema.
    """
    names = FIELDS[kind]
    if len(fields) != len(names):
        raise ProtoError(f"{kind.name} takes fields {names}, got {len(fields)} values")
    return _packb((SCHEMA_VERSION, int(kind), *fields), **_packer_opts)


def encode_log(
    token: int, seq: int, step: int | None, commit: bool, ts: float, data: dict
) -> bytes:
    """The hot path of :func:`encode` for ``LOG``: no schema lookup, no tuple unpacking."""
    return _packb((SCHEMA_VERSION, 2, token, seq, step, commit, ts, data), use_bin_type=True)


def decode(data: bytes) -> Message:
    """Decode one message.

    Raises:
        ProtoError: malformed msgpack, a newer schema version, an unknown kind, or a field
            count that does not match the kind.
    """
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProtoError(f"malformed message: {exc}") from None
    return to_message(obj)


def encode_reply(request_id: int, ok: bool, body: Any) -> bytes:
    """Encode the sidecar's answer to a request (``body`` is a dict, or error text)."""
    return _packb((SCHEMA_VERSION, ok, request_id, body), **_packer_opts)


def decode_reply(data: bytes) -> tuple[int, bool, Any]:
    """Decode a reply into ``(request_id, ok, body)``.

    Raises:
        ProtoError: malformed or newer-version reply.
    """
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:
        raise ProtoError(f"malformed reply: {exc}") from None
    if not isinstance(obj, list) or len(obj) != 4:
        raise ProtoError("malformed reply")
    if obj[0] > SCHEMA_VERSION:
        raise ProtoError(f"reply schema version {obj[0]} is newer than {SCHEMA_VERSION}")
    return obj[2], bool(obj[1]), obj[3]


def iter_batch(data: bytes):
    """Yield ``(obj, start, end)`` for each message of a batch of concatenated messages.

    ``obj`` is the raw decoded array (check it with :func:`to_message` unless it is a
    ``LOG`` taken by :func:`is_log`); ``data[start:end]`` are its bytes, kept for the
    transaction log without re-encoding.

    Raises:
        ProtoError: the batch is not valid msgpack from some point on (messages before it
            have been yielded).
    """
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=0)
    unpacker.feed(data)
    start = 0
    while True:
        try:
            obj = unpacker.unpack()
        except msgpack.OutOfData:
            if start != len(data):
                raise ProtoError(f"malformed message: truncated at byte {start}") from None
            return
        except Exception as exc:
            raise ProtoError(f"malformed message at byte {start}: {exc}") from None
        end = unpacker.tell()
        yield obj, start, end
        start = end


LOG_LENGTH = 2 + len(FIELDS[Kind.LOG])


def is_log(obj: Any) -> bool:
    """True for a well-formed ``LOG`` array of this schema version (the hot path)."""
    return (
        type(obj) is list
        and len(obj) == LOG_LENGTH
        and obj[1] == 2
        and obj[0] == SCHEMA_VERSION
        and type(obj[7]) is dict
    )


def to_message(obj: Any) -> Message:
    """Check a raw decoded array against the schema and name its fields.

    Raises:
        ProtoError: as :func:`decode`.
    """
    if not isinstance(obj, list) or len(obj) < 2:
        raise ProtoError("malformed message: not a [version, kind, ...] array")
    version, kind_no = obj[0], obj[1]
    if not isinstance(version, int) or version < 1:
        raise ProtoError(f"malformed message: bad schema version {version!r}")
    if version > SCHEMA_VERSION:
        raise ProtoError(
            f"message schema version {version} is newer than this side's {SCHEMA_VERSION}; "
            "upgrade tracker"
        )
    try:
        kind = Kind(kind_no)
    except ValueError:
        raise ProtoError(f"unknown message kind {kind_no!r}") from None
    names = FIELDS[kind]
    values = obj[2:]
    if len(values) != len(names):
        raise ProtoError(f"{kind.name} message has {len(values)} fields, expected {len(names)}")
    return Message(kind, dict(zip(names, values, strict=True)))
