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

from tracker.client.transport import request

__all__ = ["request"]
