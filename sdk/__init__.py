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

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from tracker import state as _state
from tracker.alert_level import AlertLevel
from tracker.errors import CommError, Error, IncompleteRunHistoryError, UsageError
from tracker.settings import Settings
from tracker.start import init
from tracker.training_run import Run, RunStatus
from tracker.wandb_module import login, require, setup, termerror, termlog, termwarn

__version__ = "0.1.0"
_T = TypeVar("_T")
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


def _on_active_run(method: Callable[..., _T]) -> Callable[..., _T]:
    """The module-level form of a :class:`Run` method (``tracker.log`` is ``run.log``).

    It acts on the active run at call time and raises :class:`Error` when there is none; its
    name, docstring and signature (less ``self``) are the method's.
    """

    name = method.__name__

    @functools.wraps(method)
    def on_active_run(*args: Any, **kwargs: Any) -> _T:
        return getattr(_active(), name)(*args, **kwargs)

    del on_active_run.__wrapped__  # the signature below, not the method's with ``self``
    signature = inspect.signature(method)
    on_active_run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return on_active_run


log = _on_active_run(Run.log)
define_metric = _on_active_run(Run.define_metric)
alert = _on_active_run(Run.alert)
save = _on_active_run(Run.save)
log_artifact = _on_active_run(Run.log_artifact)
use_artifact = _on_active_run(Run.use_artifact)
log_code = _on_active_run(Run.log_code)
mark_preempting = _on_active_run(Run.mark_preempting)
watch = _on_active_run(Run.watch)
unwatch = _on_active_run(Run.unwatch)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the active run; does nothing when there is none (as in W&B)."""
    run = _state.active_run()
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


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


def __dir__() -> list[str]:
    return sorted({*globals(), "run", "config", "summary", "Api", "Artifact", "apis", *_MEDIA})
