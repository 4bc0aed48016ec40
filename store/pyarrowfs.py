"""Blobs on any ``pyarrow.fs`` file system: a local folder, S3 (and S3-compatible services),
GCS, HDFS, under one root; ``<root>/<key>`` is a blob.

The streams are Arrow's own: the exporter writes parquet and the read API reads it natively,
without a Python call per chunk. pyarrow is imported on the first blob operation, never when
the store is opened (``import tracker`` and a cold ``init`` stay light).

A write goes to a hidden temporary name in the key's folder (``.<name>.<random>.tmp``,
skipped by :meth:`ArrowBlobStore.list`) and is moved to its key at close, so a reader sees the
whole blob or none of it, on object stores too (an S3 upload closed after an error would
otherwise appear half written).

For S3, the endpoint, region and credentials come from the store URI's options (named as
``pyarrow.fs.S3FileSystem`` names them), else from the defaults the caller passes (the
``AWS_ENDPOINT_URL``/``AWS_DEFAULT_REGION`` variables, read by ``tracker.settings``); pyarrow
reads ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` itself.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import urlsplit

from tracker.store.base import BlobStore
from tracker.store.keys import check_key

# an S3 service that is down fails a call in seconds (the sidecar retries), not minutes
S3_TIMEOUTS = {"connect_timeout": 3.0, "request_timeout": 10.0}


class ArrowBlobStore(BlobStore):
    """Blobs under ``root`` of a ``pyarrow.fs`` file system made (once, lazily) by ``make_fs``.

    Args:
        uri: the blob store's URI (``s3://bucket/prefix``, ``file:///path``).
        root: the root inside the file system (``bucket/prefix``, ``/path``).
        make_fs: builds the file system (called on the first blob operation).
        folders: whether the file system has real folders to create before a write
            (object stores have none).
    """

    def __init__(self, uri: str, root: str, make_fs: Callable[[], Any], folders: bool) -> None:
        self.uri = uri.rstrip("/")
        self.root = root
        if not uri.startswith("file://"):
            self.part_period = 2.0  # read from other hosts, without the sidecar's tail
        self._make_fs = make_fs
        self._folders = folders
        self._arrow_fs: Any = None
        self._lock = threading.Lock()

    def _fs(self) -> Any:
        if self._arrow_fs is None:
            with self._lock:
                if self._arrow_fs is None:
                    import pyarrow.fs as pafs

                    self._arrow_fs = pafs.SubTreeFileSystem(self.root, self._make_fs())
        return self._arrow_fs

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        folder, _, name = check_key(key).rpartition("/")
        if not name:
            raise ValueError(f"invalid blob key {key!r}: a folder, not a blob")
        hidden = f".{name}.{uuid.uuid4().hex[:12]}.tmp"  # one per writer: writers may race
        tmp = f"{folder}/{hidden}" if folder else hidden
        fs = self._fs()
        if folder and self._folders:
            fs.create_dir(folder, recursive=True)
        stream = fs.open_output_stream(tmp, compression=None)
        try:
            yield stream
            stream.close()
            fs.move(tmp, key)
        except BaseException:
            with contextlib.suppress(Exception):
                stream.close()
            with contextlib.suppress(OSError):
                fs.delete_file(tmp)
            raise

    def open(self, key: str) -> IO[bytes]:
        return self._fs().open_input_file(check_key(key))

    def list(self, prefix: str) -> list[str]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(
            check_key(prefix).rstrip("/"), recursive=True, allow_not_found=True
        )
        return sorted(
            info.path
            for info in self._fs().get_file_info(selector)
            if info.type == pafs.FileType.File and not info.base_name.startswith(".")
        )

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._fs().delete_file(check_key(key))

    def delete_prefix(self, prefix: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._fs().delete_dir(check_key(prefix).rstrip("/"))

    def size(self, key: str) -> int | None:
        import pyarrow.fs as pafs

        info = self._fs().get_file_info(check_key(key))
        return info.size if info.type == pafs.FileType.File else None

    def url(self, key: str) -> str:
        return f"{self.uri}/{check_key(key)}"


def open_blob_store(
    uri: str, options: dict[str, Any] | None = None, defaults: dict[str, Any] | None = None
) -> BlobStore:
    """The blob store at ``uri`` (``s3://bucket/prefix``, ``gs://...``, ``file:///path``...).

    Args:
        uri: the blob store's URI.
        options: ``S3FileSystem`` keyword arguments (for ``s3://``), from the URI.
        defaults: ``S3FileSystem`` keyword arguments the URI's options override (the AWS
            variables', read by ``tracker.settings.Env.s3_defaults``).

    Returns:
        The blob store; nothing is contacted until its first operation.
    """
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file":
        from tracker.store.localfs import LocalBlobStore

        return LocalBlobStore(os.path.abspath(parts.path))
    if scheme == "s3":
        root = (parts.netloc + parts.path).rstrip("/")
        return ArrowBlobStore(
            uri, root, lambda: s3_filesystem({**(defaults or {}), **(options or {})}), folders=False
        )

    def make() -> Any:
        import pyarrow.fs as pafs

        fs, _ = pafs.FileSystem.from_uri(uri)
        return fs

    root = (parts.netloc + parts.path).rstrip("/") if scheme in ("gs", "gcs") else parts.path
    return ArrowBlobStore(uri, root, make, folders=scheme == "hdfs")


def s3_filesystem(options: dict[str, Any]) -> Any:
    """A ``pyarrow.fs.S3FileSystem`` from ``options`` (an endpoint URL split for pyarrow)."""
    import pyarrow.fs as pafs

    kwargs = {**S3_TIMEOUTS, **options}
    endpoint = kwargs.get("endpoint_override")
    if endpoint:
        # pyarrow wants host[:port] and the scheme apart; AWS_ENDPOINT_URL carries both
        split = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
        if split.scheme:
            kwargs.setdefault("scheme", split.scheme)
        kwargs["endpoint_override"] = split.netloc + split.path.rstrip("/")
    return pafs.S3FileSystem(**kwargs)
