"""Content-addressed artifact storage (§12): blobs under their sha256, version digests, gc.

Every file of every version is stored once, under ``artifacts/sha256/<2 hex>/<64 hex>``,
whichever run or artifact added it first. A version is a manifest (path -> digest, size,
and for references the URI) kept in the catalogue; its digest is the sha256 of the manifest
in a canonical form, so equal content gives an equal digest.

:func:`store_file` is the one way bytes get in: hash, pin, write only if missing, and check
that the source did not change meanwhile (so no version ever holds mixed content).
:func:`collect_garbage` is the one way they go (``tracker-service gc``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Any

from tracker.errors import Error
from tracker.store.base import CHUNK

BLOB_PREFIX = "artifacts/sha256/"
PIN_MAX_AGE = 24 * 3600.0  # a pin older than this is a crashed writer's: gc ignores it


class SourceChanged(Error):
    """A file changed between ``log_artifact`` and the moment its content was read."""


def blob_key(digest: str) -> str:
    """The key of the blob whose sha256 is ``digest`` (64 lowercase hex digits).

    Raises:
        ValueError: not a sha256 hex digest.
    """
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return f"{BLOB_PREFIX}{digest[:2]}/{digest}"


def hash_file(path: str) -> tuple[str, int]:
    """The sha256 hex digest and size of a local file, read in 1 MiB chunks."""
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def manifest_digest(files: Iterable[dict[str, Any]]) -> str:
    """The digest of a version: sha256 over its sorted (path, digest, size, ref) lines."""
    sha = hashlib.sha256()
    for f in sorted(files, key=lambda f: f["path"]):
        sha.update(f"{f['path']}\0{f['digest']}\0{f['size']}\0{f.get('ref') or ''}\n".encode())
    return sha.hexdigest()


def _stat_mark(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def store_file(
    store: Any, path: str, job_id: str, mark: tuple[int, int] | None = None
) -> tuple[str, int, int]:
    """Put a local file's content in the store's blobs unless it is there already.

    Args:
        store: a :class:`tracker.store.Store`.
        path: the file (a snapshot, or the caller's file checked against ``mark``).
        job_id: the pin owner (the version being built): the blob is safe from ``gc`` until
            the pin is dropped with the version's commit.
        mark: (size, mtime_ns) the file had when it was logged; a file that no longer
            matches, or whose bytes change while read, is refused.

    Returns:
        (sha256 hex digest, size, bytes written to the store: 0 when deduplicated).

    Raises:
        SourceChanged: the file changed after it was logged.
        OSError: the file cannot be read or the store written.
    """
    if mark is not None and _stat_mark(path) != tuple(mark):
        raise SourceChanged(f"{path} changed after log_artifact (size or mtime)")
    digest, size = hash_file(path)
    written = 0
    if not store.catalogue.pin_blob(digest, job_id):
        sha = hashlib.sha256()
        with open(path, "rb") as src, store.blobs.writer(blob_key(digest)) as out:
            while chunk := src.read(CHUNK):
                sha.update(chunk)
                out.write(chunk)
                written += len(chunk)
            if sha.hexdigest() != digest:  # raising inside the writer leaves nothing behind
                raise SourceChanged(f"{path} changed while it was being stored")
        store.catalogue.add_blob(digest, size)
    if mark is not None and _stat_mark(path) != tuple(mark):
        raise SourceChanged(f"{path} changed while it was being stored")
    return digest, size, written


def collect_garbage(
    store: Any, dry_run: bool = False, pin_max_age: float = PIN_MAX_AGE
) -> dict[str, Any]:
    """Remove the blobs no version refers to (``tracker-service gc``).

    Safe while runs write: a blob is dropped inside a catalogue write transaction that finds
    it unreferenced and unpinned, and writers pin before they look (see
    :mod:`tracker.store.artifact_catalogue`). Blob files without a catalogue row (a writer
    that died between the bytes and the row) are removed too when nobody pins them.

    Returns:
        ``{"blobs": n, "bytes": b, "dry_run": bool}``: what was (or would be) removed.
    """
    catalogue = store.catalogue
    candidates = dict(catalogue.unreferenced_blobs(pin_max_age))
    known = catalogue.blob_rows()
    for key in store.blobs.list(BLOB_PREFIX):
        digest = key.rsplit("/", 1)[-1]
        if digest not in known:
            candidates.setdefault(digest, store.blobs.size(key) or 0)
            if not dry_run:
                catalogue.add_blob(digest, candidates[digest])  # gc's usual protocol holds
    removed, freed = 0, 0
    for digest, size in sorted(candidates.items()):
        if dry_run:
            removed, freed = removed + 1, freed + size
            continue

        def delete(d: str = digest) -> None:
            store.blobs.delete(blob_key(d))

        if catalogue.drop_blob(digest, pin_max_age, delete):
            removed, freed = removed + 1, freed + size
    return {"blobs": removed, "bytes": freed, "dry_run": dry_run}
