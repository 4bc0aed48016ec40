"""The SDK's side of the ZeroMQ link to the sidecar: ``publish`` and ``deliver``, and only those.

``publish`` is fire-and-forget (all ``log`` traffic): the encoded record is appended to a
batch in memory and handed to ZeroMQ in batches, by the caller when a batch fills and by a
flusher thread every few milliseconds otherwise, so a record never waits long in this
process. A send never blocks and nothing is ever dropped:

- every batch stays in a replay buffer until the sidecar acknowledges (per run, by sequence
  number) that it is in the run's transaction log;
- when the unacknowledged batches reach ``max_queue_bytes`` (a paused sidecar, say), newer
  batches go to a spill file in the run directory instead of memory, and are read back in
  order once the sidecar catches up;
- the flusher checks twice a second that the sidecar still holds its lock; when it died it
  starts a new one, re-registers every run of this process (the new sidecar rebuilds each
  from its transaction log and says which sequence number it has), and sends again every
  batch that was not acknowledged. The sidecar skips what its log already holds.

``deliver`` sends a request on the same socket (so it is ordered after every record
published before it) and waits for the answer, matched by request id, with a deadline; the
request is part of the replay buffer too, so a sidecar death while waiting is survived.

One DEALER socket per process and sidecar; a forked child gets its own (the pid is checked).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import zmq
from tracker.errors import CommError, Error
from tracker.proto import frames
from tracker.proto import messages as proto
from tracker.proto.payloads import Ack, InitReply, Resend, RunInfo, UnknownRun, notice_of

_BATCH_BYTES = 64 * 1024
_BATCH_RECORDS = 512
_FLUSH_PERIOD = 0.005
_LIVENESS_PERIOD = 0.5
_SEND_HWM = 1000
_REATTACH_TIMEOUT = 120.0
DEFAULT_MAX_QUEUE = 256 * 1024 * 1024
# Unacknowledged records kept in memory at most (or max_queue_bytes if smaller); beyond this
# they wait in the spill file, so a sidecar that falls behind costs the training process
# little memory. Acknowledgements come every few milliseconds while the sidecar keeps up.
MEMORY_WINDOW = 24 * 1024 * 1024


class _Batch:
    """Encoded records sent as one ZeroMQ message, with what acknowledges them."""

    __slots__ = ("data", "marks", "rids")

    def __init__(self, data: bytes, marks: dict[int, int], rids: set[int]) -> None:
        self.data = data
        self.marks = marks  # token -> highest sequence number in the batch
        self.rids = rids  # request ids in the batch still waiting for an answer


class SpillError(CommError):
    """A batch read back from the spill file was damaged (its frame failed the check)."""


class _Spill:
    """A FIFO of batches on disk, framed like the transaction log (length, CRC, payload).

    Each batch is read back through :func:`tracker.proto.frames.read_frames`, so a damaged
    frame is detected rather than misparsed; the length of every frame is also kept here,
    so a damaged one is skipped without losing the place of the next.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fh = open(path, "w+b")
        self._fh.write(frames.HEADER)
        self._read_pos = len(frames.HEADER)
        self._sizes: deque[tuple[int, int]] = deque()  # (frame bytes, batch data bytes)
        self.count = 0
        self.bytes = 0

    def push(self, batch: _Batch) -> None:
        payload = proto.pack_value([batch.data, list(batch.marks.items()), sorted(batch.rids)])
        framed = frames.frame(payload)
        self._fh.seek(0, os.SEEK_END)
        self._fh.write(framed)
        self._sizes.append((len(framed), len(batch.data)))
        self.count += 1
        self.bytes += len(batch.data)

    def pop(self) -> _Batch:
        """The oldest batch.

        Raises:
            SpillError: its frame is damaged; it is dropped and the next pop reads the next.
        """
        size, data_bytes = self._sizes.popleft()
        self.count -= 1
        self.bytes -= data_bytes
        self._fh.flush()
        self._fh.seek(self._read_pos)
        offset, chunk = self._read_pos, self._fh.read(size)
        self._read_pos += size
        report = frames.ReadReport()
        payloads = list(frames.read_frames(io.BytesIO(frames.HEADER + chunk), report))
        if len(payloads) != 1 or report.dropped or report.end != len(frames.HEADER) + size:
            reason = report.damaged[0][1] if report.damaged else "bad frame"
            raise SpillError(f"spill file {self.path}: {reason} at offset {offset}")
        try:
            data, marks, rids = proto.unpack_value(payloads[0])
        except Exception as exc:  # msgpack raises several unrelated types
            raise SpillError(
                f"spill file {self.path}: bad batch at offset {offset}: {exc}"
            ) from None
        return _Batch(data, dict(marks), set(rids))

    def close(self) -> None:
        self._fh.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class Transport:
    """A connection from this process to one sidecar endpoint."""

    def __init__(
        self,
        endpoint: str,
        respawn: Callable[[], None] | None = None,
        alive: Callable[[], bool] | None = None,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE,
    ) -> None:
        self.endpoint = endpoint
        self.pid = os.getpid()
        self.max_queue_bytes = min(max_queue_bytes, MEMORY_WINDOW)
        self._respawn = respawn
        self._alive = alive
        self._ctx = zmq.Context.instance()
        self._sock = self._new_socket()
        self._lock = threading.Lock()
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._marks: dict[int, int] = {}
        self._rids: set[int] = set()
        self._sent: deque[_Batch] = deque()  # in ZeroMQ's hands, not yet acknowledged
        self._backlog: deque[_Batch] = deque()  # not yet taken by ZeroMQ
        self._memory = 0  # bytes in _sent and _backlog
        self._spill: _Spill | None = None
        self.spill_dir: str | None = None
        self.spilled_batches = 0
        self.spill_errors = 0
        self._acked: dict[int, int] = {}
        self._replies: dict[int, tuple[bool, Any]] = {}
        self._answered: set[int] = set()  # request ids answered (or given up on)
        self.last_error: str | None = None
        self._resend = False
        self.resends = 0
        self._needs_reattach = False
        self._runs: dict[int, RunInfo] = {}  # token -> run info, to re-register after a respawn
        self._ids = itertools.count(1)
        self._closed = False
        self.recoveries = 0
        self.last_recovery_s: float | None = None
        self._next_liveness = time.monotonic() + _LIVENESS_PERIOD
        self._wake = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="tracker-flush", daemon=True)
        self._flusher.start()

    def _new_socket(self) -> zmq.Socket:
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 5000)
        sock.setsockopt(zmq.SNDHWM, _SEND_HWM)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.RECONNECT_IVL, 10)
        sock.connect(self.endpoint)
        return sock

    # -- runs ------------------------------------------------------------------------------
    def register_run(self, token: int, info: RunInfo, seq: int = 0) -> None:
        """Remember a run so that a new sidecar can be told about it after a respawn."""
        with self._lock:
            self._runs[token] = info
            self._acked.setdefault(token, seq)
            self.spill_dir = os.path.join(info.dir, "logs")

    def forget_run(self, token: int) -> None:
        with self._lock:
            self._runs.pop(token, None)

    # -- publish ---------------------------------------------------------------------------
    def publish(self, record: bytes, token: int = 0, seq: int = 0, rid: int = 0) -> None:
        """Queue one encoded record for the sidecar; never blocks, never drops."""
        with self._lock:
            if len(record) >= _BATCH_BYTES and self._batch:
                # a large record (a media array) goes as its own batch: b"".join of one
                # record is that record, so its bytes are not copied again
                self._flush_locked()
            self._batch.append(record)
            self._batch_bytes += len(record)
            if token:
                self._marks[token] = seq
            if rid:
                self._rids.add(rid)
            if self._batch_bytes >= _BATCH_BYTES or len(self._batch) >= _BATCH_RECORDS:
                self._flush_locked()

    def _flush_locked(self) -> None:
        if self._batch:
            batch = _Batch(b"".join(self._batch), self._marks, self._rids)
            self._batch = []
            self._batch_bytes = 0
            self._marks = {}
            self._rids = set()
            if self._spill is not None or self._memory + len(batch.data) > self.max_queue_bytes:
                self._spill_batch(batch)
            else:
                self._backlog.append(batch)
                self._memory += len(batch.data)
        self._pump_locked()

    def _spill_batch(self, batch: _Batch) -> None:
        if self._spill is None:
            folder = self.spill_dir or "."
            self._spill = _Spill(os.path.join(folder, f"spill-{os.getpid()}.trkq"))
        self._spill.push(batch)
        self.spilled_batches += 1

    def _pump_locked(self) -> None:
        """Receive answers and acks, send what ZeroMQ takes, refill memory from the spill."""
        self._receive_locked()
        while True:
            backlog = self._backlog
            while backlog:
                batch = backlog[0]
                try:
                    self._sock.send(batch.data, zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    return
                backlog.popleft()
                self._sent.append(batch)
            spill = self._spill
            if spill is None:
                return
            moved = False
            while spill.count and self._memory < self.max_queue_bytes // 2:
                try:
                    batch = spill.pop()
                except SpillError as exc:
                    # the disk changed what we wrote: those records are lost, say so
                    self.last_error = str(exc)
                    self.spill_errors += 1
                    continue
                self._backlog.append(batch)
                self._memory += len(batch.data)
                moved = True
            if not spill.count:
                spill.close()
                self._spill = None
            if not moved:
                return

    def _receive_locked(self) -> None:
        sock = self._sock
        while True:
            try:
                raw = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            try:
                rid, ok, body = proto.decode_reply(raw)
            except proto.ProtoError:
                continue
            notice = notice_of(body)
            if rid == 0 and isinstance(notice, Ack):
                for token, seq in notice.ack:
                    if seq > self._acked.get(token, 0):
                        self._acked[token] = seq
            elif isinstance(notice, UnknownRun) and notice.unknown_token in self._runs:
                # a sidecar that took over from a stopped one and does not know our run yet:
                # register it again (the request, unanswered, will be sent again too)
                self._needs_reattach = True
            elif rid == 0 and isinstance(notice, Resend):
                token, seq = notice.resend
                if seq > self._acked.get(token, 0):
                    self._acked[token] = seq
                self._resend = True
            else:
                self._replies[rid] = (ok, body)
                self._answered.add(rid)
        self._release_acked_locked()
        if self._resend:
            # the sidecar saw a gap: send again, in order, everything it has not acknowledged
            self._resend = False
            self.resends += 1
            self._backlog = deque(list(self._sent) + list(self._backlog))
            self._sent = deque()

    def _release_acked_locked(self) -> None:
        sent, acked, answered = self._sent, self._acked, self._answered
        while sent:
            batch = sent[0]
            if any(seq > acked.get(token, 0) for token, seq in batch.marks.items()):
                return
            if batch.rids:
                if not batch.rids <= answered:
                    return  # a request still waiting for its answer: it may have to go again
                answered -= batch.rids
            sent.popleft()
            self._memory -= len(batch.data)

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait(_FLUSH_PERIOD)
            if self._closed:
                return
            with self._lock:
                if self._closed:
                    return
                self._flush_locked()
            now = time.monotonic()
            if now >= self._next_liveness:
                self._next_liveness = now + _LIVENESS_PERIOD
                self._check_sidecar()

    @property
    def pending_bytes(self) -> int:
        """Bytes not yet acknowledged by the sidecar (memory and spill)."""
        return self._memory + (self._spill.bytes if self._spill else 0) + self._batch_bytes

    def flush(self, timeout: float | None = None) -> bool:
        """Hand every queued record to ZeroMQ (waiting up to ``timeout`` if it is full)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                self._flush_locked()
                if not self._backlog and self._spill is None:
                    return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.001)

    # -- sidecar death ---------------------------------------------------------------------
    def _check_sidecar(self) -> None:
        if self._alive is None or self._respawn is None:
            return
        with self._lock:
            waiting = bool(self._runs) or any(b.rids for b in self._sent) or bool(self._backlog)
        if not waiting:
            return  # nothing of ours needs a sidecar: let it exit idle, do not start one
        if self._alive() and not self._needs_reattach:
            return
        self._needs_reattach = False
        started = time.monotonic()
        try:
            self._recover()
        except Exception as exc:  # keep everything buffered; try again on the next check
            self.last_error = f"sidecar recovery failed: {exc}"
            return
        self.recoveries += 1
        self.last_recovery_s = time.monotonic() - started

    def _recover(self) -> None:
        """Start a new sidecar, re-register every run, send again what was not acknowledged."""
        self._respawn()
        with self._lock:
            old, self._sock = self._sock, self._new_socket()
            old.close(linger=0)
            runs = dict(self._runs)
        deadline = time.monotonic() + _REATTACH_TIMEOUT
        for token, info in runs.items():
            rid = self.next_request_id()
            request = proto.encode(
                proto.Kind.INIT, rid, dataclasses.replace(info, reattach=True, token=token)
            )
            with self._lock:
                self._sock.send(request)
            seq = InitReply.from_wire(self._wait_reply(rid, deadline)).last_seq
            with self._lock:
                if seq > self._acked.get(token, 0):
                    self._acked[token] = seq
        with self._lock:
            self._release_acked_locked()
            # everything still unacknowledged goes again, oldest first
            self._backlog = deque(list(self._sent) + list(self._backlog))
            self._sent = deque()
            self._pump_locked()

    def _wait_reply(self, rid: int, deadline: float) -> Any:
        while time.monotonic() < deadline:
            with self._lock:
                self._receive_locked()
                if rid in self._replies:
                    ok, body = self._replies.pop(rid)
                    if not ok:
                        raise Error(str(body))
                    return body
                self._sock.poll(50, zmq.POLLIN)
        raise CommError(f"the tracker sidecar at {self.endpoint} did not answer in time")

    # -- deliver ---------------------------------------------------------------------------
    def next_request_id(self) -> int:
        return next(self._ids)

    def deliver(
        self,
        kind: proto.Kind,
        *fields: Any,
        timeout: float,
        check: Callable[[], Any] | None = None,
        token: int = 0,
        seq: int = 0,
    ) -> Any:
        """Send a request after everything published so far and wait for its answer.

        Args:
            kind: the request's kind; its request id is chosen here.
            *fields: the fields that follow the request id (see ``tracker.proto.messages``).
            timeout: seconds to wait for the answer.
            check: called twice a second while waiting; may raise to abandon the wait (a
                sidecar that failed to start, say).
            token: the run whose record this is, for a persisted request (else 0).
            seq: the run's sequence number of the record.

        Returns:
            The body of the sidecar's answer.

        Raises:
            CommError: no answer within ``timeout`` seconds.
            Error: the sidecar refused the request (its reason is the message).
        """
        request_id = self.next_request_id()
        deadline = time.monotonic() + timeout
        self.publish(proto.encode(kind, request_id, *fields), token, seq, request_id)
        with self._lock:
            self._flush_locked()
        return self._await_answer(request_id, deadline, check)

    def _await_answer(
        self, request_id: int, deadline: float, check: Callable[[], Any] | None
    ) -> Any:
        next_check = time.monotonic() + 0.5
        while True:
            now = time.monotonic()
            if now >= deadline:
                with self._lock:
                    self._answered.add(request_id)  # given up: never send it again
                    self._replies.pop(request_id, None)
                raise CommError(f"the tracker sidecar at {self.endpoint} did not answer in time")
            if check is not None and now >= next_check:
                check()
                next_check = now + 0.5
            with self._lock:
                self._pump_locked()
                answer = self._replies.pop(request_id, None)
                if answer is None:
                    wait_ms = int(min(deadline - now, 0.05) * 1000) + 1
                    if self._sock.poll(wait_ms, zmq.POLLIN):
                        self._receive_locked()
                    answer = self._replies.pop(request_id, None)
                if answer is not None:
                    self._release_acked_locked()
            if answer is None:
                continue
            ok, body = answer
            if not ok:
                raise Error(body.get("error", str(body)) if isinstance(body, dict) else str(body))
            return body

    def close(self, linger: float = 5.0) -> None:
        """Hand what is queued to ZeroMQ and close; ZeroMQ keeps sending for ``linger`` s."""
        self._closed = True
        self._wake.set()
        with self._lock:
            try:
                self._flush_locked()
            finally:
                self._sock.close(linger=int(linger * 1000))
                if self._spill is not None:
                    self._spill.close()


def request(target: Transport | Any, kind: proto.Kind, *fields: Any, **options: Any) -> Any:
    """Ask a sidecar something and wait for the answer: the one way to send a request.

    Args:
        target: a run's :class:`Transport` (ordered after its records, and replayed to a
            new sidecar if this one dies), or a sidecar's ``SidecarPaths`` or endpoint, for
            which a short-lived connection is opened and closed.
        kind: the request's kind.
        *fields: the fields after the request id (see ``tracker.proto.messages.FIELDS``).
        **options: ``timeout`` (seconds, required), and ``check``, ``token``, ``seq`` as
            for :meth:`Transport.deliver`.

    Returns:
        The body of the answer.

    Raises:
        CommError: no answer within ``timeout``.
        Error: the sidecar refused the request.

    Example:
        >>> request(sidecar_paths(store), Kind.PING, timeout=2.0)["pid"]
    """
    if isinstance(target, Transport):
        return target.deliver(kind, *fields, **options)
    transport = Transport(getattr(target, "endpoint", target))
    try:
        return transport.deliver(kind, *fields, **options)
    finally:
        transport.close(linger=0)
