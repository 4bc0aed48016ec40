"""``tracker.init``: resolve arguments, make the run directory, register with the sidecar."""

from __future__ import annotations

import getpass
import os
import secrets
import sys
import time
from collections.abc import Mapping
from typing import Any

from tracker import hooks, state, wandb_init
from tracker.errors import Error
from tracker.naming import check_id, generate_id, generate_name
from tracker.proto.messages import Kind
from tracker.proto.payloads import InitReply, RunInfo, RunSettings
from tracker.settings import Env, Settings, default_store, host_name, resolve_settings
from tracker.training_run import Run

MODES = ("online", "offline", "disabled")
RESUME = (None, "never", "allow", "must")


def init(
    project: str | None = None,
    entity: str | None = None,
    name: str | None = None,
    id: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    tags: Any = None,
    notes: str | None = None,
    config: Any = None,
    dir: str | None = None,
    mode: str | None = None,
    resume: str | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
    reinit: bool | str = False,
    *,
    config_exclude_keys: list[str] | None = None,
    config_include_keys: list[str] | None = None,
    allow_val_change: bool | None = None,
    save_code: bool | None = None,
    fork_from: str | None = None,
    resume_from: str | None = None,
    **wandb_only: Any,
) -> Run:
    """Start a run and return it; it is also ``tracker.run`` until it finishes.

    Arguments not given are filled from ``TRACKER_PROJECT``, ``TRACKER_ENTITY``,
    ``TRACKER_MODE``, ``TRACKER_DIR``, ``TRACKER_RUN_ID``, ``TRACKER_RUN_GROUP`` and
    ``TRACKER_JOB_TYPE``; the store is ``TRACKER_STORE`` or ``~/.tracker/store``.

    Args:
        project: project name (default ``"uncategorized"``).
        entity: owner of the run (default: the OS user name).
        name: display name (default: a readable generated name).
        id: run id, ``[A-Za-z0-9_.-]{1,64}`` (default: 8 random ``[a-z0-9]``).
        group: groups related runs, e.g. the ranks of one distributed job.
        job_type: the kind of job (``train``, ``eval``...).
        tags: strings to label the run.
        notes: free-form description.
        config: hyperparameters (a mapping, an ``argparse.Namespace`` or a YAML file path).
        dir: where the ``tracker/`` folder of run directories goes (default: the cwd).
        mode: ``online``, ``offline`` or ``disabled`` (W&B's ``dryrun`` is ``offline``).
        resume: ``None``/``"never"``/``False``, ``"allow"``, ``"must"``, or
            ``"auto"``/``True``: resume this folder's last run if it did not finish cleanly.
        settings: a :class:`tracker.Settings` or a dict of the same keys (W&B's names too).
        reinit: finish the active run first instead of returning it (W&B's strings too).
        config_exclude_keys: config keys left out.
        config_include_keys: the only config keys kept.
        allow_val_change: let ``run.config`` change existing values.
        save_code: save the main script as ``code/<path>``.
        fork_from: ``"RUN_ID?_step=N"``: start with that run's history up to step N.
        resume_from: accepted, ignored (W&B's server-side rewind).
        **wandb_only: W&B's ``magic``, ``anonymous``, ``force``, ``tensorboard``,
            ``sync_tensorboard``, ``monitor_gym``: accepted, noted in the debug log.

    Returns:
        The new :class:`Run`.

    Raises:
        Error: a bad argument, setting or environment variable (named in the message), a
            resume that cannot be honoured, or a sidecar that cannot be started.
        TypeError: an argument W&B does not have either.

    Example:
        >>> run = tracker.init(project="mnist", config={"lr": 1e-3})
        >>> run.log({"loss": 0.5})
        >>> run.finish()
    """
    unknown = sorted(set(wandb_only) - set(wandb_init.IGNORED))
    if unknown:
        raise TypeError(f"init() got an unexpected keyword argument {unknown[0]!r}")
    resolved = resolve_settings(settings)
    given = resolved.init_arguments()  # W&B setting names: fill what was not passed here
    project, entity, name, id, group, job_type, tags, notes, dir, mode, resume = _fill(
        given, (project, entity, name, id, group, job_type, tags, notes, dir, mode, resume)
    )
    active = state.active_run()
    if active is not None and not active._finished:
        if not wandb_init.reinit_flag(reinit or given.get("reinit")):
            return active
        active.finish()

    root = os.path.abspath(dir or Env.get(Env.DIR) or os.getcwd())
    resume = wandb_init.resume_mode(resume)
    auto = resume == "auto"
    if auto:
        id, resume = wandb_init.auto_resume(root, id)
    mode = _mode(wandb_init.mode_name(mode), resume)
    run_id = _run_id(id)
    project = _text("project", project or Env.get(Env.PROJECT) or "uncategorized")
    entity = _text("entity", entity or Env.get(Env.ENTITY) or _user())
    group = _text("group", group or Env.get(Env.RUN_GROUP), optional=True)
    job_type = _text("job_type", job_type or Env.get(Env.JOB_TYPE), optional=True)
    name = _text("name", name, optional=True) or generate_name()
    notes = _text("notes", notes, optional=True)
    tag_list = _tags(tags)
    config_dict = wandb_init.filter_keys(
        _config(wandb_init.config_source(config)), config_include_keys, config_exclude_keys
    )
    fork = wandb_init.parse_fork(fork_from, entity, project) if fork_from else None
    if mode != "disabled":
        default_store()  # a store URI no backend serves fails here, before any folder is made

    start_time = time.time()
    info = RunInfo(
        id=run_id,
        entity=entity,
        project=project,
        name=name,
        group=group,
        job_type=job_type,
        tags=tag_list,
        tags_given=tags is not None,
        notes=notes,
        config=config_dict,
        dir=_make_run_dir(root, mode, run_id, start_time),
        mode=mode,
        resume=resume,
        pid=os.getpid(),
        start_time=start_time,
        settings=RunSettings.from_wire(resolved.to_dict()),
        metadata=_metadata(start_time),
    )
    run = _disabled(info, resolved) if mode == "disabled" else _start(info, resolved)
    _after_start(run, root if auto else None, fork, allow_val_change, save_code, given)
    for arg in sorted(wandb_only) + (["resume_from"] if resume_from else []):
        run.debug(f"init(): W&B argument {arg!r} accepted, without a meaning in tracker")
    return run


