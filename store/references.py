"""Artifact references (§12): files that stay where they are, ``file://`` or ``s3://``.

A reference is recorded by its URI with the sha256 and size of its content, read where it
lives by whoever builds the version (the sidecar, off the training loop); ``download`` reads
it there again and checks that sha256 on the way, so an object changed since it was logged
fails with the URI named instead of giving other bytes. W&B records an S3 object's ETag
instead: the sha256 costs one read of the object at log time, and in exchange the check at
download is the same as for every other file (and holds for multipart uploads, whose ETag is
not a digest of the content).

S3 is reached with ``pyarrow.fs.S3FileSystem`` and the store's S3 options (the AWS variables':
endpoint and region; pyarrow reads the credentials itself), as the store's own blobs are.
"""

from __future__ import annotations

import hashlib
from typing import IO, Any
from urllib.parse import urlparse

from tracker.errors import Error
from tracker.store.base import CHUNK

SCHEMES = ("file", "s3")


def unchecked_digest(uri: str) -> str:
    """The digest of a reference logged with ``checksum=False``: the sha256 of its URI."""
    return hashlib.sha256(uri.encode()).hexdigest()


def open_reference(uri: str, s3_options: dict[str, Any] | None = None) -> IO[bytes]:
    """The referenced content, opened for reading.

    Raises:
        Error: another scheme, or a target that cannot be read (the URI and why named).
    """
    parsed = urlparse(uri)
    try:
        if parsed.scheme == "file":
            return open(parsed.path, "rb")
        if parsed.scheme == "s3":
            from tracker.store.pyarrowfs import s3_filesystem

            fs = s3_filesystem(dict(s3_options or {}))
            return fs.open_input_stream(parsed.netloc + parsed.path)
    except OSError as exc:  # pyarrow's errors (missing key, no bucket, refused) are OSErrors
        raise Error(f"reference {uri} cannot be read: {exc}") from None
    raise Error(f"reference {uri}: unsupported scheme (one of {', '.join(SCHEMES)})")


def reference_checksum(
    uri: str, checksum: bool = True, s3_options: dict[str, Any] | None = None
) -> tuple[str, int]:
    """(sha256 hex digest, size) of the referenced content; with ``checksum=False`` the
    target is not read: the URI's own digest and size 0.

    Raises:
        Error: the target cannot be read.
    """
    if not checksum:
        return unchecked_digest(uri), 0
    sha, size = hashlib.sha256(), 0
    with open_reference(uri, s3_options) as src:
        while chunk := src.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size
