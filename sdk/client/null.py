"""The transport of a run that talks to no sidecar (``mode="disabled"``).

It has the interface of :class:`~tracker.client.transport.Transport` that a ``Run`` uses and
does nothing, so a disabled run goes through the same code as any other (validation,
flattening, encoding) and only the sending is skipped. Tests subclass it to record what a
run publishes.
"""

from __future__ import annotations


class NullTransport:
    """Accepts every record and request and sends nothing."""

    endpoint = "null:"
    recoveries = 0
    spilled_batches = 0
    spill_errors = 0
    last_error: str | None = None
    pending_bytes = 0

    def register_run(self, token: int, info: dict, seq: int = 0) -> None:
        """Nothing to re-register: no sidecar will ever be started."""

    def forget_run(self, token: int) -> None:
        """Nothing was remembered."""

    def publish(self, record: bytes, token: int = 0, seq: int = 0, rid: int = 0) -> None:
        """Drop ``record``."""

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, linger: float = 5.0) -> None:
        """Nothing to close."""
