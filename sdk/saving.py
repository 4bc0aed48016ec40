"""``run.save``: expand the glob now, link each match into the run's ``files/`` (§4.5).

The names follow W&B and seed 002: a relative glob without ``base_path`` keeps its path from
the current directory; an absolute glob without ``base_path`` keeps one directory level; with
``base_path`` the path relative to it is kept. Copying is the sidecar's job.
"""

from __future__ import annotations

import glob
import os
from typing import Any

POLICIES = ("live", "now", "end")


def plan_save(glob_str: Any, base_path: Any, policy: str, files_dir: str) -> list[tuple[str, str]]:
    """Resolve a ``save`` call into ``[(name in files/, absolute source path)]``, sorted.

    Raises:
        ValueError: a policy other than live/now/end, or a match outside ``base_path``.
    """
    if policy not in POLICIES:
        raise ValueError(f"save() policy must be 'live', 'now' or 'end', got {policy!r}")
    glob_str = os.fspath(glob_str)
    if not isinstance(glob_str, str) or not glob_str:
        raise ValueError("save() glob_str must be a non-empty path or glob")
    absolute = os.path.isabs(glob_str)
    pattern = os.path.abspath(glob_str)
    files_real = os.path.realpath(files_dir)
    inside = _inside(os.path.realpath(pattern), files_real)
    if base_path is None and inside:
        base = files_dir  # a file in run.dir keeps its name there, as in W&B
    elif base_path is None:
        base = os.path.dirname(os.path.dirname(pattern)) if absolute else os.getcwd()
    else:
        base = os.path.abspath(os.fspath(base_path))
    out: dict[str, str] = {}
    for match in glob.glob(pattern, recursive=True):
        if os.path.isdir(match):
            continue
        source = os.path.abspath(match)
        if _inside(os.path.realpath(source), files_real):
            if not inside:
                continue  # a glob over the run folder itself does not save its files/ again
            out[os.path.relpath(os.path.realpath(source), files_real)] = source
            continue
        name = os.path.relpath(source, base)
        if name == os.pardir or name.startswith(os.pardir + os.sep) or os.path.isabs(name):
            raise ValueError(f"save() match {source!r} is outside base_path {base!r}")
        out[name] = source
    return sorted(out.items())


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder + os.sep)


def link(files_dir: str, name: str, source: str) -> str:
    """Create (or replace) the symbolic link ``files/<name>`` → ``source``; return its path.

    A source that already is ``files/<name>`` (a file written in ``run.dir``) is left alone.
    """
    dest = os.path.join(files_dir, name)
    if os.path.realpath(dest) == os.path.realpath(source) and not os.path.islink(dest):
        return dest
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.lexists(dest):
        if os.path.islink(dest) and os.readlink(dest) == source:
            return dest
        os.unlink(dest)
    os.symlink(source, dest)
    return dest


def _call(fn: Any, path: str, root: str) -> bool:
    """Call an include/exclude function with (path) or (path, root), as it takes."""
    import inspect

    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        two = len(params) >= 2 or any(
            p.kind == p.VAR_POSITIONAL for p in inspect.signature(fn).parameters.values()
        )
    except (TypeError, ValueError):
        two = False
    return bool(fn(path, root) if two else fn(path))


def is_py_or_dockerfile(path: str, root: str) -> bool:
    name = os.path.basename(path)
    return name.endswith(".py") or name.startswith("Dockerfile")


def exclude_tracker_dirs(path: str, root: str) -> bool:
    rel = os.path.relpath(path, root)
    first = rel.split(os.sep, 1)[0]
    return first in ("tracker", ".tracker", ".git", ".venv", "__pycache__")


def plan_code(root: str, include_fn: Any, exclude_fn: Any, runs_dir: str) -> list[tuple[str, str]]:
    """``[(name in files/, source)]`` of the code files under ``root`` (names ``code/<rel>``).

    ``runs_dir`` (the ``tracker/`` folder of run directories) is never walked.
    """
    root = os.path.abspath(root)
    runs_dir = os.path.realpath(runs_dir)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if os.path.realpath(os.path.join(dirpath, d)) != runs_dir
            and not _call(exclude_fn, os.path.join(dirpath, d) + os.sep, root)
        )
        for fname in sorted(filenames):
            path = os.path.join(dirpath, fname)
            if _call(include_fn, path, root) and not _call(exclude_fn, path, root):
                out.append(("code/" + os.path.relpath(path, root).replace(os.sep, "/"), path))
    return out
