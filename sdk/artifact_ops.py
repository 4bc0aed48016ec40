"""A run's artifact methods (§12): ``log_artifact``, ``use_artifact``, models, links and
distributed versions, mixed into :class:`tracker.Run`.

``log_artifact`` never reads a file's content: it snapshots each file (:func:`snapshot`)
into ``<run dir>/artifacts/<id>/`` and sends one persisted ``ARTIFACT`` record; the sidecar
hashes and stores. The snapshot is, per file, the cheapest that keeps the version exact:

- a file the artifact owns (``new_file``, ``is_tmp``): moved into the snapshot;
- a reflink (``FICLONE``: btrfs, XFS) where the file system has them: a real copy-on-write
  copy, so later changes to the file never reach the version;
- else a hard link, with the size and mtime the file had at the call: the link keeps the
  content if the caller replaces the file (a new checkpoint written and renamed, the file
  deleted), and the sidecar refuses the version (``wait()`` raises) if the file was
  rewritten in place before it was read, so a version never holds mixed content;
- else (another file system than the run folder's) the caller's path with that size and
  mtime, on the same terms.

Only ``os`` and ``uuid`` are imported with ``tracker``; the rest when an artifact is used.
"""

from __future__ import annotations

import os
from typing import Any

from tracker.errors import ArgumentError, Error

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
WAIT_TIMEOUT = 24 * 3600.0


def snapshot(entries: list[dict[str, Any]], staging: str) -> dict[str, int]:
    """Make each local entry's snapshot under ``staging`` (in place); return counts by kind."""
    counts = {"moved": 0, "reflink": 0, "link": 0, "path": 0}
    reflinks = True
    os.makedirs(staging, exist_ok=True)
    for i, entry in enumerate(entries):
        src = entry.pop("local", None)
        if src is None:
            continue  # a reference: checksummed by the sidecar, never copied
        dst = os.path.join(staging, f"{i:06d}")
        mark: Any = None
        if entry.pop("is_tmp", False):
            os.replace(src, dst)
            kind = "moved"
        elif reflinks and _reflink(src, dst):
            kind = "reflink"
        else:
            reflinks = False  # one refusal is the file system's answer for the others
            try:
                os.link(src, dst)
                kind = "link"
            except OSError:
                dst, kind = src, "path"
            st = os.stat(dst)
            mark = [st.st_size, st.st_mtime_ns]
        entry.update(local=dst, mark=mark, size=os.path.getsize(dst))
        counts[kind] += 1
    return counts


def _reflink(src: str, dst: str) -> bool:
    import fcntl

    try:
        with open(src, "rb") as s, open(dst, "wb") as d:
            fcntl.ioctl(d.fileno(), FICLONE, s.fileno())
        return True
    except OSError:
        try:
            os.unlink(dst)
        except OSError:
            pass
        return False


def _qualify(run: Any, name: str) -> str:
    """``name`` -> ``entity/project/name`` with the run's entity and project as defaults."""
    slashes = name.split(":")[0].count("/")
    if slashes == 0:
        return f"{run.entity}/{run.project}/{name}"
    if slashes == 1:
        return f"{run.entity}/{name}"
    return name


