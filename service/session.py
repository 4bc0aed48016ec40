"""One run inside the sidecar: transaction log → committer → history export → catalogue.

The same class serves a live run (fed by the sidecar's socket) and a replay (fed by
``tracker-service sync`` from a transaction log), so both produce the same store.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

from tracker.proto.payloads import (
    AlertSpec,
    FinishReply,
    MetricSpec,
    RunChanges,
    RunInfo,
    RunStatusReply,
    SaveSpec,
)
from tracker.service.alerts import AlertBook
from tracker.service.artifacts import ArtifactBook
from tracker.service.committer import Committer
from tracker.service.export import Exporter, HistoryWriter
from tracker.service.media_book import MediaBook
from tracker.service.storewriter import StoreWriter
from tracker.service.summary import SummaryState
from tracker.service.syncer import Copier, FileSyncer
from tracker.service.txlog import TxLogWriter
from tracker.store.base import Store
from tracker.store.keys import file_key, stream_prefix

TERMINAL = ("finished", "failed", "crashed", "preempted")
CATALOGUE_PERIOD = 1.0


class RunSession:
    """The sidecar's state for one run."""

    def __init__(
        self,
        info: RunInfo,
        token: int,
        store: Store | None,
        exporter: Exporter | None,
        previous: dict[str, Any] | None = None,
        write_txlog: bool = True,
        copier: Copier | None = None,
        watcher: Any = None,
        store_writer: StoreWriter | None = None,
        artifact_worker: Any = None,
        media: Any = None,
    ) -> None:
        self.info = info
        self.token = token
        self.entity = info.entity
        self.project = info.project
        self.run_id = info.id
        self.mode = info.mode
        self.run_dir = info.dir
        self.store = store if self.mode == "online" else None
        self.store_writer = store_writer or StoreWriter()
        self._catalogue_inflight = False
        self._catalogue_waiters: list[Callable[[], None]] = []
        self.closing = False  # final state set, waiting for its catalogue write
        self.state = "running"
        self.exit_code: int | None = None
        self.preempting = False
        self.finishing: str | None = None
        self.finish_waiters: list[Callable[[dict], None]] = []
        self.last_catalogue = 0.0
        self.dirty = True
        self._last_files_refresh = 0.0
        self.records = 0
        self.sync_time: float | None = None
        self.resumed = previous is not None
        self._log_fh = None
        self.pid = info.pid
        self._proc = None
        self.ident: bytes | None = None  # the SDK socket that acknowledgements go to
        self.last_seq = 0  # highest sequence number applied
        self.acked_seq = 0

        self.settings = info.settings
        previous = previous or {}
        starting_step = self._restore(info, previous)
        self.history: HistoryWriter | None = None
        self.system: HistoryWriter | None = None
        self.system_latest: dict[str, Any] = dict(previous.get("system_metrics") or {})
        # committed rows pass the media gate: a row with media waits for its files
        self.media = MediaBook(
            self.run_dir, self._history_writers(exporter, previous), self._save_now, self.log, media
        )
        self._exports_to_finish = False
        self.committer = Committer(
            starting_step,
            info.start_time,
            float(previous.get("runtime") or 0.0),
            self.summary,
            self.media.on_row,
        )
        self.txlog = (
            TxLogWriter(self.txlog_path, self.settings.fsync_interval) if write_txlog else None
        )
        self.alerts = AlertBook(self.run_dir, f"{self.entity}/{self.project}/{self.run_id}")
        self.files = self._file_syncer(copier, watcher)
        self.artifacts = ArtifactBook(self, artifact_worker)

    def _restore(self, info: RunInfo, previous: dict[str, Any]) -> int:
        """Take over what the store knew of a resumed run; return the starting step."""
        self.config = dict(previous.get("config") or {})
        self.config.update(info.config or {})
        self.summary = SummaryState.from_state(previous.get("summary_state"))
        self.base_rows = previous.get("rows_committed", 0) or 0
        self.created_at = previous.get("created_at") or info.start_time
        if not self.resumed:
            return 0
        for key in ("name", "notes", "group_name", "job_type"):
            attr = "group" if key == "group_name" else key
            if getattr(info, attr) is None and previous.get(key) is not None:
                setattr(info, attr, previous[key])
        if not info.tags_given:
            info.tags = previous.get("tags") or []
        return previous.get("last_step", -1) + 1

    def _history_writers(
        self, exporter: Exporter | None, previous: dict[str, Any]
    ) -> Callable[[dict], None]:
        """The history and system streams' writers; return where committed rows go."""
        if self.store is None or exporter is None:
            return _discard
        ref = (self.entity, self.project, self.run_id)
        blobs = self.store.blobs
        # system parts go on after those in the store (none is replayed from the log)
        self.system = HistoryWriter(
            exporter, blobs, stream_prefix(*ref, "system"), None, 0, self.log
        )
        self.history = HistoryWriter(
            exporter,
            blobs,
            stream_prefix(*ref, "history"),
            previous.get("history_parts", 0) or 0,
            previous.get("rows_exported", 0) or 0,
            self.log,
        )
        return self.history.add

    def _file_syncer(self, copier: Copier | None, watcher: Any) -> FileSyncer:
        online = self.store is not None and copier is not None
        return FileSyncer(
            self.run_dir,
            copier if online else None,
            self.store.blobs if online else None,
            (lambda name: file_key(self.entity, self.project, self.run_id, name))
            if online
            else None,
            self._record_files,
            self.log,
            float(self.settings.live_interval),
            watcher,
        )

    # -- records ---------------------------------------------------------------------------
    def log(self, text: str) -> None:
        """A line in the run's ``logs/sidecar.log``."""
        try:
            if self._log_fh is None:
                os.makedirs(os.path.join(self.run_dir, "logs"), exist_ok=True)
                self._log_fh = open(os.path.join(self.run_dir, "logs", "sidecar.log"), "a")
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self._log_fh.write(f"{stamp} {text}\n")
            self._log_fh.flush()
        except OSError:
            pass

    def on_log(self, step: Any, commit: Any, ts: Any, data: dict) -> None:
        committer = self.committer
        media = self.media.take(data)
        if not committer.log(step, commit, ts, data):
            if media:
                self.media.discard(media)
            if committer.dropped == 1:
                self.log(
                    f"dropped log at step {step} below current step {committer.step} "
                    f"(key {committer.first_dropped_key!r}); later drops are counted"
                )
        self.dirty = True

    @property
    def txlog_path(self) -> str:
        return os.path.join(self.run_dir, f"run-{self.run_id}.trk")

    # -- one method per persisted record (the live path and replay both call these) ---------
    def on_summary(self, set_: dict[str, Any], remove: list[str]) -> None:
        self.summary.set(set_ or {}, remove or [])
        self.dirty = True

    def on_config(self, data: dict[str, Any]) -> None:
        self.config.update(data or {})
        self.dirty = True

    def on_define_metric(self, spec: MetricSpec) -> dict[str, Any]:
        """Define a metric; return the definition in force."""
        self.dirty = True
        return {**self.summary.define(spec.to_wire()), "name": spec.name}

    def on_preempting(self) -> None:
        self.preempting = True
        self.state = "preempting"
        self.dirty = True
        self.write_catalogue(force=True)

    def on_changes(self, changes: RunChanges) -> None:
        """Edits to identity fields, config and summary (from the SDK or the read API)."""
        given = changes.given()
        for key in ("name", "notes", "tags", "group", "job_type"):
            if key in given:
                setattr(self.info, key, given[key])
        if "config" in given:
            self.config.update(given["config"])
        if "summary" in given:
            self.summary.set(given["summary"], [])
        self.dirty = True

    def _save_now(self, name: str, path: str) -> None:
        self.files.add({"policy": "now", "files": [[name, path]]})

    def on_save(self, spec: SaveSpec) -> None:
        self.files.add(spec.to_wire())
        self.dirty = True

    def save_segment(self, previous: dict[str, Any] | None) -> None:
        """Keep the run's state from before this segment, for a sidecar that takes over."""
        try:
            os.makedirs(os.path.join(self.run_dir, "logs"), exist_ok=True)
            with open(os.path.join(self.run_dir, "logs", "segment.json"), "w") as fh:
                json.dump(_json_safe(previous), fh, default=str)
        except OSError as exc:
            self.log(f"could not save the segment start: {exc}")

    @staticmethod
    def load_segment(run_dir: str) -> dict[str, Any] | None:
        try:
            with open(os.path.join(run_dir, "logs", "segment.json")) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    RUN_FILES = ("config.yaml", "summary.json", "metadata.json", "requirements.txt")

    def start_run_files(self) -> None:
        """Write the run's own files and sync them like ``live`` files while the run goes on."""
        self._write_files()
        files = os.path.join(self.run_dir, "files")
        self.files.add(
            {"policy": "live", "files": [[n, os.path.join(files, n)] for n in self.RUN_FILES[:3]]}
        )

    def on_probe(self, git: dict[str, Any], requirements: str) -> None:
        """The environment probe's answer: git state into metadata, requirements.txt."""
        metadata = self.info.metadata
        if git:
            metadata["git"] = git
        files = os.path.join(self.run_dir, "files")
        try:
            with open(os.path.join(files, "requirements.txt"), "w") as fh:
                fh.write(requirements)
            with open(os.path.join(files, "metadata.json"), "w") as fh:
                json.dump(_public_metadata(metadata), fh, indent=1, default=str)
        except OSError as exc:
            self.log(f"could not write the environment files: {exc}")
            return
        self.files.add(
            {
                "policy": "live",
                "files": [["requirements.txt", os.path.join(files, "requirements.txt")]],
            }
        )
        self.dirty = True

    def refresh_run_files(self) -> None:
        """Rewrite config.yaml and summary.json when they changed (at most once a second)."""
        now = time.monotonic()
        if not self.dirty or now - self._last_files_refresh < CATALOGUE_PERIOD:
            return
        self._last_files_refresh = now
        self._write_files(names=("config.yaml", "summary.json"))

    def _record_files(self, records: list[dict[str, Any]]) -> None:
        if self.store is None:
            return
        self.store_writer.write_files(self.store, (self.entity, self.project, self.run_id), records)

    def on_system_sample(self, ts: float, row: dict[str, Any]) -> None:
        """One system-metrics sample for this run's system stream."""
        if self.system is None or self.finishing is not None or self.state in TERMINAL:
            return
        row["_timestamp"] = ts
        row["_runtime"] = self.committer.runtime_offset + (ts - self.committer.start_time)
        self.system.add(row)
        self.system_latest = row
        self.dirty = True

    def writers(self) -> list[HistoryWriter]:
        return [w for w in (self.history, self.system) if w is not None]

    def on_alert(self, spec: AlertSpec, write_file: bool = True) -> dict[str, Any]:
        """Throttle and record an alert (jsonl unless replaying, store); return its record."""
        record = self.alerts.decide(spec.to_wire(), write_file)
        self.store_alert(record)
        return record

    def store_alert(self, record: dict[str, Any]) -> None:
        if self.store is None:
            return
        self.store_writer.write_alerts(
            self.store,
            [{**record, "entity": self.entity, "project": self.project, "run_id": self.run_id}],
        )

    # -- finishing -------------------------------------------------------------------------
    def begin_finish(self, state: str, exit_code: int | None) -> None:
        """Commit the pending row and cut the last history part; :meth:`poll_finish` ends it."""
        if self.finishing is not None or self.state in TERMINAL:
            return
        self.finishing = state
        self.exit_code = exit_code
        self.committer.flush()
        self._exports_to_finish = True
        self._finish_exports()
        self.log(f"finishing as {state} (exit code {exit_code})")

    def _finish_exports(self) -> None:
        """Cut the last parts and start the final copies, once no row waits for its media."""
        if not self._exports_to_finish or not self.media.idle:
            return
        self._exports_to_finish = False
        self.media.clear()
        for writer in self.writers():
            writer.finish()
        # their final content: the file syncer copies it (on the copier, retried) with the rest
        self._write_files()
        self.files.begin_finish()

    def poll_finish(self) -> bool:
        """Complete a finish whose export is done; True once the run is closed.

        Closing takes two steps: once every export and copy is done the final state is set
        and its catalogue row submitted; the run is closed (and its waiters answered) when
        that write has landed, so a reader that hears "finished" finds it in the store.
        """
        if self.finishing is None:
            return False
        self._finish_exports()
        if self._exports_to_finish:
            return False
        if not self.closing:
            for writer in self.writers():
                writer.retry(time.monotonic())
                if not writer.idle:
                    return False
            if not self.files.idle or not self.artifacts.idle:
                return False
            self.files.finalize_links()
            self.state = self.finishing
            self.closing = True
            self.dirty = True
        if self.store is not None and (self.dirty or self._catalogue_inflight):
            self.write_catalogue(force=True)
            return False
        self.finishing = None
        self.closing = False
        if self.txlog is not None:
            self.txlog.close()
        reply = self.finish_reply()
        for waiter in self.finish_waiters:
            waiter(reply)
        self.finish_waiters.clear()
        self.log(f"closed as {self.state}: {self.rows_committed} rows")
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        return True

    def finish_reply(self) -> FinishReply:
        return FinishReply(
            state=self.state,
            rows=self.rows_committed,
            summary=_json_safe(self.summary.view()),
            where=self.store.uri if self.store is not None else self.run_dir,
            last_seq=self.last_seq,
        )

    def _write_files(self, names: tuple[str, ...] = RUN_FILES[:3]) -> None:
        """Write config.yaml, summary.json, metadata.json into ``files/`` (live files: synced
        by the file syncer)."""
        files = os.path.join(self.run_dir, "files")
        content = {
            "config.yaml": lambda: config_yaml(self.config),
            "summary.json": lambda: json.dumps(
                _json_safe(self.summary.view()), indent=1, default=str
            ),
            "metadata.json": lambda: json.dumps(
                _public_metadata(self.info.metadata), indent=1, default=str
            ),
        }
        try:
            os.makedirs(files, exist_ok=True)
            for name in names:
                tmp = os.path.join(files, f".{name}.tmp")
                with open(tmp, "w") as fh:
                    fh.write(content[name]())
                os.replace(tmp, os.path.join(files, name))
        except OSError as exc:
            self.log(f"could not write run files: {exc}")

    # -- liveness --------------------------------------------------------------------------
    def process_alive(self) -> bool:
        """Whether the training process that owns the run still runs (zombies count as dead)."""
        if not self.pid:
            return True
        import psutil

        try:
            if self._proc is None:
                self._proc = psutil.Process(self.pid)
            return self._proc.is_running() and self._proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    # -- catalogue -------------------------------------------------------------------------
    @property
    def rows_committed(self) -> int:
        return self.base_rows + self.committer.rows

    def write_catalogue(self, force: bool = False) -> None:
        """Submit the run's row to the store writer (at most once a second unless forced).

        One write in flight per run: rows land in order, and a change made meanwhile is
        written by the next one.
        """
        if self.store is None or not (self.dirty or force) or self._catalogue_inflight:
            return
        now = time.monotonic()
        if not force and now - self.last_catalogue < CATALOGUE_PERIOD:
            return
        self.last_catalogue = now
        self.dirty = False
        self._catalogue_inflight = True
        self.store_writer.put_run(self.store, self.catalogue_record(), self._catalogue_written)

    def when_written(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the run's current state is in the catalogue."""
        self.dirty = True
        self._catalogue_waiters.append(callback)
        self.write_catalogue(force=True)

    def _catalogue_written(self, error: Any) -> None:
        self._catalogue_inflight = False
        if isinstance(error, Exception):
            self.dirty = True  # written again on a later tick; the log keeps everything
            self.log(f"could not write the catalogue: {error}")
            return
        self.sync_time = time.time()
        if self._catalogue_waiters:
            if self.dirty:  # changed again meanwhile: the waiters wait for that write
                self.write_catalogue(force=True)
                return
            waiters, self._catalogue_waiters = self._catalogue_waiters, []
            for callback in waiters:
                callback()

    def catalogue_record(self) -> dict[str, Any]:
        info, history = self.info, self.history
        return {
            "entity": self.entity,
            "project": self.project,
            "run_id": self.run_id,
            "name": info.name,
            "state": self.state,
            "group_name": info.group,
            "job_type": info.job_type,
            "tags": list(info.tags or []),
            "notes": info.notes,
            "config": _json_safe(self.config),
            "summary": _json_safe(self.summary.view()),
            "summary_state": _json_safe(self.summary.to_state()),
            "metadata": _public_metadata(info.metadata),
            "system_metrics": _json_safe(self.system_latest),
            "created_at": self.created_at,
            "heartbeat_at": time.time(),
            "exit_code": self.exit_code,
            "last_step": self.committer.last_committed,
            "rows_committed": self.rows_committed,
            "rows_exported": history.rows_exported if history else 0,
            "history_keys": history.logged_keys() if history else [],
            "history_parts": history.next_part if history else 0,
            "run_dir": self.run_dir,
            "mode": self.mode,
            "runtime": self.committer.last_runtime,
            "host": info.metadata.get("host"),
            "user": info.entity,
            # the row's position in the run's log: a late write never replaces a newer row
            "write_seq": self.last_seq,
        }

    def status(self) -> RunStatusReply:
        history = self.history
        committer = self.committer
        return RunStatusReply(
            path=f"{self.entity}/{self.project}/{self.run_id}",
            id=self.run_id,
            state=self.state,
            dir=self.run_dir,
            mode=self.mode,
            pid=self.pid,
            last_step_committed=committer.last_committed,
            rows_committed=self.rows_committed,
            history_rows_exported=history.rows_exported if history else 0,
            sync_items_total=self.records,
            sync_items_pending=history.pending if history else 0,
            sync_time=self.sync_time,
            files_pending=self.files.pending(),
            files_bytes_copied=self.files.bytes_copied,
            files_copies=self.files.copies,
            file_errors=self.files.errors(),
            alerts_sent=self.alerts.sent,
            alerts_throttled=self.alerts.throttled,
            alert_file_errors=self.alerts.file_errors,
            steps_dropped=committer.dropped,
            first_dropped_step=committer.first_dropped_step,
            first_dropped_key=committer.first_dropped_key,
            export_error=history.error if history else None,
            artifacts_pending=self.artifacts.status(),
            **(self.txlog.status() if self.txlog is not None else {}),
        )


def _discard(row: dict) -> None:
    pass


def _public_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k != "sys_path"}


def _json_safe(value: Any) -> Any:
    """Values as JSON can hold them (NaN and infinities kept as floats; bytes as text)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and not math.isfinite(value):
        return value
    return value


def config_yaml(config: dict[str, Any]) -> str:
    """W&B's ``config.yaml`` layout; values in JSON flow style, which is valid YAML."""
    lines = []
    for key, value in config.items():
        lines.append(f"{json.dumps(key)}:")
        lines.append(f"  value: {json.dumps(value, default=str)}")
    return "\n".join(lines) + ("\n" if lines else "")
