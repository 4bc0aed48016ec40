"""The user-facing ``Run`` of the training process (§4).

Everything here is cheap: ``log`` validates and flattens in the caller, encodes one record
and hands it to the transport. Steps follow W&B's rules and are tracked here too, so
``run.step`` needs no round trip; the sidecar applies the same rules to commit rows.
"""

from __future__ import annotations

import dataclasses
import datetime
import operator
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracker import state
from tracker.alert_level import AlertLevel, check_alert
from tracker.artifact_ops import ArtifactMethods
from tracker.client.null import NullTransport
from tracker.errors import CommError, UsageError
from tracker.mappings import Config, Summary
from tracker.metric import Metric, check_definition
from tracker.proto.messages import Kind, encode, encode_log
from tracker.proto.payloads import FinishReply, RunChanges, RunInfo, RunStatusReply
from tracker.saving import link, plan_save
from tracker.settings import Settings, default_store
from tracker.values import flatten

_CONTROL_TIMEOUT = 30.0


@dataclass(frozen=True)
class RunStatus:
    """What the sidecar reports about a run (§4.8)."""

    sync_items_total: int = 0
    sync_items_pending: int = 0
    sync_time: datetime.datetime | None = None
    last_step_committed: int = -1
    history_rows_exported: int = 0
    files_pending: dict | None = None
    files_bytes_copied: int = 0
    files_copies: int = 0
    file_errors: tuple[str, ...] = ()
    alerts_sent: int = 0
    alerts_throttled: int = 0
    steps_dropped: int = 0
    first_dropped_step: int | None = None
    first_dropped_key: str | None = None
    state: str = "running"
    log_bytes: int = 0
    log_synced_bytes: int = 0
    log_synced_at: datetime.datetime | None = None
    artifacts_pending: dict | None = None


