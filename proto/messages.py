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

import dataclasses
import os
import typing
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

import msgpack
from tracker.proto.payloads import (
    AlertSpec,
    MetricSpec,
    Payload,
    RunChanges,
    RunInfo,
    RunRef,
    SaveSpec,
)

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
    EDIT_RUN = 12
    # Control requests: answered, never persisted.
    STATUS = 20
    HEARTBEAT = 21
    GET_SUMMARY = 22
    HISTORY_TAIL = 23
    SIDECAR_STATUS = 24
    SHUTDOWN = 25
    PING = 26
    ARTIFACT_REQUEST = 30


# -- the messages, one class per kind ---------------------------------------------------
# Field order is the wire order. Every request that expects a reply carries ``request_id``
# first after the kind, so the sidecar can answer without knowing the kind's layout.
# Fields typed with a Payload class travel as maps (see tracker.proto.payloads).


@dataclass
class _RunRecord:
    """A persisted record of run ``token`` with its sequence number ``seq``."""

    token: int
    seq: int


@dataclass
class _Request:
    """A request that wants an answer: ``request_id`` first after the kind."""

    request_id: int


@dataclass
class _RunRequest(_Request):
    """A request about run ``token``."""

    token: int


@dataclass
class _RunRequestRecord(_RunRequest):
    """A persisted record of run ``token`` that wants an answer."""

    seq: int


@dataclass
class Init:
    """Open a run, or take one over (``run_info.reattach``)."""

    KIND: ClassVar[Kind] = Kind.INIT
    request_id: int
    run_info: RunInfo


@dataclass
class Log:
    """One ``log`` call: ``step`` as the user gave it (or None), ``data`` flattened."""

    KIND: ClassVar[Kind] = Kind.LOG
    token: int
    seq: int
    step: int | None
    commit: bool | None
    ts: float
    data: dict[str, Any]


@dataclass
class Summary(_RunRecord):
    """Manual summary overrides (``set``) and removals (``remove``)."""

    KIND: ClassVar[Kind] = Kind.SUMMARY
    set: dict[str, Any]
    remove: list[str]


@dataclass
class Config(_RunRecord):
    """Config keys set by the training process (``run.config[k] = v``)."""

    KIND: ClassVar[Kind] = Kind.CONFIG
    data: dict[str, Any]


@dataclass
class DefineMetric(_RunRequestRecord):
    """``define_metric``: answered with the definition in force."""

    KIND: ClassVar[Kind] = Kind.DEFINE_METRIC
    spec: MetricSpec


@dataclass
class Finish(_RunRequestRecord):
    """Close the run: answered once everything is exported, copied and in the store."""

    KIND: ClassVar[Kind] = Kind.FINISH
    exit_code: int | None


@dataclass
class Preempting(_RunRecord):
    """``mark_preempting()``: a death from now on is ``preempted``."""

    KIND: ClassVar[Kind] = Kind.PREEMPTING


@dataclass
class RunUpdate(_RunRecord):
    """Edits from the training process (``run.name = ...``)."""

    KIND: ClassVar[Kind] = Kind.RUN_UPDATE
    changes: RunChanges


@dataclass
class Save(_RunRecord):
    """``save()``: files to sync by policy."""

    KIND: ClassVar[Kind] = Kind.SAVE
    spec: SaveSpec


@dataclass
class Alert(_RunRecord):
    """``alert()``: throttled and delivered by the sidecar."""

    KIND: ClassVar[Kind] = Kind.ALERT
    spec: AlertSpec


@dataclass
class Artifact(_RunRecord):
    """An artifact record: ``spec["op"]`` is ``log``, ``upsert``, ``finish``, ``use`` or
    ``link`` (see :mod:`tracker.service.artifacts`)."""

    KIND: ClassVar[Kind] = Kind.ARTIFACT
    spec: dict[str, Any]


@dataclass
class EditRun(_Request):
    """Edits from the read API (``Api().run(p).update()``) to a run a sidecar holds.

    Persisted in the run's log (unsequenced: it comes from another process) and applied by
    the sidecar, the run's one writer.
    """

    KIND: ClassVar[Kind] = Kind.EDIT_RUN
    ref: RunRef
    changes: RunChanges


@dataclass
class ArtifactRequest(_RunRequest):
    """A question about run ``token``'s artifacts: ``op`` ``wait`` (answered once the version
    ``spec["id"]`` is committed or failed) or ``check`` (is ``spec["distributed_id"]``
    finished?)."""

    KIND: ClassVar[Kind] = Kind.ARTIFACT_REQUEST
    op: str
    spec: dict[str, Any]


@dataclass
class Status(_RunRequest):
    """How far the sidecar has got with run ``token`` (``run.status()``)."""

    KIND: ClassVar[Kind] = Kind.STATUS


@dataclass
class Heartbeat:
    """The training process of run ``token`` is alive (one-way, never answered)."""

    KIND: ClassVar[Kind] = Kind.HEARTBEAT
    token: int


@dataclass
class GetSummary(_RunRequest):
    """Run ``token``'s summary as the sidecar computes it."""

    KIND: ClassVar[Kind] = Kind.GET_SUMMARY


@dataclass
class HistoryTail(_Request):
    """Committed rows not yet exported of run ``ref``, from ``min_step`` (inclusive)."""

    KIND: ClassVar[Kind] = Kind.HISTORY_TAIL
    ref: RunRef
    min_step: int


