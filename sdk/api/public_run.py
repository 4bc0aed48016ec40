"""A run as read back from the store (§5; seeds 001 and 004)."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tracker.api.files import File
from tracker.api.history import (
    fetch_tail,
    part_keys,
    read_stream,
    rows_of,
    sample_indices,
    sample_stream,
    scan_stream,
)
from tracker.errors import Error, IncompleteRunHistoryError
from tracker.naming import generate_id
from tracker.store.keys import file_key, stream_prefix
from tracker.store.tables import NULLS

TERMINAL = ("finished", "failed", "crashed", "preempted")
STATES = ("running", "finished", "failed", "crashed", "preempting", "preempted", "pending")


@dataclass
class DownloadHistoryResult:
    """What :meth:`Run.download_history_exports` wrote."""

    paths: list[str]
    contains_live_data: bool
    errors: dict[str, str] = field(default_factory=dict)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat()


class Run:
    """A run in the store. Edit ``name``, ``notes``, ``tags``, ``group``, ``job_type``,
    ``config`` and ``summary``, then call :meth:`update` to persist them."""

    def __init__(
        self,
        client: Any = None,
        entity: str | dict[str, Any] | None = None,
        project: str | None = None,
        run_id: str | None = None,
        attrs: Any = None,
        include_sweeps: bool = True,
        lazy: bool = True,
    ) -> None:
        """Args:
        client: the :class:`tracker.Api` to read through (default: a new one).
        entity: the run's entity; or the run's catalogue record (what ``Api`` passes).
        project: the run's project.
        run_id: the run's id.
        attrs, include_sweeps, lazy: W&B's; accepted, unused.

        Raises:
            Error: no such run.
        """
        if client is None:
            from tracker.api.client import Api

            client = Api()
        self._api = client
        if isinstance(entity, dict):
            record = entity
        else:
            record = client.store.catalogue.get_run(entity, project, run_id)
            if record is None:
                raise Error(f"run {entity}/{project}/{run_id} not found in {client.store_root}")
        self._set(record)

    def _set(self, record: dict[str, Any]) -> None:
        self._record = record
        self.name: str = record.get("name") or record["run_id"]
        self.notes: str | None = record.get("notes")
        self.tags: list[str] = list(record.get("tags") or [])
        self.group: str | None = record.get("group_name")
        self.job_type: str | None = record.get("job_type")
        self.config: dict[str, Any] = dict(record.get("config") or {})
        self.summary: dict[str, Any] = dict(record.get("summary") or {})

    # -- identity and state ----------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._record["run_id"]

    @property
    def entity(self) -> str:
        return self._record["entity"]

    @property
    def project(self) -> str:
        return self._record["project"]

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def storage_id(self) -> str:
        return str(self._record["storage_id"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:8080/{self.entity}/{self.project}/runs/{self.id}"

    @property
    def state(self) -> str:
        return self._record.get("state") or "running"

    @property
    def user(self) -> str | None:
        return self._record.get("user")

    @property
    def username(self) -> str:
        """The run's entity (W&B's deprecated name for it)."""
        return self.entity

    @property
    def project_internal_id(self) -> str:
        """The project's id in the store: ``entity/project``."""
        return f"{self.entity}/{self.project}"

    @staticmethod
    def snake_to_camel(string: str) -> str:
        """``"created_at"`` → ``"createdAt"`` (W&B's helper for its field names)."""
        head, *rest = string.split("_")
        return head + "".join(part.title() for part in rest)

    @property
    def created_at(self) -> str | None:
        """ISO 8601 creation time (UTC)."""
        return _iso(self._record.get("created_at"))

    @property
    def heartbeat_at(self) -> str | None:
        return _iso(self._record.get("heartbeat_at"))

    @property
    def rawconfig(self) -> dict[str, Any]:
        return {k: {"value": v, "desc": None} for k, v in self.config.items()}

    @property
    def summary_metrics(self) -> dict[str, Any]:
        return self.summary

    @property
    def system_metrics(self) -> dict[str, Any]:
        """The latest system-metrics sample (empty until the sampler records one)."""
        return dict(self._record.get("system_metrics") or {})

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._record.get("metadata") or {})

    @property
    def history_keys(self) -> dict[str, Any]:
        """``{"keys": [...], "lastStep": N}`` of the exported history."""
        return {
            "keys": list(self._record.get("history_keys") or []),
            "lastStep": self.lastHistoryStep,
        }

    @property
    def lastHistoryStep(self) -> int:  # noqa: N802 - W&B's name
        last = self._record.get("last_step")
        return -1 if last is None else int(last)

    @property
    def read_only(self) -> bool:
        return False

    @property
    def sweep_name(self) -> None:
        return None

    @property
    def exit_code(self) -> int | None:
        return self._record.get("exit_code")

    def __repr__(self) -> str:
        return f"<Run {'/'.join(self.path)} ({self.state})>"

    # -- history ---------------------------------------------------------------------------
    def _stream(self, stream: str = "history") -> str:
        return stream_prefix(self.entity, self.project, self.id, stream)

    def _tail(self, min_step: int) -> list[dict]:
        if self.state in TERMINAL:
            return []
        return fetch_tail(self._api.store_root, self.entity, self.project, self.id, min_step)

    def _sampled_rows(
        self, cols: list[str] | None, keys: list[str] | None, stream: str, samples: int
    ) -> list[dict]:
        """At most ``samples`` rows having one of ``keys``, picked in the Arrow table: only
        the rows returned become Python objects (the UI's fast path, §11)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        name = "system" if stream == "system" else "history"
        if keys is None:  # every row counts: decode only the row groups holding the samples
            live = name == "history" and self.state not in TERMINAL
            tail = (lambda last: self._tail(last + 1)) if live else None
            return sample_stream(self._api.store.blobs, self._stream(name), samples, tail)
        read = None if cols is None else list(dict.fromkeys(["_step", *cols]))
        table = read_stream(self._api.store.blobs, self._stream(name), read)
        if keys is not None:
            present = [k for k in keys if k in table.column_names]
            mask = None
            for k in present:
                valid = pc.is_valid(table.column(k))
                mask = valid if mask is None else pc.or_(mask, valid)
            if NULLS in table.column_names:  # a key logged as None is a null that counts
                logged_none = pa.array(
                    [any(k in n for k in keys) if n else False for n in table[NULLS].to_pylist()]
                )
                mask = logged_none if mask is None else pc.or_(mask, logged_none)
            table = table.filter(mask) if mask is not None else table.slice(0, 0)
        tail = []
        if name == "history":
            last = table.column("_step")[-1].as_py() if table.num_rows else -1
            tail = [r for r in self._tail(0) if r["_step"] > last]
            if read is not None:
                tail = [{k: r[k] for k in read if k in r} for r in tail]
            if keys is not None:
                tail = [r for r in tail if any(k in r for k in keys)]
        n = table.num_rows
        picked = sample_indices(n + len(tail), samples)
        rows = rows_of(table.take(pa.array([i for i in picked if i < n], type=pa.int64())))
        return rows + [tail[i - n] for i in picked if i >= n]

    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
    ) -> Any:
        """At most ``samples`` rows spread evenly over the run, first and last included.

        Args:
            samples: the most rows to return.
            keys: only these columns (plus ``x_axis``), and only rows that have at least one.
            x_axis: the column kept with ``keys``.
            pandas: return a DataFrame (needs pandas) instead of a list of dicts.
            stream: ``"default"`` for the history, ``"system"`` (or W&B's ``"events"``) for
                system metrics.

        Raises:
            ValueError: bad ``keys`` or ``stream``.
        """
        stream = "system" if stream == "events" else stream
        if stream not in ("default", "system"):
            raise ValueError(
                f"history() stream must be 'default', 'system' or 'events', got {stream!r}"
            )
        if keys is not None and (
            not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys)
        ):
            raise ValueError("history() keys must be a list of strings")
        cols = None if keys is None else list(dict.fromkeys([x_axis, *keys]))
        rows = self._sampled_rows(cols, keys, stream, samples)
        if not pandas:
            return rows
        import pandas as pd

        return (
            pd.DataFrame.from_records(rows, columns=cols)
            if cols
            else pd.DataFrame.from_records(rows)
        )

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every row in step order, exported and not yet exported.

        Args:
            keys: only rows that have all of these, each holding only them and ``_step``.
            page_size: rows read per page.
            min_step: first step (inclusive).
            max_step: end step (exclusive).

        Raises:
            ValueError: ``keys`` is not a list of strings.
        """
        return self._scan(keys, page_size, min_step, max_step, live=True)

    def beta_scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int = 0,
        max_step: int | None = None,
        use_cache: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Like :meth:`scan_history`, over the exported parquet files only."""
        return self._scan(keys, page_size, min_step, max_step, live=False)

    def _scan(self, keys, page_size, min_step, max_step, live) -> Iterator[dict[str, Any]]:
        if keys is not None and (
            not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys)
        ):
            raise ValueError("scan_history() keys must be a list of strings")
        lo = 0 if min_step is None else int(min_step)
        hi = max_step

        def rows() -> Iterator[dict[str, Any]]:
            tail = self._tail(lo) if live else []
            cols = None if keys is None else list(dict.fromkeys(["_step", *keys]))
            last = -1
            for row in scan_stream(self._api.store.blobs, self._stream(), cols):
                step = row["_step"]
                last = step
                if step < lo or (hi is not None and step >= hi):
                    continue
                if keys is None or all(k in row for k in keys):
                    yield row
            for row in tail:
                step = row["_step"]
                if step <= last or step < lo or (hi is not None and step >= hi):
                    continue
                if keys is None:
                    yield dict(row)
                elif all(k in row for k in keys):
                    yield {k: row[k] for k in cols}

        return rows()

    def download_history_exports(
        self, download_dir: str, require_complete_history: bool = True
    ) -> DownloadHistoryResult:
        """Copy the run's exported parquet files to ``download_dir``.

        Returns:
            A :class:`DownloadHistoryResult` with the written paths.

        Raises:
            IncompleteRunHistoryError: rows are not exported yet and
                ``require_complete_history`` is True.
        """
        self.load(force=True)
        live = self._record.get("rows_committed", 0) > self._record.get("rows_exported", 0)
        if self.state not in TERMINAL:
            live = live or bool(self._tail(0))
        if live and require_complete_history:
            raise IncompleteRunHistoryError(
                f"run {'/'.join(self.path)} has history rows not exported to parquet yet"
            )
        os.makedirs(download_dir, exist_ok=True)
        paths, errors = [], {}
        blobs = self._api.store.blobs
        for i, key in enumerate(part_keys(blobs, self._stream())):
            dst = os.path.join(
                download_dir, f"{self.entity}_{self.project}_{self.id}_{i}.runhistory.parquet"
            )
            try:
                blobs.get_file(key, dst)
                paths.append(dst)
            except OSError as exc:
                errors[dst] = str(exc)
        return DownloadHistoryResult(paths=paths, contains_live_data=live, errors=errors)

    def files(
        self, names: list[str] | None = None, pattern: str | None = None, per_page: int = 50
    ) -> list[File]:
        """The run's files, by exact ``names`` or an SQL ``LIKE`` ``pattern`` (``"%.json"``).

        Raises:
            ValueError: both ``names`` and ``pattern`` are given.
        """
        if names is not None and pattern is not None:
            raise ValueError("files() takes names or pattern, not both")
        if isinstance(names, str):
            names = [names]
        records = self._api.store.catalogue.get_files(
            self.entity, self.project, self.id, names=names, pattern=pattern
        )
        return [File(self._api, self.path, r) for r in records]

    def media(self, key: str, step: int | None = None) -> list[Any]:
        """The logged media of ``key`` (images, tables, histograms...), in step order (§10).

        Args:
            key: the history key the media was logged under.
            step: only the media of this step.

        Returns:
            ``MediaFile`` objects (``.path``, ``.download(root)``, ``.to_numpy()``,
            ``.get_dataframe()``) and ``HistogramValue`` objects (``.values``, ``.bins``).
        """
        from tracker.api.media import media_of

        return media_of(self, key, step)

    def file(self, name: str) -> File | None:
        """The file called ``name``, or None."""
        found = self.files(names=[name])
        return found[0] if found else None

    def upload_file(self, path: str, root: str = ".") -> File:
        """Add a local file to the run's files, named by its path relative to ``root``.

        Raises:
            ValueError: ``path`` is not a file or lies outside ``root``.
        """
        if not os.path.isfile(path):
            raise ValueError(f"upload_file(): {path} is not a file")
        name = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
        if name == os.pardir or name.startswith(os.pardir + os.sep):
            raise ValueError(f"upload_file(): {path} is outside root {root}")
        store = self._api.store
        size, md5 = store.blobs.put_file(file_key(self.entity, self.project, self.id, name), path)
        store.catalogue.write_files(
            self.entity,
            self.project,
            self.id,
            [{"name": name, "size": size, "md5": md5, "updated_at": time.time(), "policy": "now"}],
        )
        return self.file(name)

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of the run (delivered or throttled): ``time``, ``level``, ``title``,
        ``text``, ``wait_duration``, ``outcome`` (``sent``/``throttled``) and ``webhook``."""
        return [
            {
                k: a[k]
                for k in ("time", "level", "title", "text", "wait_duration", "outcome", "webhook")
            }
            for a in self._api.store.catalogue.get_alerts(self.entity, self.project, self.id)
        ]

    # -- edits -----------------------------------------------------------------------------
    def update(self) -> None:
        """Persist edits of name, notes, tags, group, job_type, config and summary.

        A running run's edits are applied by the sidecar that holds it (its one writer), so
        they are kept while it goes on; other runs are edited in the store.

        Raises:
            Error: the sidecar holding the run did not answer.
        """
        from tracker.api.edits import run_changes, send_to_sidecar

        edited = {
            "name": self.name,
            "notes": self.notes,
            "tags": list(self.tags),
            "group": self.group,
            "job_type": self.job_type,
            "config": dict(self.config),
            "summary": dict(self.summary),
        }
        changes = run_changes(self._record, edited)
        if not changes.given():
            return
        ref = (self.entity, self.project, self.id)
        if self.state in TERMINAL or not send_to_sidecar(self._api.store_root, ref, changes):
            self._api.store.catalogue.put_run(
                {
                    "entity": self.entity,
                    "project": self.project,
                    "run_id": self.id,
                    "name": self.name,
                    "notes": self.notes,
                    "tags": edited["tags"],
                    "group_name": self.group,
                    "job_type": self.job_type,
                    "config": edited["config"],
                    "summary": edited["summary"],
                }
            )
        self.load(force=True)

    def save(self) -> None:
        """Same as :meth:`update`."""
        self.update()

    def delete(self, delete_artifacts: bool = False) -> None:
        """Remove the run and its history and files from the store; with
        ``delete_artifacts`` its logged versions too (their blobs go at ``gc``)."""
        if delete_artifacts:
            from tracker.api.artifact_read import delete_run_artifacts

            delete_run_artifacts(self._api, self)
        self._api.store.delete_run(self.entity, self.project, self.id)

    def logged_artifacts(self) -> list[Any]:
        """The artifact versions this run logged, oldest first."""
        from tracker.api.artifact_read import run_artifacts

        return run_artifacts(self._api, self, used=False)

    def used_artifacts(self) -> list[Any]:
        """The artifact versions this run used, oldest first."""
        from tracker.api.artifact_read import run_artifacts

        return run_artifacts(self._api, self, used=True)

    def use_artifact(self, artifact: Any, use_as: str | None = None) -> Any:
        """Record that this run used a stored version; return it."""
        self._api.store.catalogue.add_artifact_usage(
            artifact.id, self.entity, self.project, self.id
        )
        return artifact

    def log_artifact(
        self, artifact: Any, aliases: list[str] | None = None, tags: list[str] | None = None
    ) -> Any:
        """Log a draft artifact as an output of this (finished or imported) run, in this
        process: hashed and stored here, committed before it returns."""
        from tracker.api.artifact import check_aliases, draft_spec
        from tracker.store.artifact_build import Progress, build

        spec = draft_spec(artifact, "log", check_aliases(aliases), tags)
        for e in spec["entries"]:
            e.pop("is_tmp", None)
        result = build(self._api.store, (self.entity, self.project, self.id), spec, Progress([]))
        artifact._bind_stored(self._api, result["artifact"])
        return artifact

    def load(self, force: bool = False) -> dict[str, Any]:
        """Re-read the run's record from the store (always; ``force`` is accepted)."""
        record = self._api.store.catalogue.get_run(self.entity, self.project, self.id)
        if record is None:
            raise Error(f"run {'/'.join(self.path)} no longer exists")
        self._set(record)
        return record

    def load_full_data(self, force: bool = False) -> dict[str, Any]:
        """Same as :meth:`load`: everything is local."""
        return self.load(force=force)

    def wait_until_finished(self, timeout: float | None = None, poll: float = 0.25) -> str:
        """Block until the run is finished, failed, crashed or preempted; return the state.

        Raises:
            Error: ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.load()
            if self.state in TERMINAL:
                return self.state
            if deadline is not None and time.monotonic() > deadline:
                raise Error(f"run {'/'.join(self.path)} still {self.state} after {timeout} s")
            time.sleep(poll)

    def update_state(self, state: str) -> bool:
        """Set the state to ``pending`` (only from ``failed`` or ``crashed``).

        Raises:
            Error: any other change.
        """
        if state != "pending":
            raise Error(f"update_state() can only set 'pending', not {state!r}")
        self.load()
        if self.state not in ("failed", "crashed"):
            raise Error(
                f"update_state('pending') needs a failed or crashed run; this one is {self.state}"
            )
        self._api.store.catalogue.put_run(
            {"entity": self.entity, "project": self.project, "run_id": self.id, "state": "pending"}
        )
        self.load()
        return True

    @classmethod
    def create(
        cls,
        api: Any,
        run_id: str | None = None,
        project: str | None = None,
        entity: str | None = None,
        state: str = "running",
    ) -> Run:
        """Create an empty run record (``running`` or ``pending``), e.g. to be resumed later.

        Raises:
            Error: a bad state, or the run exists already.
        """
        if state not in ("running", "pending"):
            raise Error(f"create() state must be 'running' or 'pending', got {state!r}")
        run_id = run_id or generate_id()
        project = project or api.default_project
        entity = entity or api.default_entity
        if api.store.catalogue.get_run(entity, project, run_id) is not None:
            raise Error(f"run {entity}/{project}/{run_id} already exists")
        now = time.time()
        api.store.catalogue.put_run(
            {
                "entity": entity,
                "project": project,
                "run_id": run_id,
                "name": run_id,
                "state": state,
                "created_at": now,
                "heartbeat_at": now,
                "last_step": -1,
                "mode": "online",
                "user": entity,
            }
        )
        return cls(api, api.store.catalogue.get_run(entity, project, run_id))
