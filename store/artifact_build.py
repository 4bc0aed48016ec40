"""Doing one artifact record's work against a store (§12): used by the sidecar's artifacts
stage for runs, and in-process by the read API (``Api().run(p).log_artifact``).

A record (``spec``) names its op and entries; :func:`build` hashes and stores each file
(:func:`tracker.store.artifacts.store_file`), then commits the version, adds files to a
distributed draft, records a use or links a version, each in one catalogue transaction.
A replayed record whose version exists is answered from the catalogue.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from tracker.errors import Error
from tracker.store.artifacts import manifest_digest, store_file
from tracker.store.references import reference_checksum

OPS = ("log", "upsert", "finish", "use", "link")


class Progress:
    """What one job has left: files and bytes (written by the worker, read by status)."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.files = len(entries)
        self.bytes = sum(int(e.get("size") or 0) for e in entries)

    def done(self, size: int) -> None:
        self.files -= 1
        self.bytes = max(0, self.bytes - size)


def build(
    store: Any,
    ref: tuple[str, str, str],
    spec: dict[str, Any],
    progress: Progress,
) -> dict:
    """Do one artifact record's work against ``store``; return what ``wait()`` answers.

    ``use`` and ``link`` records may name a draft by its own id: the catalogue's
    ``artifact_jobs`` says which version it became (another one when its content was the
    latest version's already).

    Raises:
        Error: a file changed after the call, is missing, or the catalogue refused the
            version (nothing of it is committed; its pins are dropped).
    """
    catalogue = store.catalogue
    job_id, op = spec["id"], spec["op"]
    entity, project, run_id = ref
    if op == "use":
        artifact_id = _artifact_id(catalogue, spec)
        catalogue.add_artifact_usage(artifact_id, entity, project, run_id)
        return {"artifact": catalogue.get_artifact_by_id(artifact_id)}
    if op == "link":
        artifact_id = _artifact_id(catalogue, spec)
        linked = catalogue.link_artifact(
            artifact_id, spec.get("entity") or entity, spec.get("project") or project,
            spec["collection"], list(spec.get("aliases") or []),
        )  # fmt: skip
        return {"link": linked, "artifact": catalogue.get_artifact_by_id(artifact_id)}
    done, artifact_id = catalogue.job_result(job_id)
    if done:  # replayed after a takeover: built already (its snapshot may be gone)
        _clean(spec)
        if artifact_id is None:
            return {"upserted": 0, "stored_bytes": 0}
        return {"artifact": catalogue.get_artifact_by_id(artifact_id), "stored_bytes": 0}
    try:
        files, written = _store_entries(store, spec, job_id, progress)
    except BaseException:
        catalogue.unpin(job_id)
        _clean(spec)
        raise
    _clean(spec)
    head = {"name": spec["name"], "type": spec["type"], "run_id": run_id}
    if op == "upsert":
        catalogue.add_draft_files(entity, project, spec["distributed_id"], head, files, job_id)
        return {"upserted": len(files), "stored_bytes": written}
    if op == "finish":
        drafted = catalogue.take_draft_files(entity, project, spec["distributed_id"])
        files = list({f["path"]: f for f in [*drafted, *files]}.values())
    elif spec.get("incremental"):
        files = _with_base(catalogue, entity, project, spec, files)
    record = {
        **head,
        "artifact_id": job_id,
        "entity": entity,
        "project": project,
        "digest": manifest_digest(files),
        "description": spec.get("description"),
        "metadata": spec.get("metadata") or {},
        "tags": spec.get("tags") or [],
        "distributed_id": spec.get("distributed_id"),
    }
    version = catalogue.commit_artifact(record, files, list(spec.get("aliases") or []), job_id)
    if op == "finish":
        catalogue.drop_draft(entity, project, spec["distributed_id"])
    stored = catalogue.get_artifact_by_id(version["artifact_id"])
    return {"artifact": stored, "created": version["created"], "stored_bytes": written}


def _store_entries(
    store: Any, spec: dict[str, Any], job_id: str, progress: Progress
) -> tuple[list[dict[str, Any]], int]:
    files, written = [], 0
    for entry in spec.get("entries") or []:
        path = entry["path"]
        if entry.get("ref"):
            digest, size = reference_checksum(
                entry["ref"], entry.get("checksum", True), getattr(store, "s3_defaults", None)
            )
            files.append({"path": path, "digest": digest, "size": size, "ref": entry["ref"]})
        else:
            local = entry["local"]
            if not os.path.isfile(local):
                raise Error(f"artifact file {path!r}: {local} is gone")
            digest, size, stored = store_file(store, local, job_id, entry.get("mark"))
            written += stored
            files.append({"path": path, "digest": digest, "size": size, "ref": None})
        progress.done(files[-1]["size"])
    return files, written


def _with_base(
    catalogue: Any, entity: str, project: str, spec: dict[str, Any], files: list[dict]
) -> list[dict[str, Any]]:
    """An incremental version: the latest version's files, less those removed, plus ours."""
    latest = catalogue.get_artifact(entity, project, spec["name"], "latest")
    base = catalogue.artifact_files(latest["artifact_id"]) if latest else []
    removed = set(spec.get("removed") or [])
    merged = {f["path"]: f for f in base if f["path"] not in removed}
    merged.update({f["path"]: f for f in files})
    return list(merged.values())


def _artifact_id(catalogue: Any, spec: dict[str, Any]) -> str:
    """The stored id a ``use``/``link`` names: a committed version's, or one this run logged."""
    artifact_id = spec.get("artifact_id")
    artifact_id = catalogue.job_result(artifact_id)[1] or artifact_id
    if not artifact_id or catalogue.get_artifact_by_id(artifact_id) is None:
        raise Error(f"no committed artifact version {artifact_id!r} to {spec['op']}")
    return artifact_id


def _clean(spec: dict[str, Any]) -> None:
    """Remove the SDK's snapshot folder of this version (its links or copies)."""
    staging = spec.get("staging")
    if staging:
        shutil.rmtree(staging, ignore_errors=True)