_FILLED = ("project", "entity", "name", "id", "group", "job_type", "tags", "notes", "dir", "mode")


def _fill(given: dict[str, Any], values: tuple) -> tuple:
    """``init``'s arguments, those not passed taken from W&B setting names (``run_id``...)."""
    names = (*_FILLED, "resume")
    return tuple(given.get(k) if v is None else v for k, v in zip(names, values, strict=True))


def _disabled(info: RunInfo, resolved: Settings) -> Run:
    """A disabled run: no sidecar, every method works, nothing is written."""
    run = Run(
        info=info,
        settings=resolved,
        conn=None,
        token=0,
        starting_step=0,
        resumed=False,
        config=info.config,
    )
    state.set_active_run(run)
    return run


def _after_start(
    run: Run,
    auto_root: str | None,
    fork: tuple[str, int] | None,
    allow_val_change: bool | None,
    save_code: bool | None,
    given: dict[str, Any],
) -> None:
    """What W&B's ``init`` arguments do once the run is registered."""
    if allow_val_change or given.get("allow_val_change"):
        run.config._allow_val_changes()
    if run.disabled:
        return
    if auto_root is not None:
        run._resume_file = wandb_init.remember_for_resume(auto_root, run.id)
    if save_code or given.get("save_code"):
        wandb_init.save_main_code(run)
    if fork is not None:
        wandb_init.fork_history(run, *fork)


def _metadata(start_time: float) -> dict[str, Any]:
    """What the run records about the process and the machine."""
    return {
        "host": host_name(),
        "os": f"{os.uname().sysname} {os.uname().release}",
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "args": list(sys.argv),
        "cwd": os.getcwd(),
        "start_time": start_time,
        "cpu_count": os.cpu_count(),
        "sys_path": [p for p in sys.path if p],
    }


