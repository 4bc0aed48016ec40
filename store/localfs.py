"""Blobs in a local folder: ``<root>/<key>``, through ``pyarrow.fs``'s ``LocalFileSystem``.

Everything but linking is the generic ``pyarrow.fs`` blob store's
(:mod:`tracker.store.pyarrowfs`). What is local-only: :meth:`LocalBlobStore.get_file` may hard
link a blob, which is safe because blobs are only ever replaced by a rename, never rewritten in
place, and the link is made read-only first.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from typing import Any

from tracker.store.keys import check_key
from tracker.store.pyarrowfs import ArrowBlobStore


def _local_fs() -> Any:
    import pyarrow.fs as pafs

    return pafs.LocalFileSystem()


class LocalBlobStore(ArrowBlobStore):
    """Blobs under a local folder.

    Args:
        root: the store's folder (absolute); its ``runs/`` holds the runs' blobs.
    """

    def __init__(self, root: str) -> None:
        super().__init__("file://" + root, root, _local_fs, folders=True)

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
