"""The sidecar process: one ZeroMQ ROUTER socket, one ingest loop, one exporter thread.

The loop reads batches of records from the SDKs, appends each run's records to its
transaction log, feeds the committer, answers requests, and between batches does the
housekeeping: flush transaction logs, cut history parts, write the catalogue, notice dead
training processes (crashed within a second or two), finish runs whose export is done,
and exit when idle. A malformed, oversized or unknown message is refused and counted; it
never stops the loop.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

import zmq
from tracker.proto import frames
from tracker.proto import messages as proto
from tracker.proto.messages import Kind, ProtoError
from tracker.client.runtime import SidecarPaths, sidecar_paths
from tracker.service.alerts import WebhookSender, slack_body
from tracker.service.export import Exporter
from tracker.service.probe import probe
from tracker.service.queues import drain
from tracker.service.replay import apply_records, truncate_torn_tail
from tracker.service.sampler import Sampler
from tracker.service.session import TERMINAL, RunSession
from tracker.store import open_store
from tracker.store.keys import stream_prefix
from tracker.store.parts import parts_from
from tracker.service.syncer import Copier
from tracker.service.txlog import TxLogWriter, replay
from tracker.service.watcher import ChangeWatcher

log = logging.getLogger("tracker.sidecar")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# The SDK cuts batches at 64 KiB, so a batch holds one large message plus at most this much.
BATCH_SLACK = 128 * 1024
HOUSEKEEPING_PERIOD = 0.25
LIVENESS_PERIOD = 1.0


class Sidecar:
    """The sidecar for one store."""

    def __init__(self, store_uri: str, idle_timeout: float, paths: SidecarPaths) -> None:
        self.paths = paths
        self.idle_timeout = idle_timeout
        self.store = open_store(store_uri)
        self.exporter = Exporter()
        self.webhooks = WebhookSender()
        self.sampler = Sampler()
        self.copier = Copier()
        self.watcher = ChangeWatcher()
        self.probes: queue.SimpleQueue = queue.SimpleQueue()
        self.closed_replies: dict[int, dict] = {}
        self._unknown_notices: dict[tuple, float] = {}
        self.sessions: dict[int, RunSession] = {}
        self.by_ref: dict[tuple[str, str, str], RunSession] = {}
        self.next_token = 1
        self.rejected: Counter[str] = Counter()
        self.started = time.time()
        self.rate = 0.0
        self.max_message_bytes = MAX_MESSAGE_BYTES
        self._closed_records = 0
        self._last_liveness = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self.last_activity = time.monotonic()
        self.stopping = False
        ctx = zmq.Context.instance()
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 1000)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.setsockopt(zmq.SNDHWM, 0)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        if os.path.exists(paths.socket):
            os.unlink(paths.socket)
        self.sock.bind(paths.endpoint)
        os.chmod(paths.socket, 0o600)

    # -- main loop -------------------------------------------------------------------------
    def serve(self) -> None:
        sock = self.sock
        next_housekeeping = 0.0
        while True:
            timeout = 20 if self.stopping else int(HOUSEKEEPING_PERIOD * 1000)
            if sock.poll(timeout, zmq.POLLIN):
                for _ in range(64):
                    try:
                        ident, data = sock.recv_multipart(zmq.NOBLOCK, copy=True)
                    except zmq.Again:
                        break
                    except ValueError:
                        self.rejected["malformed"] += 1
                        continue
                    try:
                        self.handle_batch(ident, data)
                    except Exception:  # never let one batch stop the loop
                        self.rejected["failed"] += 1
                        log.exception("a batch could not be handled")
                # after every burst: what we took goes to the OS, and its SDKs hear so (the
                # acknowledgements are their flow control)
                self.flush_txlogs()
                self.last_activity = time.monotonic()
            else:
                self.flush_txlogs()
            now = time.monotonic()
            if now >= next_housekeeping or self.stopping:
                self.flush_txlogs()
                try:
                    self.housekeeping(now)
                except Exception:
                    log.exception("housekeeping failed; retrying on the next tick")
                next_housekeeping = now + HOUSEKEEPING_PERIOD
                if self.should_exit(now) and not sock.poll(0, zmq.POLLIN):
                    return

    def flush_txlogs(self) -> None:
        """Hand buffered log records to the OS, then acknowledge them to their SDKs."""
        for sess in self.sessions.values():
            if sess.txlog is not None and sess.txlog.dirty:
                try:
                    sess.txlog.flush()
                except OSError as exc:
                    sess.log(f"could not write the transaction log: {exc}")
                    continue
            if sess.last_seq > sess.acked_seq and sess.ident is not None:
                sess.acked_seq = sess.last_seq
                self.reply(sess.ident, 0, True, {"ack": [[sess.token, sess.last_seq]]})

    # -- ingest ----------------------------------------------------------------------------
    def handle_batch(self, ident: bytes, data: bytes) -> None:
        if len(data) > self.max_message_bytes + BATCH_SLACK:
            self.rejected["oversized"] += 1
            log.warning("refused a %d-byte message (limit %d)", len(data), self.max_message_bytes)
            return
        sessions = self.sessions
        span_sess: RunSession | None = None
        span_start = span_end = 0
        is_log = proto.is_log
        try:
            for obj, start, end in proto.iter_batch(data):
                if is_log(obj):
                    sess = sessions.get(obj[2])
                    if sess is None or sess.state in TERMINAL or sess.finishing:
                        self.rejected["unknown_run"] += 1
                        if sess is None:
                            self._unknown_token(obj[2], ident)
                        continue
                    seq = obj[3]
                    if seq != sess.last_seq + 1:
                        self._out_of_order(sess, seq, ident)
                        continue
                    sess.last_seq = seq
                    if sess is not span_sess or start != span_end:
                        if span_sess is not None:
                            self._append(span_sess, data[span_start:span_end])
                        span_sess, span_start = sess, start
                    span_end = end
                    sess.records += 1
                    sess.on_log(obj[4], obj[5], obj[6], obj[7])
                    continue
                if span_sess is not None:
                    self._append(span_sess, data[span_start:span_end])
                    span_sess = None
                self.handle_message(ident, obj, data[start:end])
        except ProtoError as exc:
            self.rejected["malformed"] += 1
            log.warning("refused a malformed batch: %s", exc)
        if span_sess is not None:
            self._append(span_sess, data[span_start:span_end])

    def _append(self, sess: RunSession, payload: bytes) -> None:
        if sess.txlog is not None:
            try:
                sess.txlog.append(payload)
            except (OSError, ValueError) as exc:
                sess.log(f"could not append to the transaction log: {exc}")

    def reply(self, ident: bytes, rid: Any, ok: bool, body: Any) -> None:
        if not isinstance(rid, int):
            return  # rid 0 carries acknowledgements
        try:
            self.sock.send_multipart([ident, proto.encode_reply(rid, ok, body)], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.warning("could not answer request %s: %s", rid, exc)

    def handle_message(self, ident: bytes, obj: Any, raw: bytes) -> None:
        try:
            msg = proto.to_message(obj)
        except ProtoError as exc:
            reason = (
                "unknown_kind"
                if "unknown message kind" in str(exc)
                else ("bad_version" if "newer" in str(exc) else "malformed")
            )
            self.rejected[reason] += 1
            log.warning("refused a message: %s", exc)
            rid = obj[2] if isinstance(obj, list) and len(obj) > 2 else None
            self.reply(ident, rid, False, str(exc))
            return
        kind, f = msg.kind, msg.fields
        rid = f.get("request_id")
        try:
            if kind == Kind.INIT:
                self.reply(ident, rid, True, self.handle_init(f["run_info"], raw, ident))
                return
            if kind in proto.PERSISTED:
                token = f.get("token")
                sess = self.sessions.get(token)
                if sess is None and kind == Kind.FINISH and token in self.closed_replies:
                    self.reply(ident, rid, True, self.closed_replies[token])  # asked again
                    return
                if sess is None or sess.state in TERMINAL:
                    self.rejected["unknown_run"] += 1
                    if sess is None:
                        self._unknown_token(token, ident)
                    self.reply(
                        ident,
                        rid,
                        False,
                        {"error": f"no running run with token {token!r}", "unknown_token": token},
                    )
                    return
                seq = f.get("seq") or 0
                if seq and seq <= sess.last_seq:
                    self._answer_again(sess, kind, f, ident, rid)
                    return
                if seq and seq != sess.last_seq + 1:
                    self._out_of_order(sess, seq, ident)
                    return
                if seq:
                    sess.last_seq = seq
                self._append(sess, raw)
                sess.records += 1
                if kind == Kind.FINISH:
                    code = f["exit_code"]
                    sess.finish_waiters.append(lambda body: self.reply(ident, rid, True, body))
                    sess.begin_finish("finished" if not code else "failed", code)
                    if sess.poll_finish():
                        self._closed(sess)
                    return
                if kind == Kind.ALERT:
                    self.deliver_alert(sess, sess.on_alert(f["spec"]))
                    return
                body = sess.apply(kind.name, f)
                if rid is not None:
                    self.reply(ident, rid, True, body or {})
                return
            if kind == Kind.STATUS:
                sess = self.sessions.get(f["token"])
                if sess is None:
                    self.reply(ident, rid, False, f"no run with token {f['token']!r}")
                else:
                    self.reply(ident, rid, True, sess.status())
            elif kind == Kind.GET_SUMMARY:
                sess = self.sessions.get(f["token"])
                if sess is None:
                    self.reply(ident, rid, False, f"no run with token {f['token']!r}")
                else:
                    self.reply(ident, rid, True, {"summary": sess.summary.view()})
            elif kind == Kind.HISTORY_TAIL:
                ref = f["ref"] or {}
                sess = self.by_ref.get((ref.get("entity"), ref.get("project"), ref.get("id")))
                if sess is None or sess.history is None:
                    self.reply(ident, rid, True, {"rows": [], "running": False})
                else:
                    rows = sess.history.tail(int(f["min_step"] or 0))
                    self.reply(
                        ident, rid, True, {"rows": rows, "running": sess.state not in TERMINAL}
                    )
            elif kind == Kind.SIDECAR_STATUS:
                self.reply(ident, rid, True, self.status())
            elif kind == Kind.SHUTDOWN:
                self.stopping = True
                self.reply(ident, rid, True, {"stopping": True})
            elif kind == Kind.PING:
                self.reply(ident, rid, True, {"pid": os.getpid()})
            elif kind == Kind.HEARTBEAT:
                pass
        except Exception as exc:  # a bad request must never stop the loop
            self.rejected["failed"] += 1
            log.exception("request %s failed", kind.name)
            self.reply(ident, rid, False, f"{kind.name} failed: {exc}")

    def _unknown_token(self, token: Any, ident: bytes) -> None:
        """Tell an SDK that this sidecar does not know its run (it took over from one that
        died): the SDK registers the run again and sends what was not acknowledged."""
        now = time.monotonic()
        key = (ident, token)
        if now - self._unknown_notices.get(key, 0.0) >= 0.5:
            self._unknown_notices[key] = now
            if len(self._unknown_notices) > 10_000:
                self._unknown_notices.clear()
            self.reply(ident, 0, True, {"unknown_token": token})

    def _out_of_order(self, sess: RunSession, seq: int, ident: bytes) -> None:
        """A record that is already applied (skipped) or that follows a gap (refused).

        Records of one run arrive in order on one socket; a gap only happens around a
        sidecar restart, when an old connection delivers late. The record is refused and the
        SDK asked to send again everything after the last applied one.
        """
        if seq <= sess.last_seq:
            return
        self.rejected["out_of_order"] += 1
        now = time.monotonic()
        if now - sess.last_resend_request >= 0.5:
            sess.last_resend_request = now
            self.reply(ident, 0, True, {"resend": [sess.token, sess.last_seq]})

    def _answer_again(self, sess: RunSession, kind: Kind, f: dict, ident: bytes, rid: Any) -> None:
        """A request sent again after a sidecar restart whose record is already applied."""
        if kind == Kind.FINISH:
            waiter = lambda body: self.reply(ident, rid, True, body)  # noqa: E731
            if sess.finishing is not None:
                sess.finish_waiters.append(waiter)
            else:
                waiter(sess.finish_reply())
        elif kind == Kind.DEFINE_METRIC:
            name = f["spec"]["name"]
            current = sess.summary.defs.get(name) or next(
                (spec for p, spec in sess.summary.globs if p + "*" == name), f["spec"]
            )
            self.reply(ident, rid, True, {"metric": {**current, "name": name}})

    def handle_init(self, info: dict, raw: bytes, ident: bytes | None = None) -> dict:
        if not isinstance(info, dict):
            raise ValueError("run_info must be a map")
        if info.get("reattach"):
            return self.reattach(info, ident)
        ref = (info["entity"], info["project"], info["id"])
        live = self.by_ref.get(ref)
        if live is not None and live.state not in TERMINAL:
            raise ValueError(f"run {'/'.join(ref)} is already running in process {live.pid}")
        previous = None
        resume = info.get("resume")
        if info.get("mode", "online") == "online":
            previous = self.store.get_run(*ref)
            if previous is not None and resume in (None, "never"):
                raise ValueError(
                    f"run {'/'.join(ref)} already exists; pass resume='allow' or resume='must' "
                    "to continue it, or use another id"
                )
            if previous is None and resume == "must":
                raise ValueError(
                    f"resume='must' but run {'/'.join(ref)} does not exist in {self.store.uri}"
                )
        limit = (info.get("settings") or {}).get("max_message_bytes")
        if isinstance(limit, int) and limit > self.max_message_bytes:
            self.max_message_bytes = limit
        token = info.get("token")
        if not isinstance(token, int) or token <= 0:
            token = self.next_token
            self.next_token += 1
        if token in self.sessions:
            raise ValueError(f"run token {token} is already in use")
        names = self.sampler.gpu_names()
        if names and isinstance(info.get("metadata"), dict):
            info["metadata"]["gpu_names"] = names
        sess = RunSession(
            info,
            token,
            self.store,
            self.exporter,
            previous,
            copier=self.copier,
            watcher=self.watcher,
        )
        sess.ident = ident
        sess.save_segment(previous)
        self._append(sess, raw)
        self.sessions[token] = sess
        self.by_ref[ref] = sess
        sess.write_catalogue(force=True)
        sess.start_run_files()
        metadata = dict(info.get("metadata") or {})
        threading.Thread(
            target=self._probe, args=(token, metadata), name="probe", daemon=True
        ).start()
        if sess.store is not None:
            interval = float((info.get("settings") or {}).get("system_sample_interval", 2.0))
            self.sampler.attach(token, sess.pid, interval, sess.run_dir)
        sess.log(f"{'resumed' if sess.resumed else 'started'} run {'/'.join(ref)} pid {sess.pid}")
        return {
            "token": token,
            "sidecar_pid": os.getpid(),
            "starting_step": sess.committer.step,
            "resumed": sess.resumed,
            "config": sess.config,
            "name": info.get("name"),
            "notes": info.get("notes"),
            "tags": list(info.get("tags") or []),
            "group": info.get("group"),
            "job_type": info.get("job_type"),
        }

    def reattach(self, info: dict, ident: bytes | None) -> dict:
        """Take over a run whose sidecar died: rebuild it from its transaction log."""
        token = info["token"]
        if token in self.closed_replies:
            return {
                "token": token,
                "last_seq": self.closed_replies[token]["last_seq"],
                "closed": True,
            }
        sess = self.sessions.get(token)
        if sess is None:
            if info.get("mode", "online") == "online":
                record = self.store.get_run(info["entity"], info["project"], info["id"])
                if (
                    record
                    and record.get("state") in TERMINAL
                    and record.get("run_dir") == info["dir"]
                ):
                    # closed already (the SDK asked late): never rebuild a finished run
                    return {"token": token, "last_seq": 2**62, "closed": True}
            sess = self._rebuild(info, token)
        sess.ident = ident
        return {"token": token, "last_seq": sess.last_seq, "starting_step": sess.committer.step}

    def _rebuild(self, info: dict, token: int) -> RunSession:
        ref = (info["entity"], info["project"], info["id"])
        path = os.path.join(info["dir"], f"run-{info['id']}.trk")
        cut = truncate_torn_tail(path) if os.path.exists(path) else 0
        previous = RunSession.load_segment(info["dir"])
        online = info.get("mode", "online") == "online"
        if online:
            # the history of this segment is exported again from the log: drop what the old
            # sidecar wrote of it, so that no row is there twice
            keep = (previous or {}).get("history_parts", 0) or 0
            blobs = self.store.blobs
            for key in parts_from(blobs.list(stream_prefix(*ref, "history")), keep):
                blobs.delete(key)
        sess = RunSession(
            info,
            token,
            self.store,
            self.exporter,
            previous,
            write_txlog=False,
            copier=self.copier,
            watcher=self.watcher,
        )
        report = frames.ReadReport()
        finished, code, last_seq = (
            apply_records(sess, replay(path, report)) if os.path.exists(path) else (False, None, 0)
        )
        sess.last_seq = sess.acked_seq = last_seq
        sess.txlog = TxLogWriter(path)
        self.sessions[token] = sess
        self.by_ref[ref] = sess
        if finished:
            sess.begin_finish("finished" if not code else "failed", code)
        elif sess.store is not None:
            interval = float((info.get("settings") or {}).get("system_sample_interval", 2.0))
            self.sampler.attach(token, sess.pid, interval, sess.run_dir)
        sess.log(
            f"taken over by sidecar {os.getpid()} after its sidecar died: {report.frames} log frames "
            f"replayed up to seq {last_seq}, {cut} torn bytes cut, {report.dropped} damaged frames skipped"
            + (f" at {report.damaged}" if report.damaged else "")
        )
        return sess

    def _probe(self, token: int, metadata: dict) -> None:
        try:
            self.probes.put((token, *probe(metadata)))
        except Exception as exc:  # the probe is a nicety: never let it hurt the run
            log.warning("environment probe failed: %s", exc)

    def deliver_alert(self, sess: RunSession, record: dict) -> None:
        url = sess.settings.get("alert_webhook")
        if not url or record["outcome"] != "sent" or sess.mode != "online":
            return
        path = f"{sess.entity}/{sess.project}/{sess.run_id}"
        ui = f"http://127.0.0.1:{sess.settings.get('ui_port', 8080)}/{sess.entity}/{sess.project}/runs/{sess.run_id}"
        record["webhook"] = "pending"

        def done(result: str) -> None:
            record["webhook"] = result
            sess.alerts.append(
                {"alert_id": record["alert_id"], "title": record["title"], "webhook": result}
            )
            sess.store_alert(record)

        self.webhooks.send(
            url, slack_body(record, path, ui), int(sess.settings.get("alert_retries", 5)), done
        )

    # -- housekeeping ----------------------------------------------------------------------
    def housekeeping(self, now: float) -> None:
        for on_done, error in self.exporter.completed():
            on_done(error)
        for on_done, result in self.webhooks.completed():
            on_done(result)
        for on_done, result in self.copier.completed():
            on_done(result)
        for token, git, reqs in drain(self.probes):
            if token in self.sessions:
                self.sessions[token].on_probe(git, reqs)
        for token, ts, row in self.sampler.drain():
            sess = self.sessions.get(token)
            if sess is not None:
                sess.on_system_sample(ts, row)
        check_liveness = now - self._last_liveness >= LIVENESS_PERIOD
        if check_liveness:
            self._last_liveness = now
        changed = self.watcher.take()
        for sess in list(self.sessions.values()):
            try:
                self._tend(sess, now, check_liveness, changed)
            except Exception as exc:  # one run's trouble must not stall the others
                sess.log(f"housekeeping error: {exc!r}")
                log.exception("housekeeping of %s failed", sess.run_id)
        mark_t, mark_n = self._rate_mark
        if now - mark_t >= 1.0:
            total = sum(s.records for s in self.sessions.values()) + self._closed_records
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
                self._closed(sess)
            return
        if self.stopping:
            sess.begin_finish("preempted" if sess.preempting else "crashed", None)
            sess.log("sidecar stopping: run closed before its process finished it")
            return
        if check_liveness and not sess.process_alive():
            state = "preempted" if sess.preempting else "crashed"
            sess.log(f"training process {sess.pid} is gone without finishing: {state}")
            sess.begin_finish(state, None)
            return
        sess.write_catalogue()

    def _closed(self, sess: RunSession) -> None:
        self._closed_records += sess.records
        self.closed_replies[sess.token] = {**sess.finish_reply(), "last_seq": sess.last_seq}
        while len(self.closed_replies) > 1000:
            self.closed_replies.pop(next(iter(self.closed_replies)))
        self.sampler.detach(sess.token)
        self.sessions.pop(sess.token, None)
        # keep by_ref entries of closed runs out: the store has them now
        if self.by_ref.get((sess.entity, sess.project, sess.run_id)) is sess:
            del self.by_ref[(sess.entity, sess.project, sess.run_id)]
        self.last_activity = time.monotonic()

    def should_exit(self, now: float) -> bool:
        if self.sessions:
            return False
        if self.webhooks.pending and not self.stopping:
            return False  # let alert deliveries finish (bounded by their retries)
        if self.stopping:
            return True
        return now - self.last_activity >= self.idle_timeout

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "uptime": time.time() - self.started,
            "started": self.started,
            "store": self.store.uri,
            "queue_depth": sum(s.history.pending for s in self.sessions.values() if s.history),
            "records_per_s": round(self.rate, 1),
            "rejected": dict(self.rejected),
            "file_watch": self.watcher.mode,
            "runs": [s.status() for s in self.sessions.values()],
        }

    def close(self) -> None:
        for sess in self.sessions.values():
            if sess.txlog is not None:
                sess.txlog.close()
        self.sock.close(linger=1000)
        try:
            os.unlink(self.paths.socket)
        except OSError:
            pass
        self.exporter.stop()
        self.webhooks.stop()
        self.sampler.stop()
        self.copier.stop()
        self.watcher.stop()
        self.store.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tracker.service``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tracker.service")
    parser.add_argument("--store", required=True)
    parser.add_argument("--idle-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(process)d %(levelname)s %(message)s",
    )
    store_path = args.store[len("file://") :] if args.store.startswith("file://") else args.store
    paths = sidecar_paths(store_path)
    lock_fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            log.info("another sidecar already serves %s", store_path)
            return 0
        raise
    sidecar = Sidecar(store_path, args.idle_timeout, paths)

    def _terminate(signum: int, frame: Any) -> None:
        sidecar.stopping = True

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    info = {
        "pid": os.getpid(),
        "store": paths.store,
        "endpoint": paths.endpoint,
        "started": sidecar.started,
    }
    tmp = paths.info + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(info, fh)
    os.replace(tmp, paths.info)
    log.info("sidecar %d serving %s at %s", os.getpid(), paths.store, paths.endpoint)
    try:
        sidecar.serve()
    finally:
        sidecar.close()
        try:
            os.unlink(paths.info)
        except OSError:
            pass
        log.info("sidecar %d exiting", os.getpid())
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)
    return 0
