"""An artifact version's files on local disk: download, verify, checkout (§12).

A download copies each blob through a temporary name and checks its sha256 on the way; a
file already in the folder is skipped when its hash is right. The hash of a file already
present is taken from ``<root>/.tracker-artifact.json`` (path -> size, mtime_ns, digest,
written by the last download or verify) when its size and mtime still match, so a second
download of a 1 GB version costs a ``stat`` per file, not a read; anything else is hashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from typing import Any

from tracker.errors import Error
from tracker.store.artifacts import blob_key, hash_file
from tracker.store.base import CHUNK
from tracker.store.references import open_reference, unchecked_digest

CACHE = ".tracker-artifact.json"


def _load_cache(root: str) -> dict[str, list]:
    try:
        with open(os.path.join(root, CACHE)) as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(root: str, cache: dict[str, list]) -> None:
    tmp = os.path.join(root, f".{CACHE}.{uuid.uuid4().hex[:8]}")
    with contextlib.suppress(OSError):
        with open(tmp, "w") as fh:
            json.dump(cache, fh)
        os.replace(tmp, os.path.join(root, CACHE))


def local_digest(path: str, rel: str, cache: dict[str, list], trust_cache: bool) -> str | None:
    """The sha256 of ``path`` (None if missing), from ``cache`` when size and mtime match."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    hit = cache.get(rel)
    if trust_cache and hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2]
    digest, _ = hash_file(path)
    cache[rel] = [st.st_size, st.st_mtime_ns, digest]
    return digest


def target(root: str, rel: str) -> str:
    """``root/rel``, refusing a manifest path that climbs out of ``root``."""
    dest = os.path.normpath(os.path.join(root, rel))
    if os.path.isabs(rel) or not dest.startswith(os.path.normpath(root) + os.sep):
        raise Error(f"artifact path {rel!r} leaves the download folder")
    return dest


def download(
    blobs: Any, files: list[dict[str, Any]], root: str, s3_options: dict[str, Any] | None = None
) -> dict[str, int]:
    """Bring ``root`` to hold every file of the manifest ``files`` with the right hash
    (references read where they live: ``s3_options`` for ``s3://`` ones).

    Returns:
        ``{"downloaded": n, "skipped": m}``.

    Raises:
        Error: a blob or a reference whose content does not match its digest, a missing
            blob, a reference that cannot be read here.
    """
    os.makedirs(root, exist_ok=True)
    cache = _load_cache(root)
    counts = {"downloaded": 0, "skipped": 0}
    for f in files:
        dest = target(root, f["path"])
        if local_digest(dest, f["path"], cache, True) == f["digest"]:
            counts["skipped"] += 1
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if f.get("ref"):
            _copy_checked(_open_reference(f, s3_options), dest, f)
        else:
            try:
                src = blobs.open(blob_key(f["digest"]))
            except FileNotFoundError:
                raise Error(
                    f"artifact file {f['path']!r}: blob {f['digest']} is missing from the store"
                ) from None
            _copy_checked(src, dest, f)
        st = os.stat(dest)
        cache[f["path"]] = [st.st_size, st.st_mtime_ns, f["digest"]]
        counts["downloaded"] += 1
    _save_cache(root, cache)
    return counts


def _open_reference(f: dict[str, Any], s3_options: dict[str, Any] | None) -> Any:
    if f["size"] == 0 and unchecked_digest(f["ref"]) == f["digest"]:
        raise Error(f"reference {f['ref']} was logged without a checksum: nothing to verify")
    return open_reference(f["ref"], s3_options)


def _copy_checked(src: Any, dest: str, f: dict[str, Any]) -> None:
    tmp = f"{dest}.{uuid.uuid4().hex[:8]}.tmp"
    sha = hashlib.sha256()
    try:
        with src, open(tmp, "wb") as out:
            while chunk := src.read(CHUNK):
                sha.update(chunk)
                out.write(chunk)
        if sha.hexdigest() != f["digest"]:
            what = f"reference {f['ref']}" if f.get("ref") else f"blob of {f['path']!r}"
            raise Error(f"{what} no longer matches its checksum {f['digest'][:12]}...")
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def verify(files: list[dict[str, Any]], root: str) -> None:
    """Check that ``root`` holds exactly the manifest's files with their hashes.

    Raises:
        Error: naming each missing, changed or extra file.
    """
    cache: dict[str, list] = {}
    problems = []
    expected = {f["path"]: f["digest"] for f in files}
    for rel, digest in expected.items():
        got = local_digest(target(root, rel), rel, cache, False)
        if got is None:
            problems.append(f"missing {rel}")
        elif got != digest:
            problems.append(f"changed {rel}")
    problems += [f"extra {rel}" for rel in _walk(root) if rel not in expected]
    if problems:
        raise Error(f"{root} does not match the artifact: {', '.join(sorted(problems))}")
    _save_cache(root, cache)


def remove_extra(files: list[dict[str, Any]], root: str) -> None:
    """Delete the files of ``root`` that are not in the manifest (``checkout``)."""
    expected = {f["path"] for f in files}
    for rel in _walk(root):
        if rel not in expected:
            os.unlink(os.path.join(root, rel))


def _walk(root: str) -> list[str]:
    out = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            if rel != CACHE:
                out.append(rel)
    return out
