"""Files of a run in the store (§5): ``File``, and ``restore`` for the training side."""

from __future__ import annotations

import datetime
import os
from typing import IO, Any

from tracker.errors import Error
from tracker.store.keys import file_key


class File:
    """A file of a run in the store.

    Attributes:
        name: its path inside the run's files.
        size: bytes.
        md5: hex digest of its content.
        updated_at: ISO 8601 time of its last copy (UTC).
        url: the stored copy's URL (``file://...`` in a local store).
    """

    def __init__(self, api: Any, run_path: list[str], record: dict[str, Any]) -> None:
        self._api = api
        self._run_path = run_path
        self.name: str = record["name"]
        self.size: int = record.get("size") or 0
        self.md5: str = record.get("md5") or ""
        ts = record.get("updated_at")
        self.updated_at = (
            datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat() if ts else None
        )

    @property
    def _key(self) -> str:
        return file_key(*self._run_path, self.name)

    @property
    def url(self) -> str:
        return self._api.store.blobs.url(self._key)

    @property
    def direct_url(self) -> str:
        """The stored copy's URL (the same as :attr:`url` in a local store)."""
        return self.url

    @property
    def path_uri(self) -> str:
        """The stored copy's URI (the same as :attr:`url` in a local store)."""
        return self.url

    @property
    def id(self) -> str:
        """``entity/project/run_id/name``: unique in the store."""
        return "/".join([*self._run_path, self.name])

    @property
    def mimetype(self) -> str:
        """The content type guessed from the name (``application/octet-stream`` if none)."""
        import mimetypes

        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    def delete(self) -> None:
        """Remove the file from the run in the store (its record and its stored copy)."""
        entity, project, run_id = self._run_path
        self._api.store.catalogue.delete_files(entity, project, run_id, [self.name])
        self._api.store.blobs.delete(self._key)

    def download(self, root: str = ".", replace: bool = False, exist_ok: bool = False) -> IO:
        """Copy the file to ``root/<name>`` and return it open for reading.

        Raises:
            ValueError: the file exists locally and neither ``replace`` nor ``exist_ok``.
            FileNotFoundError: the stored copy is gone.
        """
        dest = os.path.join(root, self.name)
        if os.path.exists(dest) and not replace:
            if not exist_ok:
                raise ValueError(f"{dest} already exists; pass replace=True to overwrite it")
            return open(dest)
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        # a copy, never a link: the caller may edit what it downloaded
        self._api.store.blobs.get_file(self._key, dest)
        return open(dest)

    def __repr__(self) -> str:
        return f"<File {self.name} ({self.size} bytes)>"


def restore_file(name: str, run_path: str, replace: bool, root: str) -> IO:
    """Open ``name`` of the run at ``run_path``, downloading it to ``root`` unless it is there.

    Raises:
        ValueError: no such run or file.
    """
    from tracker.api.client import Api

    api = Api()
    try:
        run = api.run(run_path)
    except Error as exc:
        raise ValueError(f"restore(): {exc}") from None
    dest = os.path.join(root, name)
    if os.path.exists(dest) and not replace:
        return open(dest)
    f = run.file(name)
    if f is None:
        raise ValueError(f"restore(): run {'/'.join(run.path)} has no file {name!r}")
    return f.download(root=root, replace=True)
