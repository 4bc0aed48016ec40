"""The sidecar for one store: its stages, wired together, and what each kind of message does.

Threads (see ARCHITECTURE.md): the ingest thread runs :class:`~tracker.service.ingest.Ingest`
and everything in this module (handlers, housekeeping, run state); each stage has its own:
exporter (parquet), copier (files), store writer (catalogue), prober (git, requirements),
webhooks (alerts), sampler (system metrics), log syncer (fsync), watcher (file changes).
Stages hand results back through queues that :meth:`Sidecar.tick` drains, so run state has
one writer.

Stopping (``tracker-service stop``, SIGTERM): runs being finished are finished; runs whose
training process is gone are closed (crashed or preempted); runs whose process still lives
are handed over (their log is complete and fsynced, nothing is closed), and their SDKs start
a new sidecar that takes them over from the log — nothing is lost, nobody waits forever.
Runs that cannot be closed within ``TRACKER_STOP_GRACE`` seconds (their store is down) are
left to their transaction logs, named in the log for ``tracker-service sync``; a second
SIGTERM stops at once.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from tracker.proto.messages import SEQUENCED, Kind
from tracker.proto.payloads import (
    HistoryTailReply,
    MetricReply,
    SidecarStatusReply,
    SummaryReply,
    UnknownRun,
)
from tracker.service.alerts import WebhookSender, slack_body
from tracker.service.export import Exporter
from tracker.service.ingest import Ingest, Request
from tracker.service.media_book import media_stage
from tracker.service.registry import Registry, Stages
from tracker.service.replay import APPLY
from tracker.service.sampler import Sampler
from tracker.service.session import TERMINAL, RunSession
from tracker.service.storewriter import StoreWriter
from tracker.service.syncer import Copier
from tracker.service.txlog import LogSyncer
from tracker.service.watcher import ChangeWatcher
from tracker.service.worker import Worker
from tracker.store import open_store

log = logging.getLogger("tracker.sidecar")

TICK_PERIOD = 0.25
LIVENESS_PERIOD = 1.0


class Sidecar:
    """The sidecar for one store."""

    def __init__(
        self,
        store_uri: str,
        idle_timeout: float,
        endpoint: str,
        socket_path: str,
        file_watch: str = "auto",
        s3_defaults: dict[str, str] | None = None,
        stop_grace: float = 30.0,
    ) -> None:
        self.idle_timeout = idle_timeout
        self.started = time.time()
        self.stopping = False
        self.stop_grace = stop_grace
        self.stop_deadline = float("inf")
        self.rate = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._last_liveness = 0.0
        self.webhooks = WebhookSender()
        self.stages = Stages(
            store=open_store(store_uri, s3_defaults),
            exporter=Exporter(),
            copier=Copier(),
            store_writer=StoreWriter(),
            sampler=Sampler(),
            watcher=ChangeWatcher(file_watch),
            log_syncer=LogSyncer(),
            prober=Worker("prober"),
            media=media_stage(),
        )
        self.registry = Registry(self.stages)
        self.ingest = Ingest(
            endpoint,
            socket_path,
            self.registry,
            records={
                # LOG comes here only when it failed the raw check: refused as malformed
                **{k: _applied(a) for k, a in APPLY.items() if k in SEQUENCED - {Kind.LOG}},
                Kind.DEFINE_METRIC: self.on_define_metric,
                Kind.FINISH: self.on_finish,
                Kind.ALERT: self.on_alert,
            },
            repeats={Kind.FINISH: self.on_finish_again, Kind.DEFINE_METRIC: self.on_define_again},
            requests={
                Kind.INIT: self.on_init,
                Kind.EDIT_RUN: self.on_edit_run,
                Kind.STATUS: self.on_status,
                Kind.GET_SUMMARY: self.on_get_summary,
                Kind.HISTORY_TAIL: self.on_history_tail,
                Kind.SIDECAR_STATUS: lambda m, raw, r: r.answer(self.status()),
                Kind.SHUTDOWN: self.on_shutdown,
                Kind.PING: lambda m, raw, r: r.answer({"pid": os.getpid()}),
                Kind.HEARTBEAT: lambda m, raw, r: None,
                Kind.ARTIFACT_REQUEST: self.on_artifact_request,
            },
        )
        self.workers: tuple[Any, ...] = (
            self.stages.exporter,
            self.stages.copier,
            self.stages.store_writer,
            self.stages.prober,
            self.stages.media,
            self.webhooks,
            self.stages.artifacts,
        )

    @property
    def store(self):
        return self.stages.store

    # -- requests --------------------------------------------------------------------------
    def on_init(self, msg: Any, raw: bytes, request: Request) -> None:
        if self.stopping:
            request.refuse("the sidecar is stopping; the next one takes the run")
            return
        info = msg.run_info
        if info.reattach:
            request.answer(self.registry.reattach(info, request.ident))
            return
        limit = info.settings.max_message_bytes
        if isinstance(limit, int) and limit > self.ingest.max_message_bytes:
            self.ingest.max_message_bytes = limit
        request.answer(self.registry.open(info, raw, request.ident))

    def on_edit_run(self, msg: Any, raw: bytes, request: Request) -> None:
        """An edit from the read API to a run this sidecar holds: logged, then applied."""
        sess = self.registry.by_name((msg.ref.entity, msg.ref.project, msg.ref.id))
        if sess is None or sess.state in TERMINAL or sess.finishing is not None:
            request.answer({"applied": False})  # not held here: the caller writes the store
            return
        self.ingest.append(sess, raw)
        sess.on_changes(msg.changes)
        sess.when_written(lambda: request.answer({"applied": True}))

    def _session(self, token: Any, request: Request) -> RunSession | None:
        sess = self.registry.get(token)
        if sess is None:
            request.refuse(UnknownRun(unknown_token=token, error=f"no run with token {token!r}"))
        return sess

    def on_status(self, msg: Any, raw: bytes, request: Request) -> None:
        sess = self._session(msg.token, request)
        if sess is not None:
            request.answer(sess.status())

    def on_artifact_request(self, msg: Any, raw: bytes, request: Request) -> None:
        """``wait()`` of a version (answered when it is done) or a distributed id's state."""
        sess = self._session(msg.token, request)
        if sess is None:
            return
        spec = msg.spec if isinstance(msg.spec, dict) else {}
        if msg.op == "wait" and isinstance(spec.get("id"), str):
            sess.artifacts.on_wait(spec["id"], request.answer)
        elif msg.op == "check" and sess.store is not None and spec.get("distributed_id"):
            finished = sess.store.catalogue.draft_finished(
                sess.entity, sess.project, str(spec["distributed_id"])
            )
            request.answer({"finished": finished})
        else:
            request.refuse(f"bad artifact request {msg.op!r} {spec!r:.200}")

    def on_get_summary(self, msg: Any, raw: bytes, request: Request) -> None:
        sess = self._session(msg.token, request)
        if sess is not None:
            request.answer(SummaryReply(summary=sess.summary.view()))

    def on_history_tail(self, msg: Any, raw: bytes, request: Request) -> None:
        sess = self.registry.by_name((msg.ref.entity, msg.ref.project, msg.ref.id))
        if sess is None or sess.history is None:
            request.answer(HistoryTailReply())
        else:
            rows = sess.history.tail(int(msg.min_step or 0))
            request.answer(HistoryTailReply(rows=rows, running=sess.state not in TERMINAL))

    def on_shutdown(self, msg: Any, raw: bytes, request: Request) -> None:
        self.stop()
        request.answer({"stopping": True})

    def stop(self) -> None:
        """Stop (``tracker-service stop``, SIGTERM): runs of live processes are handed over,
        and their records are no longer answered with unknown-run notices."""
        # a second stop (SIGTERM again) means now
        first = not self.stopping
        self.stop_deadline = time.monotonic() + (self.stop_grace if first else 0.0)
        self.stopping = True
        self.ingest.quiet = True

    # -- records ---------------------------------------------------------------------------
    def on_define_metric(self, sess: RunSession, msg: Any, request: Request) -> None:
        request.answer(MetricReply(metric=sess.on_define_metric(msg.spec)))

    def on_define_again(self, sess: RunSession, msg: Any, request: Request) -> None:
        name = msg.spec.name
        current = sess.summary.defs.get(name) or next(
            (spec for p, spec in sess.summary.globs if p + "*" == name), msg.spec.to_wire()
        )
        request.answer(MetricReply(metric={**current, "name": name}))

    def on_finish(self, sess: RunSession, msg: Any, request: Request) -> None:
        sess.finish_waiters.append(request.answer)
        sess.begin_finish("finished" if not msg.exit_code else "failed", msg.exit_code)
        if sess.poll_finish():
            self.registry.close(sess)

    def on_finish_again(self, sess: RunSession, msg: Any, request: Request) -> None:
        if sess.finishing is not None:
            sess.finish_waiters.append(request.answer)
        else:
            request.answer(sess.finish_reply())

    def on_alert(self, sess: RunSession, msg: Any, request: Request) -> None:
        record = sess.on_alert(msg.spec)
        url = sess.settings.alert_webhook
        if not url or record["outcome"] != "sent" or sess.mode != "online":
            return
        path = f"{sess.entity}/{sess.project}/{sess.run_id}"
        ui = f"http://127.0.0.1:{sess.settings.ui_port}/{sess.entity}/{sess.project}/runs/{sess.run_id}"
        record["webhook"] = "pending"

        def done(result: str) -> None:
            record["webhook"] = result
            sess.alerts.append(
                {"alert_id": record["alert_id"], "title": record["title"], "webhook": result}
            )
            sess.store_alert(record)

        self.webhooks.send(
            url, slack_body(record, path, ui), int(sess.settings.alert_retries), done
        )

    # -- the tick: drain the stages, tend every run ----------------------------------------
    def serve(self) -> None:
        self.ingest.serve(self.tick, TICK_PERIOD, self.hurry)

    def hurry(self) -> bool:
        """A run is finishing, or the sidecar stopping: tend to it after every read."""
        return self.stopping or any(
            s.finishing is not None for s in self.registry.sessions.values()
        )

    def tick(self, now: float, busy: bool) -> bool:
        """Housekeeping between bursts; True when the sidecar should exit."""
        try:
            self._tick(now)
        except Exception:
            log.exception("housekeeping failed; retrying on the next tick")
        return self.should_exit(now)

    def _tick(self, now: float) -> None:
        for worker in self.workers:
            worker.run_completed()
        self.stages.store_writer.flush(now)  # retries, once the backoff is over
        for token, ts, row in self.stages.sampler.drain():
            sess = self.registry.get(token)
            if sess is not None:
                sess.on_system_sample(ts, row)
        check_liveness = now - self._last_liveness >= LIVENESS_PERIOD
        if check_liveness:
            self._last_liveness = now
        changed = self.stages.watcher.take()
        for sess in list(self.registry.sessions.values()):
            try:
                self._tend(sess, now, check_liveness, changed)
            except Exception as exc:  # one run's trouble must not stall the others
                sess.log(f"housekeeping error: {exc!r}")
                log.exception("housekeeping of %s failed", sess.run_id)
        mark_t, mark_n = self._rate_mark
        if now - mark_t >= 1.0:
            total = self.records_total()
            self.rate = (total - mark_n) / (now - mark_t)
            self._rate_mark = (now, total)

    def _tend(self, sess: RunSession, now: float, check_liveness: bool, changed: set[str]) -> None:
        for writer in sess.writers():
            writer.retry(now)
            if writer.due(now):
                writer.cut()
        sess.refresh_run_files()
        sess.files.tick(now, changed)
        if sess.finishing is not None:
            if sess.poll_finish():
                self.registry.close(sess)
            return
        alive = sess.process_alive() if (check_liveness or self.stopping) else True
        if not alive:
            state = "preempted" if sess.preempting else "crashed"
            sess.log(f"training process {sess.pid} is gone without finishing: {state}")
            sess.begin_finish(state, None)
            return
        if self.stopping:
            self.hand_over(sess)
            return
        sess.write_catalogue()

    def hand_over(self, sess: RunSession) -> None:
        """Leave a live run to the next sidecar: its exports done, its log complete."""
        for writer in sess.writers():
            writer.cut()
        sess.write_catalogue(force=True)
        self.registry.hand_over(sess)

    def _leave_unfinished(self) -> None:
        """The stop's grace is over and runs are still not closed (their store is down, say):
        each is left to its transaction log, which holds every record, and named."""
        for sess in self.registry.sessions.values():
            msg = (
                f"stopping after {self.stop_grace:g} s (TRACKER_STOP_GRACE): run {sess.run_id} "
                f"is not closed ({sess.state}); its transaction log {sess.txlog_path} holds "
                f"every record: complete it with tracker-service sync {sess.run_dir}"
            )
            sess.log(msg)
            log.warning(msg)

    def records_total(self) -> int:
        return sum(s.records for s in self.registry.sessions.values()) + (
            self.registry.closed_records
        )

    def should_exit(self, now: float) -> bool:
        if self.registry.sessions:
            if self.stopping and now >= self.stop_deadline:
                self._leave_unfinished()
                return True
            return False
        if self.webhooks.pending and not self.stopping:
            return False  # let alert deliveries finish (bounded by their retries)
        if self.stopping:
            return True
        return now - self.ingest.last_activity >= self.idle_timeout

    # -- status ----------------------------------------------------------------------------
    def status(self) -> SidecarStatusReply:
        sessions = self.registry.sessions.values()
        stages = [*self.workers, self.stages.sampler, self.stages.log_syncer, self.stages.watcher]
        return SidecarStatusReply(
            pid=os.getpid(),
            store=self.store.uri,
            started=self.started,
            uptime=time.time() - self.started,
            queue_depth=sum(s.history.pending for s in sessions if s.history),
            records_per_s=round(self.rate, 1),
            rejected=dict(self.ingest.rejected),
            errors={s.errors.stage: s.errors.as_dict() for s in stages if s.errors.count},
            fsyncs=self.stages.log_syncer.fsyncs,
            file_watch=self.stages.watcher.mode,
            runs=[s.status() for s in sessions],
            backlog=self.backlog(),
        )

    def backlog(self) -> dict[str, Any]:
        """What waits for the store: catalogue writes, history rows, file copies (§13)."""
        sessions = self.registry.sessions.values()
        return {
            **self.stages.store_writer.backlog(),
            "history_rows": sum(w.pending for s in sessions for w in s.writers()),
            "export_errors": [w.error for s in sessions for w in s.writers() if w.error],
            "files": sum(sum(s.files.pending().values()) for s in sessions),
        }

    def close(self) -> None:
        """Stop every stage (each finishes what it was given) and release the socket."""
        for sess in list(self.registry.sessions.values()):
            if sess.txlog is not None:
                sess.txlog.close()
        self.ingest.close()
        # catalogue writes still queued get a last chance (the next sidecar rewrites the rows
        # of the runs it takes over from their logs)
        self.stages.store_writer.drain(timeout=5.0)
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.run_completed()
        self.stages.log_syncer.stop()
        self.stages.sampler.stop()
        self.stages.watcher.stop()
        self.store.close()


def _applied(apply: Any) -> Any:
    """A record handler that applies the record and answers nothing."""
    return lambda sess, msg, request: apply(sess, msg)
