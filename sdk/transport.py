"""The SDK's side of the ZeroMQ link to the sidecar: ``publish`` and ``deliver``, and only those.

``publish`` is fire-and-forget (all ``log`` traffic): the encoded record is appended to a
batch in memory and handed to ZeroMQ in batches, by the caller when a batch fills and by a
flusher thread every few milliseconds otherwise, so a record never waits long in this
process. A send never blocks: when ZeroMQ's queue is full the batch waits in a local
backlog that later sends drain first. Nothing is ever dropped.

``deliver`` sends a request on the same socket (so it is ordered after every record
published before it) and waits for the answer with a deadline; the answer is matched by
request id, and a timeout raises :class:`tracker.errors.CommError`.

One DEALER socket per process and sidecar; a forked child gets its own (the pid is checked).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from typing import Any, Callable

import zmq

from tracker.errors import CommError, Error
from tracker.proto import messages as proto

_BATCH_BYTES = 64 * 1024
_BATCH_RECORDS = 512
_FLUSH_PERIOD = 0.005
_SEND_HWM = 20_000


class Transport:
    """A connection from this process to one sidecar endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.pid = os.getpid()
        self._ctx = zmq.Context.instance()
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 5000)
        sock.setsockopt(zmq.SNDHWM, _SEND_HWM)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.RECONNECT_IVL, 10)
        sock.connect(endpoint)
        self._sock = sock
        self._lock = threading.Lock()
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._backlog: deque[bytes] = deque()
        self.backlog_bytes = 0
        self._ids = itertools.count(1)
        self._closed = False
        self._wake = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="tracker-flush", daemon=True)
        self._flusher.start()

    # -- publish ---------------------------------------------------------------------------
    def publish(self, record: bytes) -> None:
        """Queue one encoded record for the sidecar; never blocks, never drops."""
        with self._lock:
            batch = self._batch
            batch.append(record)
            self._batch_bytes += len(record)
            if self._batch_bytes >= _BATCH_BYTES or len(batch) >= _BATCH_RECORDS:
                self._flush_locked()

    def _flush_locked(self) -> None:
        if self._batch:
            data = b"".join(self._batch)
            self._batch = []
            self._batch_bytes = 0
            if self._backlog:
                self._backlog.append(data)
                self.backlog_bytes += len(data)
            else:
                self._send_or_keep(data)
        self._drain_locked()

    def _send_or_keep(self, data: bytes) -> bool:
        try:
            self._sock.send(data, zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            self._backlog.append(data)
            self.backlog_bytes += len(data)
            return False

    def _drain_locked(self) -> None:
        backlog = self._backlog
        while backlog:
            data = backlog[0]
            try:
                self._sock.send(data, zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            backlog.popleft()
            self.backlog_bytes -= len(data)

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait(_FLUSH_PERIOD)
            if self._closed:
                return
            if self._batch or self._backlog:
                with self._lock:
                    if not self._closed:
                        self._flush_locked()

    def flush(self, timeout: float | None = None) -> bool:
        """Hand every queued record to ZeroMQ, waiting up to ``timeout`` if its queue is full."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                self._flush_locked()
                if not self._backlog:
                    return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.001)

    # -- deliver ---------------------------------------------------------------------------
    def next_request_id(self) -> int:
        return next(self._ids)

    def deliver(self, request_id: int, request: bytes, timeout: float) -> Any:
        """Send ``request`` after everything published so far and wait for its answer.

        Raises:
            CommError: no answer within ``timeout`` seconds.
            Error: the sidecar refused the request (its reason is the message).
        """
        return self.deliver_wait(request_id, request, time.monotonic() + timeout, None)

    def deliver_wait(
        self,
        request_id: int,
        request: bytes,
        deadline: float,
        check: Callable[[], Any] | None,
    ) -> Any:
        """:meth:`deliver` against a monotonic ``deadline``, calling ``check`` twice a second.

        ``check`` may raise to abandon the wait (the sidecar died, say).
        """
        with self._lock:
            self._batch.append(request)
            self._batch_bytes += len(request)
            self._flush_locked()
        next_check = time.monotonic() + 0.5
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise CommError(f"the tracker sidecar at {self.endpoint} did not answer in time")
            if check is not None and now >= next_check:
                check()
                next_check = now + 0.5
            with self._lock:
                if self._backlog:
                    self._drain_locked()
                wait_ms = int(min(deadline - now, 0.05) * 1000) + 1
                raw = self._sock.recv(zmq.NOBLOCK) if self._sock.poll(wait_ms, zmq.POLLIN) else None
            if raw is None:
                continue
            rid, ok, body = proto.decode_reply(raw)
            if rid != request_id:
                continue  # the late answer to an earlier request that timed out
            if not ok:
                raise Error(str(body))
            return body

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        with self._lock:
            try:
                self._flush_locked()
            finally:
                self._sock.close(linger=5000)
