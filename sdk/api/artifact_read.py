"""The read side of artifacts (seed 001): ``Api().artifact``, ``artifacts``,
``artifact_versions``, ``artifact_collections``, and a run's logged and used versions."""

from __future__ import annotations

from typing import Any

from tracker.api.artifact import Artifact, check_name
from tracker.errors import ArgumentError

REGISTRY_PROJECT = "model-registry"


def parse_artifact_path(api: Any, path: str) -> tuple[str, str, str, str]:
    """``[entity/][project/]name[:alias_or_version]`` -> (entity, project, name, alias).

    Raises:
        ArgumentError: an empty part, a ``:`` anywhere but before the alias, too many parts.
    """
    if not isinstance(path, str) or not path:
        raise ArgumentError(f"artifact path must be non-empty text, got {path!r}")
    head, colon, alias = path.rpartition(":")
    if not colon:
        head, alias = path, "latest"
    parts = head.split("/")
    if len(parts) > 3 or any(not p for p in parts) or ":" in head or not alias:
        raise ArgumentError(
            f"bad artifact path {path!r}: use [entity/][project/]name[:alias or v<N>] "
            "(one ':' before the alias)"
        )
    if len(parts) == 1:
        return api.default_entity, api.default_project, check_name(parts[0]), alias
    if len(parts) == 2:
        return api.default_entity, parts[0], check_name(parts[1]), alias
    return parts[0], parts[1], check_name(parts[2]), alias


def parse_target(target: str, entity: str, project: str) -> tuple[str, str, str]:
    """A link target: ``model-registry/<name>`` (under ``entity``), ``project/name`` or
    ``entity/project/name`` -> (entity, project, collection).

    Raises:
        ArgumentError: an empty part, too many parts, or a ``:`` in it.
    """
    parts = str(target).split("/")
    if any(not p for p in parts) or len(parts) > 3 or ":" in str(target):
        raise ArgumentError(
            f"bad link target {target!r}: use model-registry/<name> or [entity/]project/name"
        )
    if len(parts) == 1:
        return entity, project, parts[0]
    if len(parts) == 2:
        return entity, parts[0], parts[1]
    return parts[0], parts[1], parts[2]


def from_record(api: Any, record: dict[str, Any]) -> Artifact:
    """A stored version as an :class:`Artifact`."""
    art = Artifact(record["source_name"], record["type"])
    art._bind_stored(api, record)
    return art


def get_artifact(api: Any, path: str, type_: str | None = None) -> Artifact:
    """``Api().artifact(path, type)``.

    Raises:
        ArgumentError: no such collection, alias or version; or another type than
            ``type_`` (a ``ValueError`` too: W&B raises ``ValueError`` for both).
    """
    entity, project, name, alias = parse_artifact_path(api, path)
    record = api.store.catalogue.get_artifact(entity, project, name, alias)
    if record is None:
        known = api.store.catalogue.artifact_members(entity, project, name)
        what = f"no alias or version {alias!r}" if known else "no such artifact"
        raise ArgumentError(f"artifact {entity}/{project}/{name}:{alias} not found: {what}")
    if type_ is not None and record["type"] != type_:
        raise ArgumentError(
            f"artifact {entity}/{project}/{name} is of type {record['type']!r}, not {type_!r}"
        )
    return from_record(api, record)


def versions(api: Any, type_name: str | None, name: str) -> list[Artifact]:
    """Every version of the collection ``[entity/][project/]name``, newest first."""
    entity, project, coll, _ = parse_artifact_path(api, name.split(":")[0])
    records = api.store.catalogue.artifact_members(entity, project, coll)
    return [from_record(api, r) for r in records if type_name is None or r["type"] == type_name]


class ArtifactCollection:
    """A named sequence of versions (or a registry's portfolio of links)."""

    def __init__(self, api: Any, record: dict[str, Any]) -> None:
        self._api = api
        self.entity = record["entity"]
        self.project = record["project"]
        self.name = record["name"]
        self.type = record["type"]
        self.description = record.get("description")
        self.created_at = record.get("created_at")
        self.is_sequence = record.get("kind", "sequence") == "sequence"

    def artifacts(self) -> list[Artifact]:
        """The versions, newest first."""
        return versions(self._api, None, f"{self.entity}/{self.project}/{self.name}")

    versions = artifacts

    @property
    def aliases(self) -> list[str]:
        return sorted({a for art in self.artifacts() for a in art.aliases})

    def __repr__(self) -> str:
        return f"<ArtifactCollection {self.entity}/{self.project}/{self.name} ({self.type})>"


def collections(
    api: Any, project_name: str | None, type_name: str | None
) -> list[ArtifactCollection]:
    """``Api().artifact_collections(project_name, type_name)``."""
    project = project_name or api.default_project
    entity = api.default_entity
    if "/" in project:
        entity, project = project.split("/", 1)
    rows = api.store.catalogue.artifact_collections(entity, project, type_name)
    return [ArtifactCollection(api, r) for r in rows]


def run_artifacts(api: Any, run: Any, used: bool) -> list[Artifact]:
    """The versions a run logged or used, oldest first."""
    cat = api.store.catalogue
    ids = cat.run_artifacts(run.entity, run.project, run.id, used)
    records = [cat.get_artifact_by_id(i) for i in ids]
    return [from_record(api, r) for r in records if r is not None]


def delete_run_artifacts(api: Any, run: Any) -> None:
    """``run.delete(delete_artifacts=True)``: the run's versions go at once, blobs at ``gc``."""
    cat = api.store.catalogue
    for artifact_id in cat.run_artifacts(run.entity, run.project, run.id, False):
        cat.delete_artifact(artifact_id)