class ArtifactMethods:
    """The artifact methods of :class:`tracker.Run` (kept here: one job, one module)."""

    # -- helpers ---------------------------------------------------------------------------
    def _artifact_api(self) -> Any:
        from tracker.api.client import Api

        return Api()

    def _as_artifact(self, artifact_or_path: Any, name: str | None, type_: str | None) -> Any:
        from tracker.api.artifact import Artifact

        if isinstance(artifact_or_path, Artifact):
            return artifact_or_path
        path = os.fspath(artifact_or_path)
        if not os.path.exists(path):
            raise ArgumentError(f"log_artifact: {path} does not exist")
        art = Artifact(
            name or f"run-{self.id}-{os.path.basename(os.path.abspath(path))}",
            type_ or "unspecified",
        )
        if os.path.isdir(path):
            art.add_dir(path)
        else:
            art.add_file(path)
        return art

    def _send_artifact(
        self, art: Any, op: str, aliases: Any, tags: Any, distributed_id: str | None = None
    ) -> Any:
        from tracker.api.artifact import check_aliases, draft_spec
        from tracker.proto.messages import Kind

        if self._finished:
            raise Error(f"run {self.id} is finished; {op}_artifact needs an active run")
        if art._logged or art._record is not None:
            raise Error(f"artifact {art.name!r} was logged already; make a new Artifact")
        spec = draft_spec(art, op, check_aliases(aliases), list(tags or []), distributed_id)
        if self.disabled:
            return art
        staging = os.path.join(self.sync_dir, "artifacts", art._id)
        counts = snapshot(spec["entries"], staging)
        spec["staging"] = staging
        self._send(Kind.ARTIFACT, spec)
        self.debug(f"{op}_artifact {art._name} ({art._type}) id={art._id} snapshot={counts}")
        art._logged = True
        art._waiter = lambda timeout: self._wait_artifact(art._id, timeout)
        art.aliases = ["latest", *spec["aliases"]]
        return art

    def _wait_artifact(self, job_id: str, timeout: float | None) -> dict[str, Any]:
        from tracker.proto.messages import Kind

        if self.offline:
            return {"state": "failed", "error": "offline run: `tracker-service sync` builds it"}
        if not self._finished and self._conn is not None:
            return self._conn.request(
                Kind.ARTIFACT_REQUEST, self._token, "wait", {"id": job_id},
                timeout=timeout or WAIT_TIMEOUT,
            )  # fmt: skip
        record = self._artifact_api().store.catalogue.get_artifact_by_id(job_id)
        if record is None:  # the run finished: its versions were committed before that
            return {"state": "failed", "error": "not in the store (see the run's sidecar.log)"}
        return {"state": "committed", "artifact": record}

    def _send_edge(self, op: str, art: Any, **fields: Any) -> None:
        """A ``use`` or ``link`` record naming a stored version or one this run logged."""
        import uuid

        from tracker.proto.messages import Kind

        if self._finished:
            raise Error(f"run {self.id} is finished; {op} needs an active run")
        if not art._logged and art._record is None:
            raise Error(f"artifact {art.name!r} is not logged: log_artifact it first")
        if not self.disabled:
            self._send(Kind.ARTIFACT, {"op": op, "id": uuid.uuid4().hex, "artifact_id": art.id, **fields})  # fmt: skip

    # -- the public methods ----------------------------------------------------------------
    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,  # noqa: A002 - W&B's name
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> Any:
        """Log a version of an artifact; returns at once (the sidecar hashes and stores).

        Args:
            artifact_or_path: an :class:`tracker.Artifact`, or a file or folder path.
            name: the artifact's name when a path is given (default ``run-<id>-<file>``).
            type: its type when a path is given (default ``unspecified``).
            aliases: aliases besides ``latest`` (moved here from older versions).
            tags: tags of the version.

        Returns:
            The artifact; ``artifact.wait()`` blocks until the version is committed.

        Raises:
            Error: a missing path, a bad name or alias, an artifact logged already, a
                finished run.
        """
        art = self._as_artifact(artifact_or_path, name, type)
        return self._send_artifact(art, "log", aliases, tags)

    def use_artifact(
        self,
        artifact_or_name: Any,
        type: str | None = None,  # noqa: A002 - W&B's name
        aliases: list[str] | None = None,
        use_as: str | None = None,
    ) -> Any:
        """Declare that this run uses a version (an input edge); return it.

        Args:
            artifact_or_name: ``[entity/][project/]name[:alias or v<N>]`` (default alias
                ``latest``; entity and project default to the run's), or an Artifact.
            type: the type the version must have.

        Raises:
            ArgumentError: no such version, or another type (a ``ValueError`` too).
        """
        from tracker.api.artifact import Artifact
        from tracker.api.artifact_read import get_artifact

        if isinstance(artifact_or_name, Artifact):
            art = artifact_or_name
            if not art._logged and art._record is None:
                self.log_artifact(art, aliases=aliases)
        else:
            art = get_artifact(self._artifact_api(), _qualify(self, str(artifact_or_name)), type)
        if type is not None and art.type != type:
            raise ArgumentError(f"artifact {art.name!r} is of type {art.type!r}, not {type!r}")
        self._send_edge("use", art)
        return art

    def log_model(
        self, path: str, name: str | None = None, aliases: list[str] | None = None
    ) -> Any:
        """Log a model file or folder as an artifact of type ``model``."""
        return self.log_artifact(self._as_artifact(path, name, "model"), aliases=aliases)

    def use_model(self, name: str) -> str:
        """Use a model version and download it; return the local folder.

        Args:
            name: ``[entity/][project/]name[:alias, :v<N> or :<digest>]`` (default alias
                ``latest``).

        Raises:
            ArgumentError: no such version, or one whose type is not a model type (a
                ``ValueError`` too, as in W&B).
        """
        art = self.use_artifact(name)
        if "model" not in art.type:
            raise ArgumentError(f"use_model: {art.name!r} is of type {art.type!r}, not a model")
        return art.download()

    def link_artifact(
        self, artifact: Any, target_path: str, aliases: list[str] | None = None
    ) -> None:
        """Link a version into a collection: ``model-registry/<name>`` (the registry, under
        the run's entity), ``project/name`` or ``entity/project/name``; the collection
        numbers its links ``v0, v1, ...`` and has its own aliases."""
        from tracker.api.artifact import check_aliases
        from tracker.api.artifact_read import parse_target

        entity, project, collection = parse_target(target_path, self.entity, self.project)
        self._send_edge("link", artifact, entity=entity, project=project, collection=collection,
                        aliases=check_aliases(aliases))  # fmt: skip

    def link_model(
        self,
        path: str,
        registered_model_name: str,
        name: str | None = None,
        aliases: list[str] | None = None,
    ) -> Any:
        """Log a model and link it to ``model-registry/<registered_model_name>``.

        Raises:
            ArgumentError: ``registered_model_name`` or ``name`` is a path (holds ``/``) or
                has a ``:``; checked before anything is logged (a ``ValueError`` too).
        """
        from tracker.api.artifact import check_name

        check_name(registered_model_name, "registered_model_name")
        art = self.log_model(path, name)
        self.link_artifact(art, f"model-registry/{registered_model_name}", aliases)
        return art

    def _distributed(self, op: str, art: Any, aliases: Any, distributed_id: str | None) -> Any:
        from tracker.proto.messages import Kind

        did = distributed_id or self.group
        if not did:
            raise ArgumentError(f"{op}_artifact needs a distributed_id (or a run group)")
        if self._conn is not None and not self.offline and not self._finished:
            reply = self._conn.request(
                Kind.ARTIFACT_REQUEST, self._token, "check", {"distributed_id": did}, timeout=30.0
            )
            if reply.get("finished"):
                raise Error(
                    f"distributed artifact {did!r} was finished already: files upserted after "
                    "finish_artifact are refused"
                )
        return self._send_artifact(art, op, aliases, None, did)

    def upsert_artifact(self, artifact_or_path: Any, name: str | None = None, type: str | None = None,  # noqa: A002
                        aliases: list[str] | None = None, distributed_id: str | None = None) -> Any:  # fmt: skip
        """Add this rank's files to the distributed version ``distributed_id`` (default: the
        run's group); ``wait()`` blocks until they are stored.

        Raises:
            Error: the version was finished already, or no id.
        """
        art = self._as_artifact(artifact_or_path, name, type)
        return self._distributed("upsert", art, aliases, distributed_id)

    def finish_artifact(self, artifact_or_path: Any, name: str | None = None, type: str | None = None,  # noqa: A002
                        aliases: list[str] | None = None, distributed_id: str | None = None) -> Any:  # fmt: skip
        """Commit the distributed version ``distributed_id`` with every file upserted so far
        (and this artifact's own); later upserts are refused."""
        art = self._as_artifact(artifact_or_path, name, type)
        return self._distributed("finish", art, aliases, distributed_id)

    def _log_code_artifact(self, plan: list[tuple[str, str]], name: str | None) -> Any:
        """``log_code``'s artifact of type ``code`` (``source-<project>-<run id>``)."""
        from tracker.api.artifact import Artifact

        art = Artifact(name or f"source-{self.project}-{self.id}", "code")
        for rel, src in plan:
            art.add_file(src, rel.split("/", 1)[1] if rel.startswith("code/") else rel)
        return self.log_artifact(art)
