"""Exit hooks: the exit code of the training process, and finishing the run at exit (§4.7).

``sys.exit(n)`` and uncaught exceptions are recorded so that the atexit handler finishes the
active run as ``finished`` (code 0) or ``failed`` (any other code; 1 for an exception, 255 for
KeyboardInterrupt), as W&B does.
"""

from __future__ import annotations

import atexit
import sys
from typing import Any

from tracker import state

_installed = False
_exit_code: int | None = None
_orig_exit = sys.exit
_orig_excepthook = sys.excepthook


def _exit(code: Any = None) -> None:
    global _exit_code
    if code is None:
        _exit_code = 0
    elif isinstance(code, int):
        _exit_code = code
    else:
        _exit_code = 1
    _orig_exit(code)


def _excepthook(exc_type: type, exc: BaseException, tb: Any) -> None:
    global _exit_code
    _exit_code = 255 if issubclass(exc_type, KeyboardInterrupt) else 1
    _orig_excepthook(exc_type, exc, tb)


def _at_exit() -> None:
    run = state.active_run()
    if run is not None:
        try:
            run.finish(exit_code=_exit_code or 0)
        except Exception as exc:  # the interpreter is exiting: report, do not raise
            print(f"tracker: could not finish run {run.id} at exit: {exc}", file=sys.stderr)


def install() -> None:
    """Install the hooks once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    sys.exit = _exit
    sys.excepthook = _excepthook
    atexit.register(_at_exit)
