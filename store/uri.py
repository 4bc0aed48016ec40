"""Store URIs (§13), parsed in one place: which backend serves a URI, and where it points.

A bare path or a ``file://`` URI is a local store (SQLite catalogue + blobs in folders). Any
other scheme is refused with an error naming the schemes served, so that a URI meant for
another backend (``postgresql://...``) never becomes a local folder named after it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tracker.errors import Error

# scheme -> what it serves; the error for an unknown scheme lists them
SERVED = {"file": "file:///path (or a bare path): a local folder"}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class StoreURI:
    """A parsed store URI.

    Attributes:
        scheme: the backend's scheme (``file``).
        path: for ``file``, the store's absolute folder.
    """

    scheme: str
    path: str

    @property
    def uri(self) -> str:
        """The canonical URI (``file:///abs/path``)."""
        return f"{self.scheme}://{self.path}"


def parse_store_uri(uri: str) -> StoreURI:
    """Parse a store URI: a bare path, ``~/path``, ``file:///path`` or ``file://localhost/path``.

    Args:
        uri: the store's location, as given to ``tracker.Api(store=...)`` or in
            ``TRACKER_STORE``.

    Returns:
        The scheme and the absolute folder.

    Raises:
        Error: an empty URI, a scheme that is not served (the message names the served ones),
            or a ``file://`` URI naming another host.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise Error(f"empty store URI {uri!r}")
    m = _SCHEME.match(uri)
    if m is None:
        return StoreURI("file", os.path.abspath(os.path.expanduser(uri)))
    scheme = m.group(1).lower()
    if scheme not in SERVED:
        served = "; ".join(SERVED.values())
        raise Error(f"store URI {uri!r}: scheme {scheme!r} is not served; served: {served}")
    rest = uri[m.end() :]
    if rest.startswith("localhost/"):
        rest = rest[len("localhost") :]
    if not rest.startswith("/"):
        raise Error(f"store URI {uri!r}: a file:// URI names a local folder, as file:///path")
    return StoreURI("file", os.path.abspath(rest))
