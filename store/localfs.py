"""Blobs in a local folder: ``<root>/<key>``, through ``pyarrow.fs``.

The bytes go through a ``pyarrow.fs`` filesystem (a ``LocalFileSystem`` under a
``SubTreeFileSystem`` rooted at the store), so the streams are Arrow's own: the exporter writes
parquet and the read API reads it natively, without a Python call per chunk, and a blob store
on S3 or GCS is the same calls on another ``pyarrow.fs`` filesystem. pyarrow is imported on
the first blob operation, never when the store is opened (``import tracker`` and a cold
``init`` stay light).

What is local-only: a write goes to a hidden temporary name in the key's folder
(``.<name>.<random>.tmp``, skipped by :meth:`LocalBlobStore.list`) and is renamed at close, so
a reader sees the whole blob or none of it; and :meth:`LocalBlobStore.get_file` may hard link
a blob, which is safe because blobs are only ever replaced by a rename, never rewritten in
place, and the link is made read-only first.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import uuid
from collections.abc import Iterator
from typing import IO, Any

from tracker.store.base import BlobStore
from tracker.store.keys import check_key


class LocalBlobStore(BlobStore):
    """Blobs under a local folder.

    Args:
        root: the store's folder (absolute); its ``runs/`` holds the runs' blobs.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.uri = "file://" + root
        self._arrow_fs: Any = None
        self._lock = threading.Lock()

    def _fs(self) -> Any:
        if self._arrow_fs is None:
            with self._lock:
                if self._arrow_fs is None:
                    import pyarrow.fs as pafs

                    self._arrow_fs = pafs.SubTreeFileSystem(self.root, pafs.LocalFileSystem())
        return self._arrow_fs

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        folder, _, name = check_key(key).rpartition("/")
        if not name:
            raise ValueError(f"invalid blob key {key!r}: a folder, not a blob")
        hidden = f".{name}.{uuid.uuid4().hex[:12]}.tmp"  # one per writer: writers may race
        tmp = f"{folder}/{hidden}" if folder else hidden
        fs = self._fs()
        if folder:
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
        return "file://" + os.path.join(self.root, check_key(key))

    def get_file(self, key: str, local_path: str, link: bool = False) -> None:
        if not (link and self._link(os.path.join(self.root, check_key(key)), local_path)):
            super().get_file(key, local_path)

    @staticmethod
    def _link(src: str, local_path: str) -> bool:
        """Hard link ``src`` at ``local_path``, read-only; False where links do not work."""
        tmp = f"{local_path}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            # Read-only first: a link is safe only if nobody rewrites it in place (the store
            # never does: it replaces a blob by a rename).
            os.chmod(src, stat.S_IMODE(os.stat(src).st_mode) & ~0o222)
            os.link(src, tmp)
            os.replace(tmp, local_path)
            return True
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False  # another device, no links on this file system, not our file: copy
