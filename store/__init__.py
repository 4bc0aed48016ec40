"""Where synced runs live (§8, §13): a catalogue plus a blob store, behind one interface.

:func:`open_store` is the one entry point; it picks the backends by URI scheme
(:mod:`tracker.store.uri`). Today a bare path or ``file://`` URI gives a SQLite catalogue
(:mod:`tracker.store.sqlite`) and blobs in local folders (:mod:`tracker.store.localfs`) under
one root::

    <root>/catalogue.db
    <root>/runs/<entity>/<project>/<run_id>/{history,system,files}/...

Importing this package imports neither pyarrow nor sqlite's tables: both come when used.
"""

from __future__ import annotations

from tracker.store.base import BlobStore, Catalogue, Store
from tracker.store.uri import parse_store_uri


def open_store(uri: str) -> Store:
    """Open (creating if needed) the store at ``uri``.

    Args:
        uri: a folder path or ``file:///path`` URI.

    Returns:
        The store: catalogue methods, and its blobs as ``store.blobs``.

    Raises:
        tracker.Error: a URI scheme that is not served (the message names the served ones).

    Example:
        >>> store = open_store("~/.tracker/store")
        >>> store.blobs.list("runs/me/mnist/abc12345/history/")
    """
    where = parse_store_uri(uri)
    from tracker.store.localfs import LocalBlobStore
    from tracker.store.sqlite import SqliteCatalogue

    return Store(where.uri, SqliteCatalogue(where.path), LocalBlobStore(where.path))


__all__ = ["BlobStore", "Catalogue", "Store", "open_store", "parse_store_uri"]
