"""The project's own errors. Every one derives from :class:`Error`."""


class Error(Exception):
    """Base class of every error raised by tracker."""


class UsageError(Error):
    """The API was called in a way it cannot serve (finished run, no active run, ...)."""


class ArgumentError(UsageError, ValueError):
    """An argument the call cannot take: a bad artifact name, alias, path or type, or a
    name that names no artifact version.

    Also a ``ValueError``, as W&B raises there: ``except ValueError`` and
    ``except tracker.Error`` both catch it.
    """


class CommError(Error):
    """The sidecar could not be reached or did not answer in time."""


class IncompleteRunHistoryError(Error):
    """Raised when a run's history has rows not yet exported to parquet."""
