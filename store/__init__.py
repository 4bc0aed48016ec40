"""Where synced runs live (§8, §13): a catalogue plus a blob store, behind one interface.

:func:`open_store` is the one entry point; it picks the backends by URI scheme
(:mod:`tracker.store.uri`). Today a bare path or ``file://`` URI gives a SQLite catalogue
(:mod:`tracker.store.sqlite`) and blobs in local folders (:mod:`tracker.store.localfs`) under
one root::

    <root>/catalogue.db
    <root>/runs/<entity>/<project>/<run_id>/{history,system,files}/...

A ``postgresql://...?blobs=s3://bucket/prefix`` URI gives a PostgreSQL catalogue
(:mod:`tracker.store.postgres`) and blobs on any ``pyarrow.fs`` file system
(:mod:`tracker.store.pyarrowfs`), the same keys under the blob root (§13).

Importing this package imports neither pyarrow nor sqlite's tables: both come when used.
"""

from __future__ import annotations

from tracker.store.base import BlobStore, Catalogue, Store
from tracker.store.uri import parse_store_uri


def open_store(uri: str, s3_defaults: dict[str, str] | None = None) -> Store:
    """Open (creating if needed) the store at ``uri``.

    Args:
        uri: a folder path, ``file:///path`` URI, or
            ``postgresql://user@host:port/db?blobs=s3://bucket/prefix`` (see
            :mod:`tracker.store.uri`).
        s3_defaults: ``S3FileSystem`` options the URI's own override: the AWS variables'
            (``tracker.settings.Env.s3_defaults()``), passed by the processes' entry points.

    Returns:
        The store: catalogue methods, and its blobs as ``store.blobs``.

    Raises:
        tracker.Error: a URI scheme that is not served (the message names the served ones),
            or a shared store's catalogue that cannot be reached.

    Example:
        >>> store = open_store("~/.tracker/store")
        >>> store.blobs.list("runs/me/mnist/abc12345/history/")
    """
    where = parse_store_uri(uri)
    if where.scheme == "postgresql":
        from tracker.store.postgres import PostgresCatalogue
        from tracker.store.pyarrowfs import open_blob_store

        blobs = open_blob_store(where.blobs, where.blob_options, s3_defaults)
        return Store(where.display, PostgresCatalogue(where.conninfo), blobs, s3_defaults)
    from tracker.store.localfs import LocalBlobStore
    from tracker.store.sqlite import SqliteCatalogue

    return Store(where.uri, SqliteCatalogue(where.path), LocalBlobStore(where.path), s3_defaults)


__all__ = ["BlobStore", "Catalogue", "Store", "open_store", "parse_store_uri"]
