"""Cleans up after a test process that may die without its teardown (SIGKILL, a CI timeout).

``python reaper.py SPEC_JSON``: waits until process ``owner`` is gone, then runs ``stop``
(a command line), kills ``pids`` and removes ``folders``. Started detached by
``shared_services`` for each server it starts; a normal teardown kills the reaper first, so
that a pid reused after the teardown is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time


def main() -> None:
    spec = json.loads(sys.argv[1])
    while True:
        try:
            os.kill(spec["owner"], 0)
        except ProcessLookupError:
            break
        time.sleep(1.0)
    if spec.get("stop"):
        subprocess.run(spec["stop"], capture_output=True, timeout=60)
    for pid in spec.get("pids", []):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for folder in spec.get("folders", []):
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
