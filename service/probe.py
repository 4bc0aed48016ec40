"""The run's environment, probed by the sidecar (off the training process): git state and
installed distributions, for ``files/metadata.json`` and ``files/requirements.txt``."""

from __future__ import annotations

import subprocess
from typing import Any


def git_state(cwd: str) -> dict[str, Any]:
    """Commit, dirty flag and remote of the repository holding ``cwd`` (empty if none)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "dirty": bool(status),
        "remote": git("config", "--get", "remote.origin.url"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
    }


def requirements(sys_path: list[str] | None) -> str:
    """``name==version`` of every distribution importable from ``sys_path``, sorted."""
    import importlib.metadata as md

    seen: dict[str, str] = {}
    # a broken distribution raises here: the prober stage counts it (status shows it)
    dists = md.distributions(path=sys_path) if sys_path else md.distributions()
    for dist in dists:
        name = dist.metadata["Name"]
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return "".join(line + "\n" for _, line in sorted(seen.items()))


def probe(metadata: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Git state and requirements for a run whose SDK sent ``metadata``."""
    return git_state(metadata.get("cwd") or "."), requirements(metadata.get("sys_path"))