@dataclass
class SidecarStatus(_Request):
    """The sidecar's own state and every run it holds (``tracker-service status``)."""

    KIND: ClassVar[Kind] = Kind.SIDECAR_STATUS


@dataclass
class Shutdown(_Request):
    """Stop the sidecar: runs of live training processes are handed over, the rest closed."""

    KIND: ClassVar[Kind] = Kind.SHUTDOWN


@dataclass
class Ping(_Request):
    """Is the sidecar there? Answered with its pid."""

    KIND: ClassVar[Kind] = Kind.PING


Message = (
    Init
    | Log
    | Summary
    | Config
    | DefineMetric
    | Finish
    | Preempting
    | RunUpdate
    | Save
    | Alert
    | Artifact
    | EditRun
    | Status
    | Heartbeat
    | GetSummary
    | HistoryTail
    | SidecarStatus
    | Shutdown
    | Ping
    | ArtifactRequest
)

CLASSES: dict[Kind, Any] = {
    cls.KIND: cls
    for cls in (
        Init, Log, Summary, Config, DefineMetric, Finish, Preempting, RunUpdate, Save,
        Alert, Artifact, EditRun, Status, Heartbeat, GetSummary, HistoryTail,
        SidecarStatus, Shutdown, Ping, ArtifactRequest,
    )
}  # fmt: skip


def _wire_layout(cls: Any) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple(
        (f.name, hints[f.name] if _is_payload(hints[f.name]) else None)
        for f in dataclasses.fields(cls)
    )


def _is_payload(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Payload)


# kind -> ((field name, Payload class or None), ...)
LAYOUT: dict[Kind, tuple[tuple[str, Any], ...]] = {k: _wire_layout(c) for k, c in CLASSES.items()}
FIELDS: dict[Kind, tuple[str, ...]] = {k: tuple(n for n, _ in v) for k, v in LAYOUT.items()}

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
        Kind.EDIT_RUN,
    }
)
# persisted records that belong to a run by token and carry its sequence number
SEQUENCED = PERSISTED - {Kind.INIT, Kind.EDIT_RUN}

WANTS_REPLY = frozenset(k for k, f in FIELDS.items() if f and f[0] == "request_id")


def _default(obj: Any) -> Any:
    # Sets and tuples travel as lists; anything else is a bug in the caller's validation.
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, Payload):
        return obj.to_wire()
    wire = getattr(obj, "wire_bin", None)
    if wire is not None:  # a large buffer (see encode_log) outside a LOG record: copied
        return bytes(wire())
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


def encode_message(msg: Message) -> bytes:
    """Encode a typed message (its fields in wire order)."""
    return encode(msg.KIND, *(getattr(msg, name) for name in FIELDS[msg.KIND]))


def encode_log(
    token: int, seq: int, step: int | None, commit: bool, ts: float, data: dict
) -> bytes:
    """The hot path of :func:`encode` for ``LOG``: no schema lookup, no tuple unpacking.

    A value with a ``wire_bin()`` method (a media array's bytes, ``tracker.media.base.Blob``)
    is packed as a msgpack ``bin`` whose bytes are copied once, straight into the record.
    """
    msg = (SCHEMA_VERSION, 2, token, seq, step, commit, ts, data)
    try:
        return _packb(msg, use_bin_type=True)
    except TypeError:  # only a record holding large buffers (or a bug) gets here
        return _pack_spliced(msg)


def _pack_spliced(msg: tuple) -> bytes:
    """``msg`` packed with its large buffers spliced in rather than packed.

    msgpack would copy each buffer into its growing internal buffer (reallocating on the
    way) and then into the bytes it returns; here it packs a short marker for each, and
    the one join that builds the record replaces every marker by a ``bin 32`` header and
    the buffer itself: one copy. The record is ordinary msgpack (the sidecar, the
    transaction log and replay see no difference).
    """
    buffers: list[memoryview] = []
    tag = os.urandom(12)  # marker = this per-call tag + the buffer's index: never user data

    def default(obj: Any) -> Any:
        wire = getattr(obj, "wire_bin", None)
        if wire is None:
            raise TypeError(f"cannot serialize object of type {type(obj).__name__}")
        buffers.append(wire())
        return tag + (len(buffers) - 1).to_bytes(4, "big")

    head = _packb(msg, use_bin_type=True, default=default)
    pieces: list[Any] = []
    pos = 0
    for i, buf in enumerate(buffers):
        marker = b"\xc4\x10" + tag + i.to_bytes(4, "big")
        at = head.index(marker, pos)  # packed in the order default() saw them
        pieces += (head[pos:at], b"\xc6" + buf.nbytes.to_bytes(4, "big"), buf)
        pos = at + len(marker)
    pieces.append(head[pos:])
    return b"".join(pieces)


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
assert Kind.LOG == 2  # is_log and encode_log inline the number: the hot path


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
    layout = LAYOUT[kind]
    values = obj[2:]
    if len(values) != len(layout):
        raise ProtoError(f"{kind.name} message has {len(values)} fields, expected {len(layout)}")
    try:
        return CLASSES[kind](
            *(
                payload.from_wire(v) if payload is not None else v
                for (_, payload), v in zip(layout, values, strict=True)
            )
        )
    except ValueError as exc:
        raise ProtoError(f"malformed {kind.name} message: {exc}") from None
