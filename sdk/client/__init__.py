"""Finding, starting and talking to the sidecar: the one client used by ``Run``, the read
API's live tail and the CLI.

- :mod:`~tracker.client.runtime`: where a sidecar's socket, lock and info files live, and
  removing them when it is gone;
- :mod:`~tracker.client.launcher`: spawning a detached sidecar, the connection of a run;
- :mod:`~tracker.client.transport`: ``publish`` and ``deliver`` over ZeroMQ, and
  :func:`request`, the one way to ask a sidecar something;
- :mod:`~tracker.client.null`: the transport of a disabled run (sends nothing);
- :mod:`~tracker.client.control`: requests from outside a run (status, start, stop).
"""

from typing import Any


def request(*args: Any, **options: Any) -> Any:
    """:func:`tracker.client.transport.request` (imported on first use: ``zmq`` is not
    needed by ``import tracker``, only once a run starts)."""
    from tracker.client.transport import request as _request

    return _request(*args, **options)


__all__ = ["request"]
