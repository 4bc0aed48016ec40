"""Alert levels and the validation of ``alert`` arguments (§4.6), done in the caller."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any

DEFAULT_WAIT = 60.0


class AlertLevel(str, Enum):
    """How serious an alert is."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def check_alert(title: Any, text: Any, level: Any, wait_duration: Any) -> dict[str, Any]:
    """Validate ``alert`` arguments; return the spec sent to the sidecar.

    Raises:
        ValueError: an empty or too long title, or an unknown level.
        TypeError: a title/text that is not a string, or a bad wait_duration type.
    """
    if not isinstance(title, str):
        raise TypeError(f"alert() title must be a string, got {type(title).__name__}")
    if not title.strip() or len(title) >= 64:
        raise ValueError(
            f"alert() title must be non-empty and shorter than 64 characters, got {len(title)}"
        )
    if not isinstance(text, str):
        raise TypeError(f"alert() text must be a string, got {type(text).__name__}")
    if level is None:
        level_name = "INFO"
    elif isinstance(level, AlertLevel):
        level_name = level.value
    elif isinstance(level, str) and level.upper() in AlertLevel.__members__:
        level_name = level.upper()
    else:
        raise ValueError(f"alert() level must be one of 'INFO', 'WARN' or 'ERROR', got {level!r}")
    if wait_duration is None:
        wait = DEFAULT_WAIT
    elif isinstance(wait_duration, datetime.timedelta):
        wait = wait_duration.total_seconds()
    elif isinstance(wait_duration, (int, float)) and not isinstance(wait_duration, bool):
        wait = float(wait_duration)
    else:
        raise TypeError(
            f"alert() wait_duration must be seconds (int, float or timedelta), got {wait_duration!r}"
        )
    if wait < 0:
        raise ValueError(f"alert() wait_duration must not be negative, got {wait}")
    return {"title": title, "text": text, "level": level_name, "wait_duration": wait}
