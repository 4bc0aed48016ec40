"""Ingest: the sidecar's socket, sequence numbers, acknowledgements and dispatch.

One ZeroMQ ROUTER socket, read on the ingest thread (the thread that owns all run state).
For every batch of records an SDK sends:

1. ``LOG`` records (the hot path) are checked raw, their sequence numbers checked against
   the run's, appended to its transaction log as the very bytes received, and fed to its
   committer; a gap asks the SDK to send again, a duplicate is skipped;
2. every other message is decoded into its typed class (:mod:`tracker.proto.messages`) and
   handed to the handler registered for its kind: ``records`` (persisted, sequenced: appended
   to the run's log first), ``repeats`` (a record sent again after a sidecar restart and
   already applied, that still wants its answer) or ``requests`` (never sequenced);
3. after every burst the logs are flushed to the OS and each SDK hears how far its runs are
   in the log (:class:`~tracker.proto.payloads.Ack`): the acknowledgements are its flow
   control, and what it may forget.

A malformed, oversized or unknown message is refused and counted in ``rejected``; a handler
that raises is counted and answered with an error; neither stops the loop.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import zmq
from tracker.proto import messages as proto
from tracker.proto.messages import Kind, ProtoError
from tracker.proto.payloads import Ack, Payload, Resend, UnknownRun
from tracker.service.registry import Registry
from tracker.service.session import TERMINAL, RunSession

log = logging.getLogger("tracker.sidecar")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# The SDK cuts batches at 64 KiB, so a batch holds one large message plus at most this much.
BATCH_SLACK = 128 * 1024
BURST = 64  # batches read before the logs are flushed and acknowledged
NOTICE_PERIOD = 0.5
HURRY_POLL_MS = 5  # at most one unknown-run or resend notice per peer and run this often


class Request:
    """Who sent a message, so that a handler can answer it."""

    __slots__ = ("ingest", "ident", "rid")

    def __init__(self, ingest: Ingest, ident: bytes, rid: Any) -> None:
        self.ingest, self.ident, self.rid = ingest, ident, rid

    def answer(self, body: Payload | dict | None = None) -> None:
        self.ingest.reply(self.ident, self.rid, True, body if body is not None else {})

    def refuse(self, body: Payload | dict | str) -> None:
        self.ingest.reply(self.ident, self.rid, False, body)


RecordHandler = Callable[[RunSession, Any, Request], None]
RequestHandler = Callable[[Any, bytes, Request], None]


class Ingest:
    """The socket and the dispatch of one sidecar."""

    def __init__(
        self,
        endpoint: str,
        socket_path: str,
        registry: Registry,
        records: dict[Kind, RecordHandler],
        requests: dict[Kind, RequestHandler],
        repeats: dict[Kind, RecordHandler],
    ) -> None:
        self.registry = registry
        self.records = records
        self.requests = requests
        self.repeats = repeats
        self.rejected: Counter[str] = Counter()
        self.max_message_bytes = MAX_MESSAGE_BYTES
        self.quiet = False  # stopping: runs handed over are not announced as unknown
        self.last_activity = time.monotonic()
        self._notices: dict[tuple, float] = {}
        self.socket_path = socket_path
        sock = zmq.Context.instance().socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        sock.bind(endpoint)
        os.chmod(socket_path, 0o600)
        self.sock = sock

    # -- the loop --------------------------------------------------------------------------
    def serve(
        self, tick: Callable[[float, bool], bool], period: float, hurry: Callable[[], bool]
    ) -> None:
        """Read until ``tick(now, busy)`` says stop; it is called at least every ``period``
        seconds, and after every read while ``hurry()`` (a run is finishing: its waiter is
        answered as soon as its last stage is done, not at the next tick)."""
        sock = self.sock
        next_tick = 0.0
        while True:
            urgent = hurry()
            wait_ms = HURRY_POLL_MS if urgent else int(period * 1000)
            busy = bool(sock.poll(wait_ms, zmq.POLLIN))
            if busy:
                self.read_burst()
                self.last_activity = time.monotonic()
            self.flush()
            now = time.monotonic()
            if urgent or now >= next_tick:
                next_tick = now + period
                if tick(now, busy) and not sock.poll(0, zmq.POLLIN):
                    return

    def read_burst(self) -> None:
        for _ in range(BURST):
            try:
                ident, data = self.sock.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return
            except ValueError:
                self.rejected["malformed"] += 1
                continue
            try:
                self.handle_batch(ident, data)
            except Exception:  # never let one batch stop the loop
                self.rejected["failed"] += 1
                log.exception("a batch could not be handled")

    def flush(self) -> None:
        """Hand buffered log records to the OS, then acknowledge them to their SDKs."""
        for sess in self.registry.sessions.values():
            txlog = sess.txlog
            if txlog is not None and txlog.dirty:
                try:
                    txlog.flush()
                except OSError as exc:
                    self.rejected["log_write"] += 1
                    sess.log(f"could not write the transaction log: {exc}")
                    continue
            if sess.last_seq > sess.acked_seq and sess.ident is not None:
                sess.acked_seq = sess.last_seq
                self.reply(sess.ident, 0, True, Ack(ack=[[sess.token, sess.last_seq]]))

    # -- batches ---------------------------------------------------------------------------
    def handle_batch(self, ident: bytes, data: bytes) -> None:
        if len(data) > self.max_message_bytes + BATCH_SLACK:
            self.rejected["oversized"] += 1
            log.warning("refused a %d-byte message (limit %d)", len(data), self.max_message_bytes)
            return
        sessions = self.registry.sessions
        # consecutive LOG records of one run are appended to its log as one span of bytes
        span: RunSession | None = None
        span_start = span_end = 0
        is_log = proto.is_log
        try:
            for obj, start, end in proto.iter_batch(data):
                if is_log(obj):
                    sess = sessions.get(obj[2])
                    if sess is None or sess.state in TERMINAL or sess.finishing:
                        self._not_running(sess, obj[2], ident)
                        continue
                    seq = obj[3]
                    if seq != sess.last_seq + 1:
                        self._out_of_order(sess, seq, ident)
                        continue
                    sess.last_seq = seq
                    if sess is not span or start != span_end:
                        if span is not None:
                            self.append(span, data[span_start:span_end])
                        span, span_start = sess, start
                    span_end = end
                    sess.records += 1
                    sess.on_log(obj[4], obj[5], obj[6], obj[7])
                    continue
                if span is not None:
                    self.append(span, data[span_start:span_end])
                    span = None
                self.handle_message(ident, obj, data[start:end])
        except ProtoError as exc:
            self.rejected["malformed"] += 1
            log.warning("refused a malformed batch: %s", exc)
        if span is not None:
            self.append(span, data[span_start:span_end])

    def append(self, sess: RunSession, payload: bytes) -> None:
        """Append a record's bytes to its run's transaction log (counted when it fails)."""
        if sess.txlog is not None:
            try:
                sess.txlog.append(payload, sess.last_seq)
            except (OSError, ValueError) as exc:
                self.rejected["log_write"] += 1
                sess.log(f"could not append to the transaction log: {exc}")

    def handle_message(self, ident: bytes, obj: Any, raw: bytes) -> None:
        """Decode one non-LOG message and dispatch it by kind."""
        try:
            msg = proto.to_message(obj)
        except ProtoError as exc:
            text = str(exc)
            reason = (
                "unknown_kind"
                if "unknown message kind" in text
                else ("bad_version" if "newer" in text else "malformed")
            )
            self.rejected[reason] += 1
            log.warning("refused a message: %s", exc)
            rid = obj[2] if isinstance(obj, list) and len(obj) > 2 else None
            self.reply(ident, rid, False, text)
            return
        kind = msg.KIND
        request = Request(self, ident, getattr(msg, "request_id", None))
        try:
            if kind in self.records:
                self._record(msg, raw, request)
            elif kind in self.requests:
                self.requests[kind](msg, raw, request)
            else:
                self.rejected["malformed"] += 1
                request.refuse(f"malformed {kind.name} message")
        except Exception as exc:  # a bad request must never stop the loop
            self.rejected["failed"] += 1
            log.exception("request %s failed", kind.name)
            request.refuse(f"{kind.name} failed: {exc}")

    def _record(self, msg: Any, raw: bytes, request: Request) -> None:
        """A persisted record of a run: check its sequence, log it, then apply it."""
        token = msg.token
        sess = self.registry.get(token)
        if sess is None and msg.KIND == Kind.FINISH and token in self.registry.closed:
            request.answer(self.registry.closed[token])  # asked again after the close
            return
        if sess is None or sess.state in TERMINAL:
            self._not_running(sess, token, request.ident)
            if not self.quiet:
                request.refuse(
                    UnknownRun(unknown_token=token, error=f"no running run with token {token!r}")
                )
            return
        seq = msg.seq
        if seq and seq <= sess.last_seq:
            repeat = self.repeats.get(msg.KIND)
            if repeat is not None:  # sent again after a restart, already applied: answer
                repeat(sess, msg, request)
            return
        if seq and seq != sess.last_seq + 1:
            self._out_of_order(sess, seq, request.ident)
            return
        if seq:
            sess.last_seq = seq
        self.append(sess, raw)
        sess.records += 1
        self.records[msg.KIND](sess, msg, request)

    # -- notices ---------------------------------------------------------------------------
    def _not_running(self, sess: RunSession | None, token: Any, ident: bytes) -> None:
        """A record for a run this sidecar does not hold (or no longer runs)."""
        self.rejected["unknown_run"] += 1
        if sess is None and not self.quiet:
            # it took over from a sidecar that stopped: the SDK registers the run again and
            # sends what was not acknowledged
            if self._notice_due((ident, token)):
                self.reply(ident, 0, True, UnknownRun(unknown_token=token))

    def _out_of_order(self, sess: RunSession, seq: int, ident: bytes) -> None:
        """A record that is already applied (skipped) or that follows a gap (refused).

        Records of one run arrive in order on one socket; a gap only happens around a
        sidecar restart, when an old connection delivers late. The record is refused and the
        SDK asked to send again everything after the last applied one.
        """
        if seq <= sess.last_seq:
            return
        self.rejected["out_of_order"] += 1
        if self._notice_due((ident, "resend", sess.token)):
            self.reply(ident, 0, True, Resend(resend=[sess.token, sess.last_seq]))

    def _notice_due(self, key: tuple) -> bool:
        now = time.monotonic()
        if now - self._notices.get(key, 0.0) < NOTICE_PERIOD:
            return False
        if len(self._notices) > 10_000:
            self._notices.clear()
        self._notices[key] = now
        return True

    def reply(self, ident: bytes, rid: Any, ok: bool, body: Any) -> None:
        if not isinstance(rid, int):
            return  # rid 0 carries notices
        if isinstance(body, Payload):
            body = body.to_wire()
        try:
            self.sock.send_multipart([ident, proto.encode_reply(rid, ok, body)], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.warning("could not answer request %s: %s", rid, exc)

    def close(self) -> None:
        self.sock.close(linger=1000)
        try:
            os.unlink(self.socket_path)
        except OSError:
            pass
