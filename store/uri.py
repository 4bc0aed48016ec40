"""Store URIs (§13), parsed in one place: which backend serves a URI, and where it points.

- A bare path or a ``file://`` URI is a local store (SQLite catalogue + blobs in folders).
- ``postgresql://user[:password]@host:port/db?blobs=<blob URI>[&<option>=...]`` is a shared
  store: the catalogue in PostgreSQL, the blobs wherever ``blobs`` points through
  ``pyarrow.fs`` (``s3://bucket/prefix``, ``gs://bucket/prefix``, ``hdfs://...``,
  ``file:///path``). Options named as pyarrow's ``S3FileSystem`` names them
  (:data:`S3_OPTIONS`: ``endpoint_override``, ``region``, ``access_key``, ``secret_key``...)
  go to the S3 file system; any other option goes to libpq (``sslmode``, ...). What they leave
  out comes from the usual variables (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``,
  ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``; libpq's ``PG*``).

Any other scheme is refused with an error naming the schemes served, so that a URI meant for
another backend never becomes a local folder named after it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tracker.errors import Error

# scheme -> what it serves; the error for an unknown scheme lists them
SERVED = {
    "file": "file:///path (or a bare path): a local folder",
    "postgresql": "postgresql://user@host:port/db?blobs=s3://bucket/prefix: a shared store",
}
_ALIASES = {"postgres": "postgresql"}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# pyarrow.fs.S3FileSystem's keyword arguments accepted as query parameters, and their types
S3_OPTIONS: dict[str, type] = {
    "access_key": str,
    "secret_key": str,
    "session_token": str,
    "region": str,
    "scheme": str,
    "endpoint_override": str,
    "role_arn": str,
    "anonymous": bool,
    "force_virtual_addressing": bool,
    "allow_bucket_creation": bool,
    "connect_timeout": float,
    "request_timeout": float,
}
BLOB_SCHEMES = ("s3", "gs", "gcs", "hdfs", "file")


@dataclass(frozen=True)
class StoreURI:
    """A parsed store URI.

    Attributes:
        scheme: the backend's scheme (``file`` or ``postgresql``).
        path: for ``file``, the store's absolute folder; else the URI as given.
        conninfo: for ``postgresql``, the libpq URI (tracker's own options removed).
        blobs: for ``postgresql``, the blob store's URI.
        blob_options: for ``postgresql``, the ``S3FileSystem`` options given in the URI.
    """

    scheme: str
    path: str
    conninfo: str = ""
    blobs: str = ""
    blob_options: dict = field(default_factory=dict)

    @property
    def uri(self) -> str:
        """The canonical URI (``file:///abs/path``, or the shared store's URI)."""
        return f"file://{self.path}" if self.scheme == "file" else self.path

    @property
    def location(self) -> str:
        """What names the store between processes: a local folder, else the URI."""
        return self.path

    @property
    def display(self) -> str:
        """The URI with any password or secret replaced by ``***`` (for status and logs)."""
        return redact(self.uri)


def redact(uri: str) -> str:
    """``uri`` with a password and secret options masked."""
    uri = re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", uri)
    return re.sub(r"((?:secret_key|session_token|password)=)[^&]*", r"\1***", uri)


def parse_store_uri(uri: str) -> StoreURI:
    """Parse a store URI (see the module docstring for the forms served).

    Args:
        uri: the store's location, as given to ``tracker.Api(store=...)`` or in
            ``TRACKER_STORE``.

    Returns:
        The scheme and where it points.

    Raises:
        Error: an empty URI, a scheme that is not served (the message names the served ones),
            a ``file://`` URI naming another host, or a ``postgresql://`` URI without a valid
            ``blobs`` parameter or with an invalid S3 option (the option is named).
    """
    if not isinstance(uri, str) or not uri.strip():
        raise Error(f"empty store URI {uri!r}")
    m = _SCHEME.match(uri)
    if m is None:
        return StoreURI("file", os.path.abspath(os.path.expanduser(uri)))
    scheme = _ALIASES.get(m.group(1).lower(), m.group(1).lower())
    if scheme not in SERVED:
        served = "; ".join(SERVED.values())
        raise Error(f"store URI {uri!r}: scheme {scheme!r} is not served; served: {served}")
    if scheme == "postgresql":
        return _parse_postgresql(uri)
    rest = uri[m.end() :]
    if rest.startswith("localhost/"):
        rest = rest[len("localhost") :]
    if not rest.startswith("/"):
        raise Error(f"store URI {uri!r}: a file:// URI names a local folder, as file:///path")
    return StoreURI("file", os.path.abspath(rest))


def _parse_postgresql(uri: str) -> StoreURI:
    parts = urlsplit(uri)
    libpq: list[tuple[str, str]] = []
    blobs = ""
    options: dict = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "blobs":
            blobs = value
        elif key in S3_OPTIONS:
            options[key] = _option(uri, key, value)
        else:
            libpq.append((key, value))
    shown = redact(uri)
    if not blobs:
        raise Error(
            f"store URI {shown!r}: a postgresql:// store needs its blob store as a query "
            "parameter, e.g. ?blobs=s3://bucket/prefix"
        )
    blob_scheme = _SCHEME.match(blobs)
    if blob_scheme is None or blob_scheme.group(1).lower() not in BLOB_SCHEMES:
        raise Error(
            f"store URI {shown!r}: blobs={blobs!r} must be a URI with one of the schemes "
            f"{', '.join(BLOB_SCHEMES)}"
        )
    if not parts.path.strip("/"):
        raise Error(f"store URI {shown!r}: name the database, as postgresql://host:port/db")
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(libpq), ""))
    canonical = urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))
    return StoreURI("postgresql", canonical, conninfo, blobs, options)


def _option(uri: str, key: str, value: str) -> object:
    kind = S3_OPTIONS[key]
    if kind is bool:
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise Error(f"store URI {redact(uri)!r}: option {key}={value!r} must be true or false")
        return value.lower() in ("1", "true", "yes")
    if kind is float:
        try:
            return float(value)
        except ValueError:
            raise Error(
                f"store URI {redact(uri)!r}: option {key}={value!r} must be a number"
            ) from None
    return value
