"""``tracker.Artifact``: a version being built, or one in the store (§12, seeds 000-002).

One class for both, as in W&B. A draft (``tracker.Artifact(name, type)``) collects entries
(``add_file``, ``add_dir``, ``add_reference``, ``new_file``, ``add``); nothing is read or
hashed here: ``run.log_artifact`` hands the entries to the sidecar, which hashes and stores
them. A stored version (``Api().artifact(...)``, or a draft once ``wait()`` returned) has
its manifest in the catalogue and its files in the store's content-addressed blobs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import urlparse

from tracker.errors import ArgumentError, Error

REFERENCE_SCHEMES = ("file", "s3")


def check_name(name: Any, what: str = "artifact name") -> str:
    """An artifact or collection name: text without ``/`` or ``:``.

    Raises:
        ArgumentError: an empty name, or one with ``/`` or ``:`` in it.
    """
    if not isinstance(name, str) or not name.strip():
        raise ArgumentError(f"{what} must be non-empty text, got {name!r}")
    for bad in ("/", ":"):
        if bad in name:
            raise ArgumentError(
                f"{what} {name!r} may not contain {bad!r} (use 'name', and 'name:alias' only "
                "when reading a version)"
            )
    return name


def check_entry_name(name: Any) -> str:
    """A path inside an artifact: relative, ``/``-separated, never climbing out."""
    if not isinstance(name, str) or not name:
        raise ArgumentError(f"artifact entry name must be non-empty text, got {name!r}")
    norm = name.replace(os.sep, "/")
    if norm.startswith("/") or any(seg in ("", ".", "..") for seg in norm.split("/")):
        raise ArgumentError(
            f"artifact entry name {name!r} must be a relative path inside the artifact"
        )
    return norm


class ArtifactManifestEntry:
    """One file of an artifact: its path, and (once stored) its sha256 digest and size.

    Attributes:
        path: the name inside the artifact.
        digest: sha256 hex digest (None in a draft: the sidecar computes it).
        size: bytes (None in a draft).
        ref: the URI of a reference, else None.
        local_path: the file to read (a draft's).
    """

    def __init__(
        self,
        path: str,
        digest: str | None = None,
        size: int | None = None,
        ref: str | None = None,
        local_path: str | None = None,
        checksum: bool = True,
        is_tmp: bool = False,
        artifact: Artifact | None = None,
    ) -> None:
        self.path = path
        self.digest = digest
        self.size = size
        self.ref = ref
        self.local_path = local_path
        self.checksum = checksum
        self.is_tmp = is_tmp
        self._artifact = artifact

    def download(self, root: str | None = None) -> str:
        """Download this one file of a stored artifact; return its local path."""
        art = self._require()
        root = root or art._default_root()
        art._download([self._row()], root)
        return os.path.join(root, self.path)

    def _require(self) -> Artifact:
        if self._artifact is None or self._artifact._record is None:
            raise Error(f"{self.path}: the artifact is not stored yet (call wait() first)")
        return self._artifact

    def _row(self) -> dict[str, Any]:
        return {"path": self.path, "digest": self.digest, "size": self.size, "ref": self.ref}

    def __repr__(self) -> str:
        return f"<ArtifactManifestEntry {self.path} {self.digest and self.digest[:12]}>"


class ArtifactManifest:
    """The entries of an artifact, by path."""

    def __init__(self, entries: dict[str, ArtifactManifestEntry]) -> None:
        self.entries = entries

    def to_manifest_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "storagePolicy": "sha256",
            "contents": {
                p: {"digest": e.digest, "size": e.size, **({"ref": e.ref} if e.ref else {})}
                for p, e in sorted(self.entries.items())
            },
        }


class Artifact:
    """A dataset, model, checkpoint or any set of files, versioned by content.

    Args:
        name: the collection's name (no ``/`` or ``:``).
        type: ``dataset``, ``model``, ``code``... any text.
        description: free text.
        metadata: a JSON-able dict.
        incremental: start from the latest version's files (only changes are given).

    Raises:
        Error: a bad name or type.

    Example:
        >>> art = tracker.Artifact("mnist", type="dataset")
        >>> art.add_dir("data/mnist")
        >>> run.log_artifact(art, aliases=["best"])   # returns at once
        >>> art.wait().version                          # 'v0'
    """

    def __init__(
        self,
        name: str,
        type: str,  # noqa: A002 - W&B's name
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        incremental: bool = False,
    ) -> None:
        self._name = check_name(name)
        self._type = check_name(type, "artifact type")
        if metadata is not None and not isinstance(metadata, dict):
            raise ArgumentError(
                f"artifact metadata must be a dict, got {metadata.__class__.__name__}"
            )
        self.description = description
        self.metadata = dict(metadata or {})
        self.incremental = bool(incremental)
        self._id = uuid.uuid4().hex
        self._entries: dict[str, ArtifactManifestEntry] = {}
        self._removed: set[str] = set()
        self._tmp: str | None = None
        self.aliases: list[str] = []
        self.tags: list[str] = []
        self._record: dict[str, Any] | None = None  # the catalogue's row once stored
        self._api: Any = None
        self._waiter: Callable[[float | None], dict[str, Any]] | None = None
        self._logged = False
        self._manifest_loaded = True

    # -- identity --------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The version's id (also the draft's, which becomes it once stored)."""
        return self._record["artifact_id"] if self._record else self._id

    @property
    def type(self) -> str:
        return self._type

    @property
    def source_name(self) -> str:
        """The name of the collection it was logged to."""
        return self._record["source_name"] if self._record else self._name

    @property
    def name(self) -> str:
        """``name`` for a draft, ``name:v<N>`` for a stored version (as W&B)."""
        if self._record is None:
            return self._name
        return f"{self._record['collection']}:v{self._record['version_index']}"

    @property
    def collection_name(self) -> str:
        return self._record["collection"] if self._record else self._name

    @property
    def version(self) -> str:
        """``v<N>`` in the collection it was read from.

        Raises:
            Error: a draft, not stored yet.
        """
        return f"v{self._stored()['version_index']}"

    @property
    def entity(self) -> str:
        return self._stored()["entity"]

    @property
    def project(self) -> str:
        return self._stored()["project"]

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    @property
    def digest(self) -> str | None:
        """sha256 of the manifest; None until the version is stored."""
        return self._record["digest"] if self._record else None

    @property
    def size(self) -> int:
        if self._record:
            return int(self._record.get("size") or 0)
        return sum(e.size or 0 for e in self._entries.values())

    @property
    def file_count(self) -> int:
        return len(self.manifest.entries)

    @property
    def created_at(self) -> float | None:
        return self._record.get("created_at") if self._record else None

    @property
    def state(self) -> str:
        return "COMMITTED" if self._record else "PENDING"

    @property
    def manifest(self) -> ArtifactManifest:
        self._load_manifest()
        return ArtifactManifest(self._entries)

    def _stored(self) -> dict[str, Any]:
        if self._record is None:
            raise Error(f"artifact {self._name!r} is not stored yet: log it, then call wait()")
        return self._record

    # -- building a draft ------------------------------------------------------------------
    def _writable(self) -> None:
        if self._logged or self._record is not None:
            raise Error(
                f"artifact {self.name!r} is logged already; make a new Artifact to change it"
            )

    def _put(self, entry: ArtifactManifestEntry, overwrite: bool = True) -> ArtifactManifestEntry:
        if not overwrite and entry.path in self._entries:
            raise ArgumentError(f"artifact {self._name!r} already has an entry {entry.path!r}")
        self._entries[entry.path] = entry
        self._removed.discard(entry.path)
        return entry

    def add_file(
        self,
        local_path: str,
        name: str | None = None,
        is_tmp: bool = False,
        overwrite: bool = False,
        **_: Any,
    ) -> ArtifactManifestEntry:
        """Add a local file; it is snapshotted when the artifact is logged, not now.

        Args:
            local_path: the file.
            name: its path in the artifact (default: the file's name).
            is_tmp: the file is the artifact's to take (moved into the snapshot).
            overwrite: replace an entry of the same name.

        Raises:
            Error: the file does not exist, a bad name, or the artifact is logged already.
        """
        self._writable()
        path = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(path):
            raise ArgumentError(f"add_file: {local_path} is not a file")
        entry_name = check_entry_name(name if name is not None else os.path.basename(path))
        return self._put(
            ArtifactManifestEntry(entry_name, local_path=path, is_tmp=is_tmp, artifact=self),
            overwrite or name is None,
        )

    def add_dir(self, local_path: str, name: str | None = None, **_: Any) -> None:
        """Add every file under a local folder (as ``name/<relative path>``).

        Raises:
            Error: not a folder, or the artifact is logged already.
        """
        self._writable()
        root = os.path.abspath(os.fspath(local_path))
        if not os.path.isdir(root):
            raise ArgumentError(f"add_dir: {local_path} is not a directory")
        prefix = check_entry_name(name).rstrip("/") + "/" if name else ""
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            for fname in sorted(files):
                full = os.path.join(dirpath, fname)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                self._put(ArtifactManifestEntry(prefix + rel, local_path=full, artifact=self))

    def add_reference(
        self, uri: str, name: str | None = None, checksum: bool = True, **_: Any
    ) -> list[ArtifactManifestEntry]:
        """Add a reference (``file://`` or ``s3://``): recorded by URI and checksummed by the
        sidecar (the sha256 of the content, read where it lives), never copied into the store;
        ``download`` reads it there and fails if it changed since.

        A ``file://`` folder adds each file under it; an ``s3://`` URI names one object (the
        sidecar reaches S3 with the AWS variables). ``checksum=False`` records the URI alone.

        Raises:
            Error: another scheme, or a ``file://`` target that does not exist.
        """
        self._writable()
        parsed = urlparse(str(uri))
        if parsed.scheme not in REFERENCE_SCHEMES:
            raise ArgumentError(
                f"add_reference: {uri!r} has no supported scheme ({', '.join(REFERENCE_SCHEMES)})"
            )
        base = name or os.path.basename(parsed.path.rstrip("/")) or parsed.netloc
        if parsed.scheme == "file" and os.path.isdir(parsed.path):
            added = []
            for dirpath, _, files in os.walk(parsed.path):
                for fname in sorted(files):
                    full = os.path.join(dirpath, fname)
                    rel = os.path.relpath(full, parsed.path).replace(os.sep, "/")
                    added.append(self._put(ArtifactManifestEntry(
                        check_entry_name(f"{base}/{rel}"), ref="file://" + full, checksum=checksum, artifact=self,
                    )))  # fmt: skip
            return added
        if parsed.scheme == "file" and not os.path.isfile(parsed.path):
            raise ArgumentError(f"add_reference: {uri} names no file or folder")
        entry = ArtifactManifestEntry(
            check_entry_name(base), ref=str(uri), checksum=checksum, artifact=self
        )
        return [self._put(entry)]  # fmt: skip

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "w", encoding: str | None = None) -> Iterator[IO]:
        """Write a new file into the artifact (a context manager yielding the open file).

        Example:
            >>> with art.new_file("labels.txt") as f:
            ...     f.write("cat\\ndog\\n")
        """
        self._writable()
        rel = check_entry_name(name)
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="tracker-artifact-")
        path = os.path.join(self._tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode, encoding=encoding) as fh:
            yield fh
        self.add_file(path, rel, is_tmp=True, overwrite=True)

    def add(self, obj: Any, name: str) -> ArtifactManifestEntry:
        """Add an object as a file of the version; :meth:`get` gives it back.

        Args:
            obj: a ``tracker.Table`` (stored as ``name.table.parquet``), a ``tracker.Image``
                (``name.image.png``), or a dict, a list or an object with ``to_json()``
                (``name.json``).
            name: the name to ``get`` it by.

        Raises:
            ArgumentError: another media type, or an object that is not JSON.
            ValueError: a table or image that could not be logged either.
        """
        from tracker.api.artifact_objects import encode

        rel, data = encode(obj, check_entry_name(name))
        with self.new_file(rel, mode="wb") as fh:
            fh.write(data)
        return self._entries[check_entry_name(rel)]

    def remove(self, item: str | ArtifactManifestEntry) -> None:
        """Remove an entry (by path or entry); for an incremental artifact, also one of the
        latest version's files.

        Raises:
            Error: no such entry (in a non-incremental artifact).
        """
        self._writable()
        path = item.path if isinstance(item, ArtifactManifestEntry) else check_entry_name(item)
        if self._entries.pop(path, None) is None and not self.incremental:
            raise Error(f"artifact {self._name!r} has no entry {path!r}")
        self._removed.add(path)

    # -- reading ---------------------------------------------------------------------------
    def get_entry(self, name: str) -> ArtifactManifestEntry:
        """The entry at ``name``.

        Raises:
            KeyError: no such entry.
        """
        self._load_manifest()
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"artifact {self.name!r} has no entry {name!r}") from None

    get_path = get_entry

    def files(self) -> list[ArtifactManifestEntry]:
        """Every entry, by path."""
        self._load_manifest()
        return [self._entries[p] for p in sorted(self._entries)]

    def get(self, name: str) -> Any:
        """An object added with :meth:`add` (a Table, an Image, JSON), read back (its file
        downloaded if needed).

        Raises:
            KeyError: no entry of that name.
        """
        from tracker.api.artifact_objects import decode, entry_for

        self._load_manifest()
        rel = entry_for(list(self._entries), name)
        entry = self.get_entry(rel or name)
        path = entry.local_path if self._record is None else entry.download()
        return decode(path, entry.path)  # type: ignore[arg-type]

    def _load_manifest(self) -> None:
        if self._manifest_loaded or self._record is None:
            return
        rows = self._api.store.catalogue.artifact_files(self._record["artifact_id"])
        self._entries = {
            r["path"]: ArtifactManifestEntry(r["path"], r["digest"], r["size"], r["ref"], artifact=self)
            for r in rows
        }  # fmt: skip
        self._manifest_loaded = True

    def _default_root(self) -> str:
        return os.path.join(".", "artifacts", self.name.replace(":", "-"))

    def download(self, root: str | None = None, **_: Any) -> str:
        """Put every file of the version under ``root``, checking each hash; files already
        there with the right hash are skipped. Returns ``root``.

        Raises:
            Error: not stored yet, a blob or reference that does not match its checksum.
        """
        root = os.path.abspath(root or self._default_root())
        self._download([e._row() for e in self.files()], root)
        return root

    def _download(self, rows: list[dict[str, Any]], root: str) -> dict[str, int]:
        from tracker.api.artifact_files import download

        self._stored()
        store = self._api.store
        return download(store.blobs, rows, root, getattr(store, "s3_defaults", None))

    def checkout(self, root: str | None = None) -> str:
        """Download into ``root`` and delete whatever else is there. Returns ``root``."""
        from tracker.api.artifact_files import remove_extra

        root = self.download(root)
        remove_extra([e._row() for e in self.files()], root)
        return root

    def verify(self, root: str | None = None) -> None:
        """Check that ``root`` holds exactly this version's files (hashing each).

        Raises:
            Error: naming the missing, changed and extra files.
        """
        from tracker.api.artifact_files import verify

        self._stored()
        verify([e._row() for e in self.files()], os.path.abspath(root or self._default_root()))

    # -- lifecycle -------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Artifact:
        """Block until the logged version is committed with all its blobs in the store.

        Raises:
            Error: the version failed (a file changed or vanished after ``log_artifact``,
                the store refused it), the artifact was never logged, or ``timeout`` passed.
        """
        if self._record is not None:
            return self
        if self._waiter is None:
            raise Error(f"artifact {self._name!r} was not logged: call run.log_artifact first")
        reply = self._waiter(timeout)
        if reply.get("state") != "committed":
            raise Error(f"artifact {self._name!r} was not committed: {reply.get('error')}")
        if reply.get("artifact"):
            from tracker.api.client import Api

            self._bind_stored(self._api or Api(), reply["artifact"])
        return self

    def _bind_stored(self, api: Any, record: dict[str, Any]) -> None:
        record.setdefault("collection", record.get("name"))
        self._record = record
        self._api = api
        self.aliases = [a for a in record.get("aliases") or []]
        self.tags = list(record.get("tags") or [])
        self.description = record.get("description")
        self.metadata = dict(record.get("metadata") or {})
        self._manifest_loaded = False
        self._logged = True

    def save(self) -> None:
        """Store edits of a stored version (description, metadata, tags, aliases)."""
        rec = self._stored()
        cat = self._api.store.catalogue
        cat.update_artifact(rec["artifact_id"], {"description": self.description, "metadata": self.metadata, "tags": self.tags})  # fmt: skip
        cat.set_artifact_aliases(rec["entity"], rec["project"], rec["collection"], rec["artifact_id"], list(self.aliases))  # fmt: skip

    def delete(self, delete_aliases: bool = False) -> None:
        """Remove this version from the catalogue (its blobs go at the next ``gc``)."""
        rec = self._stored()
        if not delete_aliases and [a for a in self.aliases if a != "latest"]:
            raise Error(f"{self.name} has aliases {self.aliases}: pass delete_aliases=True")
        self._api.store.catalogue.delete_artifact(rec["artifact_id"])

    def link(self, target_path: str, aliases: list[str] | None = None) -> None:
        """Link this stored version into ``target_path`` (``model-registry/<name>``,
        ``project/name`` or ``entity/project/name``)."""
        from tracker.api.artifact_read import parse_target

        rec = self._stored()
        entity, project, collection = parse_target(target_path, rec["entity"], rec["project"])
        self._api.store.catalogue.link_artifact(rec["artifact_id"], entity, project, collection, list(aliases or []))  # fmt: skip

    def logged_by(self) -> Any:
        """The run that logged this version (a read-side ``Run``), or None."""
        rec = self._stored()
        if not rec.get("run_id"):
            return None
        return self._api.run(f"{rec['entity']}/{rec['project']}/{rec['run_id']}")

    def used_by(self) -> list[Any]:
        """The runs that used this version."""
        users = self._api.store.catalogue.artifact_users(self._stored()["artifact_id"])
        return [self._api.run("/".join(u)) for u in users]

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name if self._record else self._name} ({self._type})>"


