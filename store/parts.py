"""Names of the parquet parts of a run's stream (``history/``, ``system/``) and how to read them.

While a run goes on, its exporter cuts numbered parts; when one life of the run (from its
start or resume to its finish) ends, that life's parts are merged into one compacted file
named after the range of parts it holds::

    part      := "part-" N ".parquet"                 N: 5+ digits, one per cut
    compacted := "part-" FIRST "-" LAST ".parquet"    parts FIRST..LAST merged at finish

Part numbers are never reused: a resumed run goes on after the last one, and the catalogue's
``history_parts`` is the next number to cut. A compacted file is written (atomically) before
the parts it holds are deleted, so for a moment both exist: readers take the compacted file
and skip every part it covers (:func:`visible_parts`), never reading a row twice. Compaction
never merges parts of two lives, so a sidecar that takes a run over can drop exactly the
files of the current life (:func:`parts_from`) and export it again from the run's log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NAME = re.compile(r"part-(\d+)(?:-(\d+))?\.parquet")


def part_key(prefix: str, number: int) -> str:
    """The key of part ``number`` under a stream's folder key ``prefix``."""
    return f"{prefix}part-{number:05d}.parquet"


def compacted_key(prefix: str, first: int, last: int) -> str:
    """The key of the file that holds parts ``first..last`` (both included)."""
    return f"{prefix}part-{first:05d}-{last:05d}.parquet"


def part_range(key: str) -> tuple[int, int] | None:
    """The (first, last) part numbers a part or compacted file holds; None for other names."""
    found = _parse(key)
    return None if found is None else found[:2]


def _parse(key: str) -> tuple[int, int, bool] | None:
    m = _NAME.fullmatch(key.rsplit("/", 1)[-1])
    if m is None:
        return None
    first = int(m.group(1))
    compacted = m.group(2) is not None
    return first, int(m.group(2)) if compacted else first, compacted


def _ranges(keys: Iterable[str]) -> list[tuple[int, int, bool, str]]:
    return [(*found, key) for key in keys if (found := _parse(key)) is not None]


def visible_parts(keys: Iterable[str]) -> list[str]:
    """The files to read, in row order: every part not held by a compacted file.

    Args:
        keys: the keys listed under a stream's folder (other names are ignored).

    Returns:
        Keys ordered by the first part number they hold.
    """
    ranges = _ranges(keys)
    merged = [(first, last, key) for first, last, compacted, key in ranges if compacted]
    visible = []
    for first, last, _, key in ranges:
        if not any(lo <= first and last <= hi and k != key for lo, hi, k in merged):
            visible.append((first, last, key))
    return [key for _, _, key in sorted(visible)]


def next_part(keys: Iterable[str]) -> int:
    """The number after the highest part held by ``keys`` (0 when there is none)."""
    return max((last + 1 for _, last, _, _ in _ranges(keys)), default=0)


def parts_from(keys: Iterable[str], first: int) -> list[str]:
    """The files holding any part numbered ``first`` or later (a life to export again)."""
    return [key for _, last, _, key in sorted(_ranges(keys)) if last >= first]