class Run(ArtifactMethods):
    """A unit of computation logged by tracker, usually one training job.

    Created by :func:`tracker.init`; at most one is active per process (``tracker.run``).

    Example:
        >>> import tracker
        >>> with tracker.init(project="demo", config={"lr": 0.01}) as run:
        ...     for step in range(100):
        ...         run.log({"loss": 1 / (step + 1), "train": {"acc": step / 100}})
    """

    def __init__(
        self,
        *,
        info: RunInfo,
        settings: Settings,
        conn: Any,
        token: int,
        starting_step: int,
        resumed: bool,
        config: dict[str, Any],
        transport: Any = None,
    ) -> None:
        self._info = info
        self._settings = settings
        # no connection: a disabled run (or a unit test); it answers its own questions
        self._conn = conn
        if transport is None:
            transport = conn.transport if conn is not None else NullTransport()
        self._transport = transport
        self._token = token
        self._starting_step = starting_step
        self._step = starting_step
        self._resumed = resumed
        self._seq = 0
        self._finished = False
        self._final_summary: dict | None = None
        self._local_summary: dict[str, Any] = {}
        self._warned_drop = False
        self._finish_lock = threading.Lock()
        self._config = Config(config, self._send_config)
        self._summary = Summary(self._fetch_summary, self._send_summary)
        self._metrics: dict[str, Metric] = {}
        self._alerts_delivered: dict[str, float] = {}
        self._max_message = settings.max_message_bytes
        self._console = None
        self._resume_file: str | None = None  # resume="auto": removed by a clean finish
        self.debug(
            f"init {self.path} mode={self.mode} pid={os.getpid()} starting_step={starting_step} "
            f"resumed={resumed} sidecar={getattr(conn, 'paths', None) and conn.paths.endpoint}"
        )

    def _start_console(self) -> None:
        """Capture stdout/stderr into files/output.log, synced by the sidecar as a live file."""
        if self._settings.console != "redirect" or self.disabled:
            return
        from tracker.console import ConsoleCapture

        path = os.path.join(self.dir, "output.log")
        try:
            self._console = ConsoleCapture(path)
        except OSError as exc:
            self.debug(f"console capture unavailable: {exc}")
            return
        self._send(Kind.SAVE, {"policy": "live", "files": [["output.log", path]]})

    def _send(self, kind: Kind, *fields: Any) -> None:
        """Publish a persisted record of this run with the next sequence number."""
        self._seq += 1
        self._transport.publish(
            encode(kind, self._token, self._seq, *fields), self._token, self._seq
        )

    def debug(self, text: str) -> None:
        """Append a line to the run's ``logs/debug.log`` (the SDK's side of the story)."""
        if self.disabled:
            return
        try:
            with open(os.path.join(self.sync_dir, "logs", "debug.log"), "a") as fh:
                fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
        except OSError:
            pass

    # -- attributes ------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The run id, unique within its project."""
        return self._info.id

    @property
    def name(self) -> str:
        """The display name (settable)."""
        return self._info.name

    @name.setter
    def name(self, value: str) -> None:
        self._update_run(name=str(value))

    @property
    def notes(self) -> str | None:
        """Free-form notes (settable)."""
        return self._info.notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._update_run(notes=value)

    @property
    def tags(self) -> tuple[str, ...]:
        """Tags (settable with any sequence of strings)."""
        return tuple(self._info.tags or ())

    @tags.setter
    def tags(self, value: Any) -> None:
        tags = [value] if isinstance(value, str) else list(value)
        if not all(isinstance(t, str) for t in tags):
            raise TypeError("tags must be strings")
        self._update_run(tags=tags)

    @property
    def group(self) -> str:
        return self._info.group or ""

    @property
    def job_type(self) -> str:
        return self._info.job_type or ""

    @property
    def entity(self) -> str:
        return self._info.entity

    @property
    def project(self) -> str:
        return self._info.project

    @property
    def path(self) -> str:
        """``entity/project/id``."""
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def dir(self) -> str:
        """The run's ``files/`` folder, as in W&B: what is written there is synced at finish
        (``save`` is not needed) and keeps its name there."""
        return os.path.join(self._info.dir, "files")

    @property
    def sync_dir(self) -> str:
        """The run folder (§7): ``files/``, ``logs/`` and the transaction log, the folder
        ``tracker-service sync`` takes (W&B's ``settings.sync_dir``)."""
        return self._info.dir

    @property
    def config(self) -> Config:
        return self._config

    @property
    def summary(self) -> Summary:
        return self._summary

    @property
    def step(self) -> int:
        """The next step to be committed."""
        return self._step

    @property
    def starting_step(self) -> int:
        return self._starting_step

    @property
    def start_time(self) -> float:
        return self._info.start_time

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def settings(self) -> Settings:
        """A frozen copy of the run's settings."""
        return self._settings

    @property
    def sweep_id(self) -> None:
        return None

    @property
    def mode(self) -> str:
        return self._info.mode

    @property
    def offline(self) -> bool:
        return self._info.mode == "offline"

    @property
    def disabled(self) -> bool:
        return self._info.mode == "disabled"

    @property
    def url(self) -> str | None:
        """The run's page in the local web UI (None for offline and disabled runs)."""
        return self.get_url()

    def get_url(self) -> str | None:
        """Return the run's URL in the local web UI, or None when offline or disabled."""
        if self.mode != "online":
            return None
        return f"{self._ui_base()}/{self.entity}/{self.project}/runs/{self.id}"

    def get_project_url(self) -> str | None:
        """Return the project's URL in the local web UI, or None when offline or disabled."""
        if self.mode != "online":
            return None
        return f"{self._ui_base()}/{self.entity}/{self.project}"

    def to_html(self, height: int = 420, hidden: bool = False) -> str:
        """Return an HTML iframe of the run's page in the local web UI (for notebooks).

        Args:
            height: the frame's height in pixels.
            hidden: return an empty string (W&B's argument).

        Returns:
            The ``<iframe>`` markup, or a short note when the run has no page (offline).
        """
        import html

        url = self.get_url()
        if hidden:
            return ""
        if url is None:
            return (
                f"<p>tracker run {html.escape(self.id)} ({html.escape(self.mode)}): no web page</p>"
            )
        return (
            f'<iframe src="{html.escape(url, quote=True)}" style="border:none;width:100%;'
            f'height:{int(height)}px"></iframe>'
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def display(self, height: int = 420, hidden: bool = False) -> bool:
        """Show the run's page inline in Jupyter; return whether it was displayed."""
        try:
            from IPython.display import display
        except ImportError:
            return False
        # raw mime data: IPython's HTML() warns about every <iframe> it is given
        display({"text/html": self.to_html(height, hidden), "text/plain": repr(self)}, raw=True)
        return True

    def get_sweep_url(self) -> None:
        """Return None: sweeps are not part of tracker."""
        return None

    def project_name(self) -> str:
        """Return the project name."""
        return self.project

    def _page(self) -> str | None:
        """The run's page in a UI that serves its store now (§11); None when none does."""
        from tracker.client.runtime import serving_ui

        base = serving_ui(default_store()) if self.url else None
        return f"{base}/{self.entity}/{self.project}/runs/{self.id}" if base else None

    @staticmethod
    def _ui_command() -> str:
        return f"tracker-service ui --store {default_store()}"

    def _ui_base(self) -> str:
        return f"http://127.0.0.1:{self._settings.ui_port}"

    # -- log -------------------------------------------------------------------------------
    def log(
        self,
        data: Mapping[str, Any],
        step: int | None = None,
        commit: bool | None = None,
        sync: bool | None = None,
    ) -> None:
        """Log a row of metrics (§4.1). Never blocks on the sidecar, the disk or the network.

        Args:
            data: a mapping of ``str`` keys; nested mappings become ``a.b`` columns.
            step: the step to log at; below the current step the call is dropped (warned
                once, counted in ``status()``) unless ``settings.strict_steps``.
            commit: ``False`` merges into the pending row; default commits unless ``step``
                is given.
            sync: ignored (kept for W&B compatibility).

        Raises:
            TypeError: ``data`` is not a mapping, a key is not a ``str``, or ``step`` is not
                an int.
            ValueError: a reserved key or an unsupported value (the key is named); a step
                below the current one with ``strict_steps``.
            Error: the run is finished.
        """
        if self._finished:
            raise UsageError(f"run {self.id} is finished; log() needs an active run")
        if not isinstance(data, Mapping):
            raise TypeError(f"log() takes a mapping of str keys, got {type(data).__name__}")
        flat = flatten(data)
        if step is None:
            do_commit = commit is None or bool(commit)
        else:
            if type(step) is not int:
                step = _check_step(step)
            if step < self._step:
                self._step_dropped(step, flat)
                do_commit = False
            else:
                self._step = step
                do_commit = bool(commit)
        self._seq += 1
        payload = encode_log(self._token, self._seq, step, do_commit, time.time(), flat)
        if len(payload) > self._max_message:
            self._seq -= 1
            raise ValueError(_too_big(payload, flat, self._max_message))
        self._transport.publish(payload, self._token, self._seq)
        if do_commit:
            self._step += 1

    def _step_dropped(self, step: int, flat: dict) -> None:
        msg = (
            f"Tried to log to step {step} that is less than the current step {self._step}. "
            "Steps must be monotonically increasing, so this data will be ignored."
        )
        if self._settings.strict_steps:
            raise ValueError(msg + f" (keys: {', '.join(sorted(flat)) or '(none)'})")
        if not self._warned_drop:
            self._warned_drop = True
            self.debug(msg)
            self._print(
                f"tracker: warning: {msg} Further drops in this run are counted in status()."
            )

    # -- summary, config, metrics ----------------------------------------------------------
    def _fetch_summary(self) -> dict:
        if self._final_summary is not None:
            return self._final_summary
        if self._conn is None:
            return self._local_summary
        return self._request(Kind.GET_SUMMARY, self._token)["summary"]

    def _send_summary(self, changes: dict, removed: list) -> None:
        if self._finished:
            raise UsageError(
                f"run {self.id} is finished; its summary can be edited with tracker.Api()"
            )
        changes = {k: _plain(k, v) for k, v in changes.items()}
        if self._conn is None:
            self._local_summary.update(changes)
            for key in removed:
                self._local_summary.pop(key, None)
            return
        self._send(Kind.SUMMARY, changes, removed)

    def _send_config(self, changes: dict) -> None:
        if self._finished:
            raise UsageError(
                f"run {self.id} is finished; its config can be edited with tracker.Api()"
            )
        for key, value in changes.items():
            _plain(key, value)
        self._send(Kind.CONFIG, changes)

    def _update_run(self, **changes: Any) -> None:
        if self._finished:
            raise UsageError(f"run {self.id} is finished")
        for key, value in changes.items():
            setattr(self._info, key, value)
        self._send(Kind.RUN_UPDATE, RunChanges(**changes))

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
        **kwargs: Any,
    ) -> Metric:
        """Customize a metric's summary and x axis (§4.3).

        Args:
            name: the flattened key, or a prefix ending with ``*``.
            step_metric: the key to use as this metric's x axis, or the :class:`Metric`
                an earlier ``define_metric`` returned.
            step_sync: fill in the latest ``step_metric`` value in rows that lack it
                (default True when ``step_metric`` is given).
            hidden: hide the metric from charts.
            summary: comma list of ``min,max,mean,first,last,best,none,copy``.
            goal: ``minimize`` or ``maximize``: what ``best`` means.
            overwrite: replace an earlier definition instead of merging with it.
            **kwargs: W&B's other options (unknown to tracker): noted in the debug log.

        Returns:
            The :class:`Metric` as it now applies.

        Raises:
            Error: a bad argument (named in the message), or a finished run.
        """
        if self._finished:
            raise UsageError(f"run {self.id} is finished")
        if isinstance(step_metric, Metric):
            step_metric = step_metric.name
        if kwargs:
            self.debug(f"define_metric({name!r}): ignored W&B options {sorted(kwargs)}")
        spec = check_definition(name, step_metric, step_sync, hidden, summary, goal, overwrite)
        if self._conn is not None:
            self._seq += 1
            seq = self._seq
            reply = self._conn.request(
                Kind.DEFINE_METRIC,
                self._token,
                seq,
                spec,
                timeout=_CONTROL_TIMEOUT,
                token=self._token,
                seq=seq,
            )
            spec = reply["metric"]
        metric = Metric(
            name=spec["name"],
            step_metric=spec.get("step_metric"),
            step_sync=spec.get("step_sync"),
            hidden=spec.get("hidden"),
            summary=tuple(spec.get("summary") or ()),
            goal=spec.get("goal"),
        )
        self._metrics[metric.name] = metric
        return metric

    # -- files -----------------------------------------------------------------------------
    def save(
        self,
        glob_str: str | os.PathLike | None = None,
        base_path: str | os.PathLike | None = None,
        policy: str = "live",
    ) -> list[str]:
        """Sync files to the store by policy; the glob is expanded now (§4.5).

        Args:
            glob_str: a relative or absolute path or Unix glob.
            base_path: the path the stored names are relative to (see the examples).
            policy: ``live`` (on every change, at most once per ``settings.live_interval``,
                and once more at finish), ``now`` (once, at once) or ``end`` (at finish).

        Returns:
            The sorted paths of the links created in the run's ``files/`` folder.

        Raises:
            ValueError: a bad policy, or a match outside ``base_path``.

        Example:
            >>> run.save("checkpoints/*.pt", policy="end")
            >>> run.save("/data/run123/*.txt")              # stored as run123/<file>
            >>> run.save("these/are/myfiles/*", base_path="these")  # are/myfiles/<file>
        """
        if glob_str is None:
            return []
        if self._finished:
            raise UsageError(f"run {self.id} is finished; save() needs an active run")
        return self._save_plan(plan_save(glob_str, base_path, policy, self.dir), policy)

    def _save_plan(self, plan: list[tuple[str, str]], policy: str) -> list[str]:
        """Link each ``(name, source)`` into ``files/`` and ask the sidecar to sync them."""
        files_dir = self.dir
        if self.disabled:
            return [os.path.join(files_dir, name) for name, _ in plan]
        created = [link(files_dir, name, source) for name, source in plan]
        if plan:
            self._send(
                Kind.SAVE, {"policy": policy, "files": [[name, source] for name, source in plan]}
            )
        return created

    def log_code(
        self,
        root: str | None = ".",
        name: str | None = None,
        include_fn: Any = None,
        exclude_fn: Any = None,
    ) -> list[str] | None:
        """Save the code under ``root`` as files of the run (``code/<path>``), copied at once.

        Args:
            root: the folder to walk.
            name: a label for this code snapshot (kept in the run's debug log; the artifact
                form comes with artifacts).
            include_fn: ``f(path)`` or ``f(path, root)``; default: ``.py`` files and Dockerfiles.
            exclude_fn: ``f(path)`` or ``f(path, root)``; default: the ``tracker/`` run
                folders, ``.git``, ``.venv`` and ``__pycache__``.

        Returns:
            The links created under ``files/code/``, or None when nothing matched.
        """
        from tracker.saving import exclude_tracker_dirs, is_py_or_dockerfile, plan_code

        if self._finished:
            raise UsageError(f"run {self.id} is finished; log_code() needs an active run")
        plan = plan_code(
            root or ".",
            include_fn or is_py_or_dockerfile,
            exclude_fn or exclude_tracker_dirs,
            os.path.dirname(self.sync_dir),
        )
        if not plan:
            return None
        self.debug(
            f"log_code {name or 'source-' + self.project}: {len(plan)} files from {os.path.abspath(root or '.')}"
        )
        files_dir = self.dir
        if self.disabled:
            return [os.path.join(files_dir, n) for n, _ in plan]
        created = [link(files_dir, n, src) for n, src in plan]
        self._send(Kind.SAVE, {"policy": "now", "files": [[n, src] for n, src in plan]})
        self._log_code_artifact(plan, name)
        return created

    def restore(
        self,
        name: str,
        run_path: str | None = None,
        replace: bool = False,
        root: str | None = None,
    ) -> Any:
        """Open a file of this run (or of ``run_path``) from the store.

        The file goes to ``root`` (default: ``run.dir``), downloaded only if it is not
        there already unless ``replace``. A file this run saved is read from the run's own
        ``files/`` (its copy to the store may not be done yet).

        Returns:
            The file, open for reading.

        Raises:
            ValueError: no such file or run.
        """
        from tracker.api.files import restore_file

        root = root or self.dir
        own = os.path.join(self.dir, name)
        if run_path in (None, self.path, self.id) and os.path.isfile(own):
            dest = os.path.join(root, name)
            if os.path.realpath(dest) != os.path.realpath(own):
                if replace or not os.path.exists(dest):
                    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
                    import shutil

                    shutil.copyfile(own, dest)
            return open(dest)
        return restore_file(name, run_path or self.path, replace, root)

    # -- alerts ----------------------------------------------------------------------------
    def alert(
        self,
        title: str,
        text: str,
        level: str | AlertLevel | None = None,
        wait_duration: int | float | datetime.timedelta | None = None,
    ) -> None:
        """Raise an alert; the sidecar throttles, records and delivers it (§4.6).

        An alert with the same title within ``wait_duration`` of the last one delivered is
        counted and skipped. It always goes to the run's ``logs/alerts.jsonl`` and the store,
        to this console (one line, unless silent) and to ``settings.alert_webhook`` if set.

        Args:
            title: non-empty, shorter than 64 characters.
            text: the body.
            level: ``INFO`` (default), ``WARN`` or ``ERROR``, or an :class:`AlertLevel`.
            wait_duration: seconds (int, float or timedelta) before another alert with this
                title is delivered; default 60; 0 means no throttling.

        Raises:
            ValueError: a bad title or level.
            TypeError: a bad text or wait_duration type.
            Error: the run is finished.
        """
        if self._finished:
            raise UsageError(f"run {self.id} is finished; alert() needs an active run")
        spec = check_alert(title, text, level, wait_duration)
        spec["ts"] = time.time()
        # The console sink is this process's: apply the sidecar's throttle rule here too.
        last = self._alerts_delivered.get(spec["title"])
        if last is None or spec["ts"] - last >= spec["wait_duration"]:
            self._alerts_delivered[spec["title"]] = spec["ts"]
            self._print(f"tracker: alert [{spec['level']}] {spec['title']}: {spec['text']}")
        self._send(Kind.ALERT, spec)

    # -- watch -----------------------------------------------------------------------------
    def watch(
        self,
        models: Any,
        criterion: Any = None,
        log: str | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> None:
        """Log histograms of a torch model's gradients and/or parameters every ``log_freq``
        forward passes, as ``gradients/<name>`` and ``parameters/<name>`` (§10).

        Args:
            models: a ``torch.nn.Module`` or a list of them.
            criterion: ignored (kept for W&B compatibility).
            log: ``gradients``, ``parameters``, ``all`` or None.
            log_freq: forward passes between two logs.
            idx: the index used to prefix names (``graph_<idx>.``) of several models.
            log_graph: ignored (graphs are not drawn).

        Raises:
            ValueError: a bad argument (named in the message).
        """
        from tracker.watching import watch

        watch(self, models, log, log_freq, idx)

    def unwatch(self, models: Any = None) -> None:
        """Remove the hooks :meth:`watch` set on ``models`` (all of them when None)."""
        from tracker.watching import unwatch

        unwatch(self, models)

    # -- lifecycle -------------------------------------------------------------------------
    def status(self) -> RunStatus:
        """Ask the sidecar how far this run's records have been processed (§4.8).

        Raises:
            Error: the run is finished, or the sidecar did not answer.
        """
        if self._finished:
            raise UsageError(f"run {self.id} is finished; use tracker.Api() to read it")
        if self._conn is None:
            return RunStatus(last_step_committed=self._step - 1)
        body = self._request(Kind.STATUS, self._token)
        return _status_from(body)

    def mark_preempting(self) -> None:
        """Mark the run as being preempted: if the process then dies it is ``preempted``."""
        if self._finished:
            raise UsageError(f"run {self.id} is finished")
        self._send(Kind.PREEMPTING)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Finish the run: wait until the sidecar has persisted and exported everything.

        The wait lasts at most ``settings.finish_timeout`` seconds; after that the run is
        finished here all the same, with a warning (on stderr unless silent, and to the
        ``tracker`` logger) that names the run's transaction log and the
        ``tracker-service sync`` command that completes the run from it.

        Args:
            exit_code: 0 or None: ``finished``; anything else: ``failed``.
            quiet: do not print the closing summary.

        Raises:
            Error: the sidecar refused to finish the run.
        """
        with self._finish_lock:
            if self._finished:
                return
            self._finished = True
            try:
                self.debug(f"finish exit_code={exit_code} at step {self._step}")
                if self.__dict__.get("_watches"):
                    self.unwatch()
                if self._console is not None:
                    self._console.stop()
                    self._console = None
                if self._conn is not None:
                    self._finish_remote(exit_code, quiet)
                else:
                    self._final_summary = dict(self._local_summary)
                if self._resume_file and not exit_code:
                    os.remove(self._resume_file)
            finally:
                if state.active_run() is self:
                    state.set_active_run(None)

    def join(self, exit_code: int | None = None) -> None:
        """Deprecated alias of :meth:`finish`."""
        self.finish(exit_code=exit_code)

    def _finish_remote(self, exit_code: int | None, quiet: bool | None) -> None:
        self._seq += 1
        seq = self._seq
        done = threading.Event()
        if not self._settings.silent:
            threading.Thread(target=self._progress, args=(done,), daemon=True).start()
        try:
            reply = self._conn.request(
                Kind.FINISH,
                self._token,
                seq,
                exit_code,
                timeout=self._settings.finish_timeout,
                token=self._token,
                seq=seq,
            )
        except CommError as exc:
            reply = None
            self._warn_unfinished(exc)
        finally:
            done.set()
            # finished here either way: a new sidecar must not be started for this run
            self._transport.forget_run(self._token)
        if reply is None:
            self._final_summary = dict(self._local_summary)
            return
        final = FinishReply.from_wire(reply)
        self.debug(f"finished: {final.state} with {final.rows} rows")
        self._final_summary = final.summary
        if not quiet:
            self._print_footer(final)

    def _warn_unfinished(self, exc: CommError) -> None:
        txlog = os.path.join(self.sync_dir, f"run-{self.id}.trk")
        msg = (
            f"tracker: warning: run {self.id} did not finish within "
            f"{self._settings.finish_timeout:g} s (settings.finish_timeout): {exc}. "
            f"The sidecar keeps the run's records in its transaction log {txlog}; "
            f"complete the run with: tracker-service sync {self.sync_dir}"
        )
        self.debug(msg)
        _logger().warning(msg)
        self._print(msg)

    def _progress(self, done: threading.Event) -> None:
        if done.wait(1.0):
            return
        started = time.monotonic()
        while not done.wait(1.0):
            self._print(
                f"tracker: finishing run {self.id}: flushing history ({time.monotonic() - started + 1:.0f} s)"
            )

    def _print_footer(self, reply: FinishReply) -> None:
        lines = [
            f"tracker: run {self.name} ({self.id}) {reply.state}: {reply.rows} rows in "
            f"{reply.where or self.sync_dir}"
        ]
        summary = {k: v for k, v in reply.summary.items() if not k.startswith("_")}
        # the numbers first, as W&B's run summary; media by their type (a histogram's bins
        # or a table's reference are for the UI, not the terminal)
        keys = sorted(summary, key=lambda k: (not isinstance(summary[k], (int, float)), k))
        for key in keys[:10]:
            lines.append(f"tracker:   {key} {_footer_value(summary[key])}")
        if len(keys) > 10:
            lines.append(f"tracker:   ... and {len(keys) - 10} more")
        if self.offline:
            lines.append(f"tracker: sync it with: tracker-service sync {self.sync_dir}")
        elif self.url:
            page = self._page()
            lines.append(f"tracker: {page or 'see it in a browser: ' + self._ui_command()}")
        self._print("\n".join(lines))

    def _print(self, text: str) -> None:
        if not self._settings.silent:
            print(text, file=sys.stderr)

    def _request(self, kind: Kind, *fields: Any) -> Any:
        return self._conn.request(kind, *fields, timeout=_CONTROL_TIMEOUT)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.finish(exit_code=1 if exc_type is not None else 0)
        return False

    def __repr__(self) -> str:
        return f"<tracker.Run {self.path} ({self.mode})>"


def _too_big(payload: bytes, flat: dict, limit: int) -> str:
    from tracker.proto.messages import pack_value

    biggest = max(flat, key=lambda k: len(pack_value(flat[k])), default=None)
    return (
        f"log() data is {len(payload)} bytes, more than settings.max_message_bytes ({limit}); "
        f"the largest value is key {biggest!r}"
    )


def _check_step(step: Any) -> int:
    if isinstance(step, bool):
        raise TypeError(f"log() step must be an int, got bool {step!r}")
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(f"log() step must be an int, got {type(step).__name__} {step!r}") from None


def _plain(key: str, value: Any) -> Any:
    """Check that a config/summary value can be stored (nested dicts and lists allowed)."""
    from tracker.values import normalize

    if isinstance(value, Mapping):
        return {str(k): _plain(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(f"{key}[{i}]", v) for i, v in enumerate(value)]
    if value is None or type(value) in (int, float, str, bool):
        return value
    return normalize(key, value)


def _status_from(body: dict) -> RunStatus:
    reply = RunStatusReply.from_wire(body)
    fields = {f.name: getattr(reply, f.name) for f in dataclasses.fields(RunStatus)}
    fields.update(
        sync_time=_utc(reply.sync_time),
        log_synced_at=_utc(reply.log_synced_at),
        file_errors=tuple(reply.file_errors),
        files_pending=reply.files_pending or {"live": 0, "now": 0, "end": 0},
    )
    return RunStatus(**fields)


def _utc(ts: float | None) -> datetime.datetime | None:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc) if ts else None


def _logger() -> Any:
    """The ``tracker`` logger, quiet unless the application configures logging (``logging``
    costs ``import tracker`` 17 ms, so it is imported when there is something to say)."""
    import logging

    logger = logging.getLogger("tracker")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def _footer_value(value: Any) -> str:
    """A summary value as the closing summary prints it: short, on one line."""
    if isinstance(value, dict) and isinstance(value.get("_type"), str):
        return f"<{value['_type']}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