def draft_spec(
    art: Artifact,
    op: str,
    aliases: list[str],
    tags: list[str] | None,
    distributed_id: str | None = None,
) -> dict[str, Any]:
    """The ``ARTIFACT`` record of a draft: its head and entries (files not yet snapshotted:
    each entry's ``local`` is the caller's file)."""
    entries = []
    for e in art._entries.values():
        if e.ref is not None:
            entries.append({"path": e.path, "ref": e.ref, "checksum": e.checksum})
        else:
            entries.append({"path": e.path, "local": e.local_path, "is_tmp": e.is_tmp})
    return {
        "op": op,
        "id": art._id,
        "name": art._name,
        "type": art._type,
        "description": art.description,
        "metadata": art.metadata,
        "aliases": list(aliases),
        "tags": list(tags or art.tags),
        "incremental": art.incremental,
        "removed": sorted(art._removed),
        "distributed_id": distributed_id,
        "entries": entries,
    }


def check_aliases(aliases: Any) -> list[str]:
    """Aliases as a list of names (one string is one alias).

    Raises:
        ArgumentError: an alias that is not text, or holds ``/``, ``:`` or ``,``.
    """
    if aliases is None:
        return []
    items = [aliases] if isinstance(aliases, str) else list(aliases)
    for a in items:
        if not isinstance(a, str) or not a or any(c in a for c in "/:,"):
            raise ArgumentError(f"bad artifact alias {a!r}: non-empty text without '/', ':' or ','")
    return items
