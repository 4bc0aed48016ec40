"""The typed maps that messages carry: run info, settings, specs, notices and replies.

Each payload travels as a msgpack map (field name → value), so a newer producer may add
fields: :meth:`Payload.from_wire` keeps the fields this side knows, fills defaults for the
ones a (possibly older) producer left out, and ignores the rest. Records and requests (the
positional envelopes) are in :mod:`tracker.proto.messages`; this module is what goes inside.

Grammar of the sidecar's unsolicited notices (replies with request id 0)::

    notice := Ack | Resend | UnknownRun
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

P = TypeVar("P", bound="Payload")


class Payload:
    """Base of every typed map: ``to_wire`` / ``from_wire``."""

    # field name -> payload class for fields that hold a nested payload (or a list of them)
    NESTED: ClassVar[dict[str, type[Payload]]] = {}

    def to_wire(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Payload):
                value = value.to_wire()
            elif isinstance(value, list) and value and isinstance(value[0], Payload):
                value = [v.to_wire() for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_wire(cls: type[P], data: Any) -> P:
        """Build from a decoded map; unknown keys are ignored, missing ones take defaults.

        Raises:
            ValueError: ``data`` is not a map, or a field without default is missing.
        """
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__} must be a map, got {type(data).__name__}")
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            value = data[f.name]
            nested = cls.NESTED.get(f.name)
            if nested is not None and value is not None:
                value = (
                    [nested.from_wire(v) for v in value]
                    if isinstance(value, list)
                    else nested.from_wire(value)
                )
            kwargs[f.name] = value
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ValueError(f"{cls.__name__}: {exc}") from None


# -- run registration --------------------------------------------------------------------


@dataclass
class RunSettings(Payload):
    """The settings of a run that the sidecar acts on (the SDK sends all of its settings)."""

    system_sample_interval: float = 2.0
    live_interval: float = 2.0
    idle_timeout: float = 30.0
    max_message_bytes: int = 64 * 1024 * 1024
    alert_webhook: str | None = None
    alert_retries: int = 5
    ui_port: int = 8080
    fsync_interval: float = 0.2


@dataclass
class RunInfo(Payload):
    """Everything the sidecar needs to open (or take over) a run: the ``INIT`` record."""

    NESTED: ClassVar[dict[str, type[Payload]]] = {"settings": RunSettings}

    id: str
    entity: str
    project: str
    dir: str
    start_time: float
    name: str | None = None
    group: str | None = None
    job_type: str | None = None
    tags: list[str] = field(default_factory=list)
    tags_given: bool = False
    notes: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    mode: str = "online"
    resume: str | None = None
    pid: int | None = None
    settings: RunSettings = field(default_factory=RunSettings)
    metadata: dict[str, Any] = field(default_factory=dict)
    token: int = 0  # chosen by the SDK, so records stay valid for a sidecar that takes over
    reattach: bool = False  # a takeover: rebuild the run from its transaction log

    @property
    def ref(self) -> tuple[str, str, str]:
        return (self.entity, self.project, self.id)

    @property
    def path(self) -> str:
        return "/".join(self.ref)


@dataclass
class InitReply(Payload):
    """The sidecar's answer to ``INIT``: the run's state as the store knows it."""

    token: int
    sidecar_pid: int = 0
    starting_step: int = 0
    resumed: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    job_type: str | None = None
    last_seq: int = 0  # takeover: the highest sequence number the new sidecar holds
    closed: bool = False  # takeover of a run that is closed already


@dataclass
class RunRef(Payload):
    """A run by name, for requests from outside the run (read API, CLI)."""

    entity: str
    project: str
    id: str


# -- record specs ------------------------------------------------------------------------


@dataclass
class MetricSpec(Payload):
    """``define_metric``'s arguments, validated by the SDK."""

    name: str
    step_metric: str | None = None
    step_sync: bool | None = None
    hidden: bool | None = None
    summary: list[str] | None = None
    goal: str | None = None
    overwrite: bool | None = None


@dataclass
class SaveSpec(Payload):
    """Files to sync: ``[name in the run, source path]`` pairs and their policy."""

    policy: str
    files: list[list[str]] = field(default_factory=list)


