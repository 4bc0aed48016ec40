"""The run registry: which runs this sidecar holds, and how each got here.

A run enters by ``INIT`` (new or resumed: :meth:`Registry.open`) or by a takeover
(``INIT`` with ``reattach``: :meth:`Registry.reattach`, which rebuilds the run from its
transaction log when this sidecar does not hold it), and leaves by :meth:`Registry.close`
(finished, failed, crashed, preempted) or :meth:`Registry.hand_over` (the sidecar stops while
the training process lives on; the next sidecar takes the run over from its log). Everything
here runs on the ingest thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tracker.proto import frames
from tracker.proto.payloads import FinishReply, InitReply, RunInfo
from tracker.service.artifacts import ArtifactWorker
from tracker.service.export import Exporter
from tracker.service.probe import probe
from tracker.service.replay import apply_records, truncate_torn_tail
from tracker.service.sampler import Sampler
from tracker.service.session import TERMINAL, RunSession
from tracker.service.storewriter import StoreWriter
from tracker.service.syncer import Copier
from tracker.service.txlog import LogSyncer, TxLogWriter, replay
from tracker.service.watcher import ChangeWatcher
from tracker.service.worker import Worker
from tracker.store.base import Store
from tracker.store.keys import stream_prefix
from tracker.store.parts import parts_from

# a takeover of a run that is closed already: acknowledge every sequence number
ALL_SEQ = 2**62
_CLOSED_KEPT = 1000


@dataclass
class Stages:
    """The sidecar's stages that runs are wired to (one of each per sidecar)."""

    store: Store
    exporter: Exporter
    copier: Copier
    store_writer: StoreWriter
    sampler: Sampler
    watcher: ChangeWatcher
    log_syncer: LogSyncer
    prober: Worker
    artifacts: ArtifactWorker = field(default_factory=ArtifactWorker)
    media: Any = None  # the media stage (media_book.media_stage)

    def session(self, info: RunInfo, token: int, previous: dict | None, **kw: Any) -> RunSession:
        return RunSession(
            info,
            token,
            self.store,
            self.exporter,
            previous,
            copier=self.copier,
            watcher=self.watcher,
            store_writer=self.store_writer,
            artifact_worker=self.artifacts,
            media=self.media,
            **kw,
        )


