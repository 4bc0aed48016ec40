"""The read side (§5): ``tracker.Api`` and the runs it returns. Loads pyarrow on use."""

from tracker.api.client import Api
from tracker.api.public_run import DownloadHistoryResult, Run

__all__ = ["Api", "DownloadHistoryResult", "Run"]
