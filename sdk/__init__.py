"""tracker: a local-first experiment tracker for machine-learning training.

Example:
    >>> import tracker
    >>> run = tracker.init(project="demo", config={"lr": 0.01})
    >>> for step in range(1000):
    ...     run.log({"loss": 1.0 / (step + 1)})
    >>> run.finish()
    >>> tracker.Api().run(run.path).summary["loss"]

Only what ``log`` needs is imported here (msgpack, zmq); the read API and its pyarrow load
on first use of ``tracker.Api``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracker import state as _state
from tracker.alert_level import AlertLevel
from tracker.errors import CommError, Error, IncompleteRunHistoryError, UsageError
from tracker.settings import Settings
from tracker.start import init
from tracker.training_run import Run, RunStatus
from tracker.wandb_module import login, require, setup, termerror, termlog, termwarn

__version__ = "0.1.0"
_MEDIA_NAMES = "Histogram Html Image Object3D Table Video plot plot_table plots".split()

__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "alert",
    "restore",
    "save",
    "CommError",
    "Error",
    "IncompleteRunHistoryError",
    "Run",
    "RunStatus",
    "Settings",
    "UsageError",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "log_code",
    "use_artifact",
    "login",
    "require",
    "setup",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "watch",
    *_MEDIA_NAMES,
]


def _active() -> Run:
    run = _state.active_run()
    if run is None:
        raise Error("no active run: call tracker.init() first")
    return run


def log(
    data: Any, step: int | None = None, commit: bool | None = None, sync: bool | None = None
) -> None:
    """``run.log`` on the active run. Raises :class:`Error` if there is none."""
    _active().log(data, step=step, commit=commit, sync=sync)


def define_metric(name: str, *args: Any, **kwargs: Any) -> Any:
    """``run.define_metric`` on the active run. Raises :class:`Error` if there is none."""
    return _active().define_metric(name, *args, **kwargs)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the active run; does nothing when there is none (as in W&B)."""
    run = _state.active_run()
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """``run.alert`` on the active run. Raises :class:`Error` if there is none."""
    _active().alert(title, text, level=level, wait_duration=wait_duration)


def save(glob_str: Any = None, base_path: Any = None, policy: str = "live") -> list[str]:
    """``run.save`` on the active run. Raises :class:`Error` if there is none."""
    return _active().save(glob_str, base_path=base_path, policy=policy)


def restore(
    name: str, run_path: str | None = None, replace: bool = False, root: str | None = None
) -> Any:
    """``run.restore`` on the active run, or on ``run_path`` when no run is active."""
    run = _state.active_run()
    if run is not None:
        return run.restore(name, run_path=run_path, replace=replace, root=root)
    if run_path is None:
        raise Error("restore() needs run_path when no run is active: call tracker.init() first")
    from tracker.api.files import restore_file

    return restore_file(name, run_path, replace, root or ".")


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,  # noqa: A002
                 aliases: list[str] | None = None, tags: list[str] | None = None) -> Any:  # fmt: skip
    """``run.log_artifact`` on the active run. Raises :class:`Error` if there is none."""
    return _active().log_artifact(
        artifact_or_path, name=name, type=type, aliases=aliases, tags=tags
    )


def use_artifact(artifact_or_name: Any, type: str | None = None,  # noqa: A002
                 aliases: list[str] | None = None) -> Any:  # fmt: skip
    """``run.use_artifact`` on the active run. Raises :class:`Error` if there is none."""
    return _active().use_artifact(artifact_or_name, type=type, aliases=aliases)


def log_code(root: str | None = ".", name: str | None = None, include_fn: Any = None,
             exclude_fn: Any = None) -> Any:  # fmt: skip
    """``run.log_code`` on the active run. Raises :class:`Error` if there is none."""
    return _active().log_code(root, name=name, include_fn=include_fn, exclude_fn=exclude_fn)


def mark_preempting() -> None:
    """``run.mark_preempting`` on the active run."""
    _active().mark_preempting()


class _RunPart:
    """``tracker.config`` or ``tracker.summary`` while no run is active, as in W&B.

    Looking at the placeholder works (``hasattr``, ``dir()``, ``inspect``, ``repr``); reading
    or writing through it acts on the active run at that moment, and raises :class:`Error`
    saying to call ``tracker.init()`` first when there is none.
    """

    __slots__ = ("_part",)

    def __init__(self, part: str) -> None:
        object.__setattr__(self, "_part", part)

    def _target(self) -> Any:
        return getattr(_active(), self._part)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # introspection (__wrapped__, _repr_html_...) finds nothing
            raise AttributeError(name)
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._target(), name)

    def __getitem__(self, key: str) -> Any:
        return self._target()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._target()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._target()

    def __iter__(self) -> Iterator[str]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __bool__(self) -> bool:
        run = _state.active_run()
        return run is not None and bool(getattr(run, self._part))

    def __repr__(self) -> str:
        run = _state.active_run()
        if run is None:
            return f"<tracker.{self._part}: no active run, call tracker.init() first>"
        return repr(getattr(run, self._part))


_PLACEHOLDERS = {"config": _RunPart("config"), "summary": _RunPart("summary")}


def __getattr__(name: str) -> Any:
    # ``tracker.run`` / ``config`` / ``summary`` are looked up when used, never bound at
    # import time; ``Api`` loads the read side (and pyarrow) on first use.
    if name == "run":
        return _state.active_run()
    if name in _PLACEHOLDERS:
        run = _state.active_run()
        return getattr(run, name) if run is not None else _PLACEHOLDERS[name]
    if name == "Api":
        from tracker.api import Api

        return Api
    if name == "Artifact":
        from tracker.api.artifact import Artifact

        return Artifact
    if name == "apis":  # wandb.apis.public.Run, as seed 001 names it
        import tracker.apis.public

        return tracker.apis
    if name in _MEDIA:  # loaded on first use: ``import tracker`` stays small
        import tracker.media

        return getattr(tracker.media, name)
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")


_MEDIA = frozenset(_MEDIA_NAMES)


def watch(
    models: Any,
    criterion: Any = None,
    log: str | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> None:
    """``run.watch`` on the active run (§10). Raises :class:`Error` if there is none."""
    _active().watch(models, criterion, log, log_freq, idx, log_graph)


def unwatch(models: Any = None) -> None:
    """``run.unwatch`` on the active run (§10). Raises :class:`Error` if there is none."""
    _active().unwatch(models)


def __dir__() -> list[str]:
    return sorted({*globals(), "run", "config", "summary", "Api", "Artifact", "apis", *_MEDIA})
