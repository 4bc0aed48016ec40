"""Settings and the ``TRACKER_*`` environment variables, each declared once with its type.

A run resolves its settings when it starts, never at import time: defaults, then the
environment, then what the caller passed. A bad value or an unknown key raises
:class:`tracker.Error` naming it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

from tracker.errors import Error

_MiB = 1024 * 1024


def _to_bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Run settings (``tracker.init(settings=...)``); each has a ``TRACKER_<NAME>`` variable.

    Args:
        silent: print nothing from tracker.
        strict_steps: raise ``ValueError`` when ``log`` is given a step below the current one.
        system_sample_interval: seconds between system-metric samples; 0 disables.
        live_interval: seconds between copies of a changing ``live`` file.
        idle_timeout: seconds the sidecar stays up after its last run finished.
        max_queue_bytes: memory the SDK may use for records the sidecar has not taken yet.
        max_message_bytes: largest message the sidecar accepts.
        alert_webhook: URL that receives alerts as a JSON POST.
        alert_retries: delivery attempts for one alert.
        ui_port: port of the local web UI, used in run URLs.
        console: ``"redirect"`` captures stdout/stderr into ``files/output.log``; ``"off"``.
        finish_timeout: seconds ``finish()`` waits for the sidecar before it gives up with a
            warning naming the run's transaction log and the command that completes it.
        fsync_interval: seconds between fsyncs of the sidecar's transaction log (group
            commit); 0 fsyncs on every flush.
        init_timeout: seconds ``init`` waits for the sidecar to register the run.

    W&B's setting names are accepted too (see ``tracker/wandb_settings.py``):
    ``x_disable_stats=True`` is ``system_sample_interval=0``, ``x_stats_sampling_interval``
    is ``system_sample_interval``, ``init_timeout`` is itself; ``mode``, ``project``,
    ``run_id``, ``run_name``... fill the ``init`` arguments that were not given; the others
    W&B has are ignored with one warning each. A name W&B does not have raises ``TypeError``.

    The fields given to the constructor are remembered (:meth:`given`): a value given
    explicitly wins over its ``TRACKER_<NAME>`` variable even when it equals the default.

    Example:
        >>> run = tracker.init(settings=tracker.Settings(finish_timeout=30, silent=True))
    """

    silent: bool = False
    strict_steps: bool = False
    system_sample_interval: float = 2.0
    live_interval: float = 2.0
    idle_timeout: float = 30.0
    max_queue_bytes: int = 256 * _MiB
    max_message_bytes: int = 64 * _MiB
    alert_webhook: str | None = None
    alert_retries: int = 5
    ui_port: int = 8080
    console: str = "redirect"
    finish_timeout: float = 120.0
    fsync_interval: float = 0.2
    init_timeout: float = 60.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            object.__setattr__(self, f.name, _check(f.name, value))

    def given(self) -> frozenset[str]:
        """The names of the fields that were passed to the constructor."""
        return getattr(self, "_given", frozenset())

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name (what the sidecar receives with the run)."""
        return dataclasses.asdict(self)

    def init_arguments(self) -> dict[str, Any]:
        """The ``init`` arguments given by W&B setting names (``mode``, ``run_id``...)."""
        return dict(getattr(self, "_init_args", {}))


def _remember_given(init: Callable[..., None]) -> Callable[..., None]:
    # The dataclass __init__ cannot tell a default from the same value given explicitly, so
    # record the names the caller passed before it runs.
    names = [f.name for f in dataclasses.fields(Settings)]

    @functools.wraps(init)
    def __init__(self: Settings, *args: Any, **kwargs: Any) -> None:
        from tracker.wandb_settings import translate

        mapped, init_args = translate(kwargs)
        kwargs = {**mapped, **kwargs}
        object.__setattr__(self, "_given", frozenset(names[: len(args)]) | frozenset(kwargs))
        object.__setattr__(self, "_init_args", init_args)
        init(self, *args, **kwargs)

    return __init__


Settings.__init__ = _remember_given(Settings.__init__)  # type: ignore[method-assign]


_KINDS: dict[str, Callable[[str], Any]] = {
    "silent": _to_bool,
    "strict_steps": _to_bool,
    "system_sample_interval": float,
    "live_interval": float,
    "idle_timeout": float,
    "max_queue_bytes": int,
    "max_message_bytes": int,
    "alert_webhook": str,
    "alert_retries": int,
    "ui_port": int,
    "console": str,
    "finish_timeout": float,
    "fsync_interval": float,
    "init_timeout": float,
}


def _check(name: str, value: Any) -> Any:
    kind = _KINDS[name]
    if name == "console":
        if value in ("redirect", "off"):
            return value
        raise Error(f"setting 'console' must be 'redirect' or 'off', got {value!r}")
    if name == "alert_webhook":
        if value is None or isinstance(value, str):
            return value or None
        raise Error(f"setting {name!r} must be a URL string, got {value!r}")
    if kind is _to_bool:
        if isinstance(value, bool):
            return value
        raise Error(f"setting {name!r} must be a bool, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Error(f"setting {name!r} must be a number, got {value!r}")
    if kind is int and value != int(value):
        raise Error(f"setting {name!r} must be an integer, got {value!r}")
    value = kind(value)
    if value < 0 or (name == "ui_port" and not 0 < value < 65536):
        raise Error(f"setting {name!r} is out of range: {value!r}")
    return value


def resolve_settings(given: Settings | Mapping[str, Any] | None) -> Settings:
    """Defaults, then ``TRACKER_<NAME>`` variables, then ``given``.

    Raises:
        Error: an unknown key, or a value (given or from the environment) of the wrong type.
    """
    values: dict[str, Any] = {}
    for name, var in setting_variables().items():
        kind = _KINDS[name]
        raw = os.environ.get(var)
        if raw is None:
            continue
        try:
            values[name] = kind(raw)
        except ValueError:
            raise Error(f"environment variable {var}={raw!r} is not a valid {name}") from None
    init_args: dict[str, Any] = {}
    if isinstance(given, Settings):
        values.update({name: getattr(given, name) for name in given.given()})
        init_args = given.init_arguments()
    elif given is not None:
        if not isinstance(given, Mapping):
            raise Error(
                f"settings must be a tracker.Settings or a dict, got {type(given).__name__}"
            )
        from tracker.wandb_settings import is_wandb_name, translate

        for key in given:
            if key not in _KINDS and not is_wandb_name(key):
                raise Error(f"unknown setting {key!r}; known: {', '.join(sorted(_KINDS))}")
        rest = dict(given)
        mapped, init_args = translate(rest)
        values.update(mapped)
        values.update(rest)
    resolved = Settings(**values)
    object.__setattr__(resolved, "_init_args", init_args)
    return resolved


class Env:
    """Every environment variable tracker reads, declared here and read only through here.

    The settings' own ``TRACKER_<NAME>`` variables are derived from :class:`Settings` (see
    :func:`resolve_settings` and :func:`setting_variables`).
    """

    # Fill the arguments of ``init`` that were not given.
    PROJECT = "TRACKER_PROJECT"
    ENTITY = "TRACKER_ENTITY"
    MODE = "TRACKER_MODE"
    DIR = "TRACKER_DIR"
    STORE = "TRACKER_STORE"
    RUN_ID = "TRACKER_RUN_ID"
    RUN_GROUP = "TRACKER_RUN_GROUP"
    JOB_TYPE = "TRACKER_JOB_TYPE"
    SILENT = "TRACKER_SILENT"
    # Where the sidecar's socket and lock live; per user, mode 0700.
    RUNTIME_DIR = "TRACKER_RUNTIME_DIR"
    # The host name recorded for runs and keying the sidecar (simulates hosts on one machine).
    HOST = "TRACKER_HOST"
    # The sidecar's way of noticing changed ``live`` files: "auto" (watchdog when installed)
    # or "poll" (stat every file).
    FILE_WATCH = "TRACKER_FILE_WATCH"
    # Seconds a stopping sidecar gives its runs to finish before it leaves the rest to
    # their transaction logs (a store that stays down must not keep it alive forever).
    STOP_GRACE = "TRACKER_STOP_GRACE"
    # Not ours: the session's runtime folder, the default parent of RUNTIME_DIR.
    XDG_RUNTIME_DIR = "XDG_RUNTIME_DIR"
    # Not ours: an S3 store's endpoint and region when its URI does not name them, read as
    # boto3 reads them (pyarrow itself reads the credentials, AWS_ACCESS_KEY_ID...).
    AWS_ENDPOINT_URLS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    AWS_REGIONS = ("AWS_DEFAULT_REGION", "AWS_REGION")

    @staticmethod
    def s3_defaults() -> dict[str, str]:
        """``S3FileSystem`` options from the AWS variables (for ``open_store``)."""
        out = {}
        for option, names in (
            ("endpoint_override", Env.AWS_ENDPOINT_URLS),
            ("region", Env.AWS_REGIONS),
        ):
            value = next((v for v in map(Env.get, names) if v), None)
            if value:
                out[option] = value
        return out

    @staticmethod
    def get(name: str) -> str | None:
        """The variable's value, or None when it is unset or empty."""
        value = os.environ.get(name)
        return value if value else None

    @staticmethod
    def file_watch() -> str:
        """``TRACKER_FILE_WATCH``: ``"auto"`` (the default) or ``"poll"``.

        Raises:
            Error: any other value (the variable is named).
        """
        value = Env.get(Env.FILE_WATCH) or "auto"
        if value not in ("auto", "poll"):
            raise Error(f"environment variable {Env.FILE_WATCH}={value!r} must be 'auto' or 'poll'")
        return value

    @staticmethod
    def stop_grace() -> float:
        """``TRACKER_STOP_GRACE``: seconds, 30 by default.

        Raises:
            Error: not a positive number (the variable is named).
        """
        value = Env.get(Env.STOP_GRACE) or "30"
        try:
            grace = float(value)
        except ValueError:
            grace = -1.0
        if not grace > 0:
            raise Error(
                f"environment variable {Env.STOP_GRACE}={value!r} must be a positive number"
            )
        return grace


def setting_variables() -> dict[str, str]:
    """The ``TRACKER_<NAME>`` variable of every setting, by setting name."""
    return {name: f"TRACKER_{name.upper()}" for name in _KINDS}


def host_name() -> str:
    """``TRACKER_HOST``, else this machine's host name: the host recorded for a run."""
    return Env.get(Env.HOST) or os.uname().nodename


def default_store() -> str:
    """The store: ``TRACKER_STORE`` or ``~/.tracker/store``; a folder made absolute, or a URI.

    Raises:
        Error: ``TRACKER_STORE`` names a scheme no backend serves (never a folder named
            after the URI).
    """
    from tracker.store.uri import parse_store_uri  # pure Python: import tracker stays light

    raw = Env.get(Env.STORE) or os.path.join(os.path.expanduser("~"), ".tracker", "store")
    try:
        return parse_store_uri(raw).location
    except Error as exc:
        raise Error(f"TRACKER_STORE: {exc}") from None
