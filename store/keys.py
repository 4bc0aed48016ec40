"""Blob keys: where a run's blobs live inside any blob store, and which keys are refused.

A key is a relative, ``/``-separated name, the same on every backend::

    key    := segment ("/" segment)*
    segment:= any text but "", "." and "..", without "/" or NUL

    runs/<entity>/<project>/<run_id>/history/part-00000.parquet
    runs/<entity>/<project>/<run_id>/system/part-00000.parquet
    runs/<entity>/<project>/<run_id>/files/<name>

Keys never climb out of the store (``..``) nor name an absolute path, whatever a file name
given to ``save()`` or ``upload_file()`` says.
"""

from __future__ import annotations

STREAMS = ("history", "system")


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid blob key.

    Args:
        key: a relative ``/``-separated name (a trailing ``/`` is allowed for prefixes).

    Returns:
        The key, unchanged.

    Raises:
        ValueError: an empty, absolute or climbing key (``..``), an empty or ``.`` segment,
            or a NUL in it.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"invalid blob key {key!r}: empty")
    if key.startswith("/") or "\0" in key:
        raise ValueError(f"invalid blob key {key!r}: absolute, or a NUL in it")
    segments = key[:-1].split("/") if key.endswith("/") else key.split("/")
    for seg in segments:
        if seg in ("", ".", ".."):
            raise ValueError(f"invalid blob key {key!r}: segment {seg!r} not allowed")
    return key


def run_prefix(entity: str, project: str, run_id: str) -> str:
    """The folder key of a run's blobs (``runs/<entity>/<project>/<run_id>/``).

    Raises:
        ValueError: an identity part that is empty, ``.``/``..`` or holds a ``/``.
    """
    for part in (entity, project, run_id):
        if not part or "/" in part or part in (".", ".."):
            raise ValueError(f"invalid run identity part {part!r}")
    return check_key(f"runs/{entity}/{project}/{run_id}/")


def stream_prefix(entity: str, project: str, run_id: str, stream: str) -> str:
    """The folder key of a run's parquet parts for ``stream`` (``history`` or ``system``).

    Raises:
        ValueError: an unknown stream or an invalid identity part.
    """
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}: one of {STREAMS}")
    return run_prefix(entity, project, run_id) + stream + "/"


def file_key(entity: str, project: str, run_id: str, name: str) -> str:
    """The key of a run's saved file ``name`` (a relative path such as ``ckpt/model.pt``).

    Raises:
        ValueError: a name that is absolute or climbs out of the run's files (``..``).
    """
    return check_key(run_prefix(entity, project, run_id) + "files/" + check_key(name))
