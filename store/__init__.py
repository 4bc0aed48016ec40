"""Where synced runs live: a catalogue plus blob storage, behind one interface (§8).

:func:`open_store` picks the implementation by URI scheme; today a plain path or
``file://`` URI gives :class:`~tracker.store.local.LocalStore`.
"""

from __future__ import annotations

import os

from tracker.store.base import Store


def open_store(uri: str) -> Store:
    """Open the store at ``uri`` (a folder path or ``file://`` URI).

    Raises:
        ValueError: an unknown URI scheme.
    """
    if "://" in uri and not uri.startswith("file://"):
        raise ValueError(f"unsupported store URI {uri!r}: only local folders (file://) for now")
    from tracker.store.local import LocalStore

    path = uri[len("file://") :] if uri.startswith("file://") else uri
    return LocalStore(os.path.abspath(os.path.expanduser(path)))


__all__ = ["Store", "open_store"]
