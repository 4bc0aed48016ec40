"""Framing of the transaction log (``run-<id>.trk``).

Grammar::

    file   := header frame*
    header := b"TRKLOG1\\n"                      (8 bytes)
    frame  := length:u32le crc32:u32le payload  (payload: one or more encoded messages)

The CRC covers the payload. A reader stops trusting a frame whose length runs past the end
of the file (a torn tail) or whose CRC does not match (flipped bytes); :func:`read_frames`
reports each damaged span and resynchronises on the next valid frame where it can.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

HEADER = b"TRKLOG1\n"
_HEAD = struct.Struct("<II")
MAX_FRAME = 1 << 30


def frame(payload: bytes) -> bytes:
    """Return ``payload`` framed with its length and CRC32."""
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


@dataclass
class ReadReport:
    """What a read of a transaction log found: good frames and damaged spans."""

    frames: int = 0
    dropped: int = 0
    end: int = 0  # offset just past the last intact frame
    damaged: list[tuple[int, str]] = field(default_factory=list)  # (offset, reason)


def read_frames(fh: BinaryIO, report: ReadReport | None = None) -> Iterator[bytes]:
    """Yield the payload of every intact frame of an open transaction log.

    Args:
        fh: a binary file positioned at the start of the log.
        report: filled in with counts and the offsets of damaged frames.
    """
    report = report if report is not None else ReadReport()
    data = fh.read()
    if not data.startswith(HEADER):
        report.damaged.append((0, "missing header"))
        return
    pos = len(HEADER)
    report.end = pos
    end = len(data)
    while pos < end:
        if end - pos < _HEAD.size:
            report.dropped += 1
            report.damaged.append((pos, "torn frame header at end of log"))
            return
        length, crc = _HEAD.unpack_from(data, pos)
        start = pos + _HEAD.size
        if length > MAX_FRAME or start + length > end:
            nxt = _resync(data, pos + 1)
            report.dropped += 1
            reason = "torn frame at end of log" if nxt is None else "bad frame length"
            report.damaged.append((pos, reason))
            if nxt is None:
                return
            pos = nxt
            continue
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc:
            report.dropped += 1
            report.damaged.append((pos, "checksum mismatch"))
            pos = start + length
            continue
        report.frames += 1
        pos = start + length
        report.end = pos
        yield payload


def _resync(data: bytes, pos: int) -> int | None:
    """Find the next offset at which a frame with a valid CRC starts."""
    end = len(data)
    while pos + _HEAD.size <= end:
        length, crc = _HEAD.unpack_from(data, pos)
        start = pos + _HEAD.size
        if length <= MAX_FRAME and start + length <= end and length > 0:
            if zlib.crc32(data[start : start + length]) == crc:
                return pos
        pos += 1
    return None
