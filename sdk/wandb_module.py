"""Module-level names a W&B script calls that have no work to do locally (§3).

``login`` has no server to log in to, ``setup`` and ``require`` nothing to prepare; the
``term*`` functions print as W&B's do (to stderr, prefixed, silenced by ``TRACKER_SILENT``).
"""

from __future__ import annotations

import sys
from typing import Any

from tracker.settings import Env

_said: set[str] = set()


def login(*args: Any, **kwargs: Any) -> bool:
    """Return True: a local store needs no login (W&B's arguments are accepted, unused)."""
    return True


def setup(settings: Any = None) -> None:
    """Do nothing: the sidecar starts with the first run (W&B prepares its service here)."""
    return None


def require(*requirements: Any, **kwargs: Any) -> None:
    """Do nothing: tracker has no optional W&B feature sets to turn on."""
    return None


def _silent() -> bool:
    raw = (Env.get(Env.SILENT) or "").strip().lower()
    return raw in ("1", "true", "yes", "on")


def termlog(
    string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True
) -> None:
    """Print ``tracker: <string>`` to stderr, as ``wandb.termlog`` does.

    Args:
        string: the text.
        newline: end the line.
        repeat: print it again when the same text was printed before.
        prefix: start with ``tracker: ``.
    """
    if _silent() or (not repeat and string in _said):
        return
    _said.add(string)
    text = f"tracker: {string}" if prefix else string
    sys.stderr.write(text + ("\n" if newline else ""))


def termwarn(string: str, **kwargs: Any) -> None:
    """``termlog`` of ``WARNING <string>``."""
    termlog(f"WARNING {string}", **kwargs)


def termerror(string: str, **kwargs: Any) -> None:
    """``termlog`` of ``ERROR <string>``."""
    termlog(f"ERROR {string}", **kwargs)