@dataclass
class AlertSpec(Payload):
    """One ``alert()`` call."""

    title: str
    text: str
    level: str = "INFO"
    wait_duration: float = 60.0
    ts: float = 0.0


@dataclass
class RunChanges(Payload):
    """Edits to a run's identity fields, from the SDK or from ``Api().run(...).update()``.

    ``config`` and ``summary`` are merged into the run's (a read-API edit of a live run is
    applied by the sidecar that holds it: one writer per run).
    """

    name: str | None = None
    notes: str | None = None
    tags: list[str] | None = None
    group: str | None = None
    job_type: str | None = None
    config: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None

    def given(self) -> dict[str, Any]:
        """The fields that were set (None means "not changed")."""
        return {k: v for k, v in self.to_wire().items() if v is not None}


# -- replies and notices -----------------------------------------------------------------


@dataclass
class FinishReply(Payload):
    """A closed run: its final state, rows and summary."""

    state: str
    rows: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    where: str = ""
    last_seq: int = 0


@dataclass
class RunStatusReply(Payload):
    """How far the sidecar has got with one run (``run.status()``, ``tracker-service status``).

    ``log_synced_*``: how much of the run's transaction log is on disk (fsynced); the rest
    is in the OS's page cache and would be lost to a power cut, not to a crash.
    """

    path: str
    id: str
    state: str
    dir: str
    mode: str = "online"
    pid: int | None = None
    last_step_committed: int = -1
    rows_committed: int = 0
    history_rows_exported: int = 0
    sync_items_total: int = 0
    sync_items_pending: int = 0
    sync_time: float | None = None
    files_pending: dict[str, int] = field(default_factory=dict)
    files_bytes_copied: int = 0
    files_copies: int = 0
    file_errors: list[str] = field(default_factory=list)
    alerts_sent: int = 0
    alerts_throttled: int = 0
    alert_file_errors: int = 0
    steps_dropped: int = 0
    first_dropped_step: int | None = None
    first_dropped_key: str | None = None
    export_error: str | None = None
    log_bytes: int = 0
    log_synced_bytes: int = 0
    log_synced_seq: int = 0
    log_synced_at: float | None = None
    artifacts_pending: dict[str, int] = field(default_factory=dict)


@dataclass
class SidecarStatusReply(Payload):
    """The sidecar's own state and every run it holds."""

    NESTED: ClassVar[dict[str, type[Payload]]] = {"runs": RunStatusReply}

    pid: int
    store: str
    started: float = 0.0
    uptime: float = 0.0
    queue_depth: int = 0
    records_per_s: float = 0.0
    rejected: dict[str, int] = field(default_factory=dict)
    # stage -> {count, last, at} for every stage that failed at least once
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    fsyncs: int = 0
    file_watch: str = "poll"
    runs: list[RunStatusReply] = field(default_factory=list)
    # what waits for the store (§13): catalogue writes queued, since when the store fails,
    # history rows not yet exported, files not yet copied
    backlog: dict[str, Any] = field(default_factory=dict)


@dataclass
class MetricReply(Payload):
    """The metric definition in force after ``define_metric``."""

    metric: dict[str, Any]


@dataclass
class SummaryReply(Payload):
    summary: dict[str, Any]


@dataclass
class HistoryTailReply(Payload):
    """Committed rows not yet exported (for a live read of a running run)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    running: bool = False


@dataclass
class Ack(Payload):
    """Records up to ``seq`` of each run are in its transaction log: ``[[token, seq], ...]``."""

    ack: list[list[int]]


@dataclass
class Resend(Payload):
    """A gap: send again everything of run ``token`` after ``seq``: ``[token, seq]``."""

    resend: list[int]


@dataclass
class UnknownRun(Payload):
    """This sidecar does not hold run ``token`` (it took over from one that stopped)."""

    unknown_token: int
    error: str = ""


NOTICES: tuple[type[Payload], ...] = (Ack, Resend, UnknownRun)


def notice_of(body: Any) -> Payload | None:
    """The typed notice in a request-id-0 reply body, or None."""
    if isinstance(body, dict):
        for cls in NOTICES:
            key = dataclasses.fields(cls)[0].name  # type: ignore[arg-type]
            if key in body:
                return cls.from_wire(body)
    return None


def field_names(cls: type[Payload]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
