"""Artifact versions built by the sidecar (§12): hashing and storing off the training loop.

A training process's ``log_artifact`` sends one persisted ``ARTIFACT`` record (acknowledged
after the transaction log, so a process killed right after the call still gets its
version) describing each file: where to read it (a snapshot the SDK made, or the caller's
file with the size and mtime it had at the call) and its name in the version. The run's
:class:`ArtifactBook` (ingest thread) hands it to the :class:`ArtifactWorker` stage, whose
thread hashes, stores the missing blobs and commits the version in one catalogue
transaction (:func:`build`); ``wait()`` requests are answered when that is done.

Record ops (``spec["op"]``): ``log`` (a version), ``upsert`` (files added to the distributed
version ``distributed_id``), ``finish`` (commit that version), ``use`` (an input edge),
``link`` (a version into a registry collection). Jobs run in order on one thread, so a
``link`` or ``use`` of a version logged just before finds it committed (or failed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracker.errors import Error
from tracker.service.worker import Worker
from tracker.store.artifact_build import OPS, Progress, build


class ArtifactWorker(Worker):
    """The stage that builds every artifact version of the sidecar's runs."""

    def __init__(self) -> None:
        super().__init__("artifacts")


class ArtifactBook:
    """One run's artifact jobs: submitted, pending, finished; and who waits for which."""

    def __init__(self, sess: Any, worker: ArtifactWorker | None) -> None:
        self.sess = sess
        self.worker = worker or ArtifactWorker()
        self.pending: dict[str, Progress] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.waiters: dict[str, list[Callable[[dict], None]]] = {}

    def on_record(self, spec: Any) -> None:
        """An ``ARTIFACT`` record (live or replayed): check it, then build it off-thread."""
        job_id = spec.get("id") if isinstance(spec, dict) else None
        if not isinstance(job_id, str) or not job_id:
            self.sess.log(f"artifact record without an id refused: {spec!r:.200}")
            return
        problem = _check_spec(spec)
        if problem:
            self._finished(job_id, Error(problem))
            return
        store = self.sess.store
        if store is None:
            return  # offline: built by `tracker-service sync` from the log
        progress = Progress(spec.get("entries") or [])
        self.pending[job_id] = progress
        ref = (self.sess.entity, self.sess.project, self.sess.run_id)
        self.worker.submit(
            lambda: build(store, ref, spec, progress),
            lambda result: self._finished(job_id, result),
            f"artifact {spec.get('name') or spec.get('op')} of {ref[2]}",
        )

    def _finished(self, job_id: str, result: Any) -> None:
        self.pending.pop(job_id, None)
        if isinstance(result, BaseException):
            reply = {"state": "failed", "error": f"{result}"}
            self.sess.log(f"artifact job {job_id} failed: {result}")
        else:
            reply = {"state": "committed", **result}
        self.results[job_id] = reply
        for answer in self.waiters.pop(job_id, []):
            answer(reply)

    def on_wait(self, job_id: str, answer: Callable[[dict], None]) -> None:
        """Answer once job ``job_id`` is done (its record may not have arrived yet)."""
        if job_id in self.results:
            answer(self.results[job_id])
        else:
            self.waiters.setdefault(job_id, []).append(answer)

    @property
    def idle(self) -> bool:
        """No job of this run is left (a finishing run waits for this)."""
        if self.pending:
            self.worker.run_completed()  # a private worker (sync) has nobody else to drain it
        return not self.pending

    def status(self) -> dict[str, int]:
        jobs = list(self.pending.values())
        return {
            "versions": len(jobs),
            "files": sum(max(0, p.files) for p in jobs),
            "bytes": sum(p.bytes for p in jobs),
        }


def _check_spec(spec: dict[str, Any]) -> str | None:
    op = spec.get("op")
    if op not in OPS:
        return f"unknown artifact op {op!r}: one of {OPS}"
    if op in ("log", "upsert", "finish"):
        if not isinstance(spec.get("name"), str) or not isinstance(spec.get("type"), str):
            return "an artifact record needs a name and a type"
        entries = spec.get("entries") or []
        if not isinstance(entries, list) or not all(_good_entry(e) for e in entries):
            return "artifact entries must be a list of {path, local | ref, size} maps"
        if op != "log" and not spec.get("distributed_id"):
            return f"{op} needs a distributed_id"
    return None


def _good_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and isinstance(entry.get("local") or entry.get("ref"), str)
        and isinstance(entry.get("size") or 0, int)
    )
