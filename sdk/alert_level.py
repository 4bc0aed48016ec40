"""Alert levels (§4.6)."""

from enum import Enum


class AlertLevel(str, Enum):
    """How serious an alert is."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
