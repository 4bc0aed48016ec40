"""``init`` arguments W&B has and tracker gives a local meaning (or accepts and ignores).

- ``config="params.yaml"``: the YAML file's keys (W&B's ``{value: ..., desc: ...}`` entries
  give their ``value``); ``config_include_keys`` / ``config_exclude_keys`` filter the config.
- ``resume=True`` / ``"auto"``: resume the run this folder's last run left unfinished (its id
  is kept in ``tracker/tracker-resume.json`` until it finishes with exit code 0), else start
  a new one; ``resume=False`` is ``"never"``.
- ``fork_from="<run id or path>?_step=N"``: a new run whose history starts with the other
  run's rows up to step N.
- ``save_code=True``: the main script is saved as ``code/<path>``, copied at once.
- ``reinit`` takes W&B's strings too; ``mode="dryrun"`` is ``"offline"``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from tracker.errors import Error

# accepted for W&B compatibility, without a local meaning (named once in the run's debug log)
IGNORED = ("magic", "anonymous", "force", "tensorboard", "sync_tensorboard", "monitor_gym")
_REINIT = {
    "finish_previous": True,
    "create_new": True,
    "return_previous": False,
    "default": False,
}
_MODES = {"dryrun": "offline", "run": "online"}
RESUME_FILE = "tracker-resume.json"


def reinit_flag(reinit: Any) -> bool:
    """``reinit`` as a bool: W&B's strings (``"finish_previous"``...) or a bool."""
    if isinstance(reinit, str):
        if reinit not in _REINIT:
            raise Error(
                f"init() reinit must be a bool or one of {', '.join(_REINIT)}, got {reinit!r}"
            )
        return _REINIT[reinit]
    return bool(reinit)


def mode_name(mode: str | None) -> str | None:
    """W&B's old mode names (``dryrun``, ``run``) as tracker's."""
    return _MODES.get(mode, mode) if isinstance(mode, str) else mode


def resume_mode(resume: Any) -> Any:
    """``True`` → ``"auto"``, ``False`` → ``"never"``; strings as given."""
    if resume is True:
        return "auto"
    if resume is False:
        return "never"
    return resume


def auto_resume(root: str, run_id: str | None) -> tuple[str | None, str]:
    """The run id and resume mode for ``resume="auto"`` in the run root ``root``.

    Returns:
        ``(id, "allow")``: the given id, or the one an unfinished run of this folder left.
    """
    if run_id is None:
        try:
            with open(os.path.join(root, "tracker", RESUME_FILE)) as fh:
                run_id = json.load(fh).get("run_id")
        except (OSError, ValueError, AttributeError):
            run_id = None
    return run_id, "allow"


def remember_for_resume(root: str, run_id: str) -> str:
    """Write the resume file of ``root``; return its path (removed by a clean finish)."""
    path = os.path.join(root, "tracker", RESUME_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump({"run_id": run_id}, fh)
    return path


def config_source(config: Any) -> Any:
    """A YAML file path becomes its mapping; anything else is returned as it is.

    Raises:
        Error: the file cannot be read or is not a YAML mapping, or pyyaml is missing.
    """
    if not isinstance(config, (str, os.PathLike)):
        return config
    path = os.fspath(config)
    try:
        import yaml
    except ImportError:
        raise Error(
            f"init() config={path!r}: reading YAML needs pyyaml (pip install pyyaml)"
        ) from None
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise Error(f"init() config={path!r}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise Error(f"init() config={path!r} must hold a YAML mapping, got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        if key in ("wandb_version", "_wandb"):
            continue  # what W&B writes into its own config.yaml
        if isinstance(value, Mapping) and "value" in value and set(value) <= {"value", "desc"}:
            value = value["value"]
        out[str(key)] = value
    return out


def filter_keys(config: dict[str, Any], include: Any, exclude: Any) -> dict[str, Any]:
    """``config_include_keys`` / ``config_exclude_keys`` (W&B refuses both at once).

    Raises:
        Error: both given.
    """
    if include and exclude:
        raise Error("init() takes config_include_keys or config_exclude_keys, not both")
    if include:
        keep = set(include)
        return {k: v for k, v in config.items() if k in keep}
    if exclude:
        drop = set(exclude)
        return {k: v for k, v in config.items() if k not in drop}
    return config


def parse_fork(fork_from: Any, entity: str, project: str) -> tuple[str, int]:
    """``"<id or path>?_step=N"`` → (``entity/project/id``, N).

    Raises:
        Error: another form.
    """
    text = str(fork_from)
    where, _, query = text.partition("?")
    key, _, raw = query.partition("=")
    if not where or key != "_step" or not raw.isdigit():
        raise Error(f"init() fork_from must look like 'RUN_ID?_step=N', got {fork_from!r}")
    parts = where.split("/")
    path = "/".join([entity, project][: 3 - len(parts)] + parts) if len(parts) < 3 else where
    return path, int(raw)


def fork_history(run: Any, path: str, step: int) -> None:
    """Log the rows of the run at ``path`` up to ``step`` (inclusive) into ``run``.

    Raises:
        Error: no run at ``path``.
    """
    from tracker.api import Api

    source = Api().run(path)
    rows = 0
    for row in source.scan_history(max_step=step + 1):
        data = {k: v for k, v in row.items() if not k.startswith("_") or k == "_timestamp"}
        run.log(data, step=row["_step"])
        rows += 1
    if rows:
        run.log({})  # commits the last forked row: the run goes on after it
    run.debug(f"forked from {path} at step {step}")


def save_main_code(run: Any) -> None:
    """``save_code=True``: the main script as ``code/<path from the cwd>``, copied at once."""
    main = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not os.path.isfile(main):
        run.debug("save_code: no main script file to save")
        return
    rel = os.path.relpath(main, os.getcwd())
    name = "code/" + (os.path.basename(main) if rel.startswith(os.pardir) else rel)
    run._save_plan([(name.replace(os.sep, "/"), main)], "now")
