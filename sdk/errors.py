"""The project's own errors. Every one derives from :class:`Error`."""


class Error(Exception):
    """Base class of every error raised by tracker."""


class UsageError(Error):
    """The API was called in a way it cannot serve (finished run, no active run, ...)."""


class CommError(Error):
    """The sidecar could not be reached or did not answer in time."""


class IncompleteRunHistoryError(Error):
    """Raised when a run's history has rows not yet exported to parquet."""
