"""``tracker.apis.public``: W&B's names for the read side, the same classes as ``tracker.api``."""

from tracker.api.client import Api
from tracker.api.files import File
from tracker.api.public_run import Run

__all__ = ["Api", "File", "Run"]