class Registry:
    """The runs of one sidecar, by token and by (entity, project, id)."""

    def __init__(self, stages: Stages) -> None:
        self.stages = stages
        self.sessions: dict[int, RunSession] = {}
        self.by_ref: dict[tuple[str, str, str], RunSession] = {}
        self.closed: dict[int, FinishReply] = {}  # token -> final answer, for late askers
        self.closed_records = 0

    def get(self, token: Any) -> RunSession | None:
        return self.sessions.get(token)

    def by_name(self, ref: tuple[str, str, str]) -> RunSession | None:
        return self.by_ref.get(ref)

    # -- entering --------------------------------------------------------------------------
    def open(self, info: RunInfo, raw: bytes, ident: bytes | None) -> InitReply:
        """Register a new or resumed run (the ``INIT`` record ``raw`` starts its log).

        Raises:
            ValueError: the run is already running, or ``resume`` cannot be honoured.
        """
        store = self.stages.store
        live = self.by_ref.get(info.ref)
        if live is not None and live.token == info.token and live.pid == info.pid:
            # the same INIT again (resent while the first was being answered): same answer
            return self._init_reply(live, info)
        if live is not None and live.state not in TERMINAL:
            raise ValueError(f"run {info.path} is already running in process {live.pid}")
        previous = None
        if info.mode == "online":
            previous = store.catalogue.get_run(*info.ref)
            if previous is not None and info.resume in (None, "never"):
                raise ValueError(
                    f"run {info.path} already exists; pass resume='allow' or resume='must' "
                    "to continue it, or use another id"
                )
            if previous is None and info.resume == "must":
                raise ValueError(f"resume='must' but run {info.path} does not exist in {store.uri}")
        if info.token <= 0 or info.token in self.sessions:
            raise ValueError(f"run token {info.token!r} is not usable (missing or in use)")
        names = self.stages.sampler.gpu_names()
        if names:
            info.metadata["gpu_names"] = names
        sess = self.stages.session(info, info.token, previous)
        sess.ident = ident
        sess.save_segment(previous)
        sess.txlog.append(raw)
        self._add(sess)
        sess.write_catalogue(force=True)
        sess.start_run_files()
        metadata = dict(info.metadata)
        self.stages.prober.submit(
            lambda: probe(metadata), lambda result: self._probed(info.token, result), "probe"
        )
        sess.log(f"{'resumed' if sess.resumed else 'started'} run {info.path} pid {sess.pid}")
        return self._init_reply(sess, info)

    @staticmethod
    def _init_reply(sess: RunSession, info: RunInfo) -> InitReply:
        return InitReply(
            token=info.token,
            sidecar_pid=os.getpid(),
            starting_step=sess.committer.step,
            resumed=sess.resumed,
            config=sess.config,
            name=info.name,
            notes=info.notes,
            tags=list(info.tags or []),
            group=info.group,
            job_type=info.job_type,
        )

    def _probed(self, token: int, result: Any) -> None:
        sess = self.sessions.get(token)
        if sess is not None and not isinstance(result, Exception):
            sess.on_probe(*result)

    def reattach(self, info: RunInfo, ident: bytes | None) -> InitReply:
        """Take over a run whose sidecar stopped or died: rebuild it from its log."""
        token = info.token
        if token in self.closed:
            return InitReply(token=token, last_seq=self.closed[token].last_seq, closed=True)
        sess = self.sessions.get(token)
        if sess is None:
            record = (
                self.stages.store.catalogue.get_run(*info.ref) if info.mode == "online" else None
            )
            if record and record.get("state") in TERMINAL and record.get("run_dir") == info.dir:
                # closed already (the SDK asked late): never rebuild a finished run, and
                # answer its FINISH from the store's record
                self.closed[token] = FinishReply(
                    state=record["state"],
                    rows=record.get("rows_committed") or 0,
                    summary=record.get("summary") or {},
                    where=self.stages.store.uri,
                    last_seq=ALL_SEQ,
                )
                return InitReply(token=token, last_seq=ALL_SEQ, closed=True)
            sess = self._rebuild(info)
        sess.ident = ident
        return InitReply(token=token, last_seq=sess.last_seq, starting_step=sess.committer.step)

    def _rebuild(self, info: RunInfo) -> RunSession:
        path = os.path.join(info.dir, f"run-{info.id}.trk")
        exists = os.path.exists(path)
        cut = truncate_torn_tail(path) if exists else 0
        previous = RunSession.load_segment(info.dir)
        store = self.stages.store
        if info.mode == "online":
            # the history of this segment is exported again from the log: drop what the old
            # sidecar wrote of it, so that no row is there twice
            keep = (previous or {}).get("history_parts", 0) or 0
            blobs = store.blobs
            for key in parts_from(blobs.list(stream_prefix(*info.ref, "history")), keep):
                blobs.delete(key)
        sess = self.stages.session(info, info.token, previous, write_txlog=False)
        report = frames.ReadReport()
        finished, code, last_seq = (
            apply_records(sess, replay(path, report)) if exists else (False, None, 0)
        )
        sess.last_seq = sess.acked_seq = last_seq
        sess.txlog = TxLogWriter(path, info.settings.fsync_interval)
        sess.txlog.seq = sess.txlog.flushed_seq = sess.txlog.synced_seq = last_seq
        self._add(sess)
        if finished:
            sess.begin_finish("finished" if not code else "failed", code)
        sess.log(
            f"taken over by sidecar {os.getpid()}: {report.frames} log frames replayed up to "
            f"seq {last_seq}, {cut} torn bytes cut, {report.dropped} damaged frames skipped"
            + (f" at {report.damaged}" if report.damaged else "")
        )
        return sess

    def _add(self, sess: RunSession) -> None:
        self.sessions[sess.token] = sess
        self.by_ref[(sess.entity, sess.project, sess.run_id)] = sess
        if sess.txlog is not None:
            self.stages.log_syncer.add(sess.txlog)
        if sess.store is not None and sess.finishing is None:
            interval = float(sess.settings.system_sample_interval)
            self.stages.sampler.attach(sess.token, sess.pid, interval, sess.run_dir)

    # -- leaving ---------------------------------------------------------------------------
    def close(self, sess: RunSession) -> None:
        """Forget a closed run; its final answer is kept for a FINISH asked again."""
        self.closed_records += sess.records
        self.closed[sess.token] = sess.finish_reply()
        while len(self.closed) > _CLOSED_KEPT:
            self.closed.pop(next(iter(self.closed)))
        self._remove(sess)

    def hand_over(self, sess: RunSession) -> None:
        """Leave a live run to the next sidecar: its log is complete and on disk."""
        if sess.txlog is not None:
            sess.txlog.close()
        sess.log(
            f"sidecar {os.getpid()} stopping: run left to the next sidecar at seq {sess.last_seq}"
        )
        self.closed_records += sess.records
        self._remove(sess)

    def _remove(self, sess: RunSession) -> None:
        self.stages.sampler.detach(sess.token)
        if sess.txlog is not None:
            self.stages.log_syncer.remove(sess.txlog)
        self.sessions.pop(sess.token, None)
        if self.by_ref.get((sess.entity, sess.project, sess.run_id)) is sess:
            del self.by_ref[(sess.entity, sess.project, sess.run_id)]