def _start(info: RunInfo, resolved: Settings) -> Run:
    """Register the run with the store's sidecar (starting it if needed); make it active."""
    from tracker.client.launcher import Connection

    conn = Connection(default_store(), resolved.idle_timeout, resolved.max_queue_bytes)
    # The run's handle on the wire is chosen here, so records stay valid for a new sidecar.
    info.token = secrets.randbits(62) | 1
    reply = InitReply.from_wire(conn.request(Kind.INIT, info, timeout=resolved.init_timeout))
    conn.note_sidecar(reply.sidecar_pid)
    conn.transport.register_run(info.token, info)
    # a resumed run keeps what the store knew unless this init changed it
    info.name, info.notes, info.tags = reply.name, reply.notes, reply.tags
    info.group, info.job_type = reply.group, reply.job_type
    run = Run(
        info=info,
        settings=resolved,
        conn=conn,
        token=reply.token,
        starting_step=reply.starting_step,
        resumed=reply.resumed,
        config=reply.config,
    )
    hooks.install()
    state.set_active_run(run)
    run._start_console()
    if not resolved.silent:
        verb = "resumed" if run.resumed else "started"
        print(
            f"tracker: {verb} run {run.name} ({run.id}) in {run.project}: {_where(run)}",
            file=sys.stderr,
        )
    return run


def _where(run: Run) -> str:
    """The run's page when a UI serves its store (§11), else its folder and the command that
    starts one."""
    if run.url is None:
        return run.sync_dir
    return run._page() or f"{run.sync_dir} (see it in a browser: {run._ui_command()})"


def _mode(mode: str | None, resume: str | None) -> str:
    mode = mode or Env.get(Env.MODE) or "online"
    if mode not in MODES:
        raise Error(f"init() mode must be one of {', '.join(MODES)}, got {mode!r}")
    if resume not in RESUME:
        raise Error(f"init() resume must be None, 'never', 'allow' or 'must', got {resume!r}")
    return mode


def _run_id(given: str | None) -> str:
    run_id = given if given is not None else Env.get(Env.RUN_ID)
    try:
        return check_id(run_id) if run_id is not None else generate_id()
    except ValueError as exc:
        raise Error(f"init() id: {exc}") from None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "user"


def _text(arg: str, value: Any, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise Error(f"init() {arg} must be a string, got {type(value).__name__}")
    return value


def _tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    tags = list(tags)
    for tag in tags:
        if not isinstance(tag, str):
            raise Error(f"init() tags must be strings, got {tag!r}")
    return tags


def _config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        items = dict(config)
    elif hasattr(config, "__dict__"):
        items = dict(vars(config))
    else:
        raise Error(f"init() config must be a mapping, got {type(config).__name__}")
    from tracker.training_run import _plain

    for key in items:
        if not isinstance(key, str):
            raise Error(f"init() config keys must be strings, got {key!r}")
    try:
        return {k: _plain(k, v) for k, v in items.items()}
    except ValueError as exc:
        raise Error(f"init() config: {exc}") from None


def _make_run_dir(root: str, mode: str, run_id: str, start_time: float) -> str:
    base = os.path.join(root, "tracker")
    prefix = "offline-run" if mode == "offline" else "run"
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(start_time))
    run_dir = os.path.join(base, f"{prefix}-{stamp}-{run_id}")
    if mode == "disabled":
        return run_dir
    suffix = 0
    while True:
        try:
            os.makedirs(run_dir)
            break
        except FileExistsError:
            suffix += 1
            run_dir = os.path.join(base, f"{prefix}-{stamp}-{run_id}-{suffix}")
    os.makedirs(os.path.join(run_dir, "files"), exist_ok=True)
    os.makedirs(os.path.join(run_dir, "logs"), exist_ok=True)
    latest = os.path.join(base, "latest-run")
    tmp = f"{latest}.{os.getpid()}"
    try:
        os.symlink(os.path.basename(run_dir), tmp)
        os.replace(tmp, latest)
    except OSError:
        pass
    return run_dir
