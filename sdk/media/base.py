"""What every media type shares: the raw cell it sends, key-naming errors, optional imports.

A media object is built in the training process and turned into a *raw cell* by
``to_log_value(key)`` when it is logged: array bytes, shape and dtype (one copy), never an
encoded file. The sidecar encodes it (``tracker.service.media_encode``).
"""

from __future__ import annotations

import importlib
from typing import Any

EXTRA = "media"


def need(module: str, extra: str = EXTRA) -> Any:
    """Import an optional library, or raise an ImportError that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{module.split('.')[0]} is needed for this; install it with: pip install 'tracker[{extra}]'"
        ) from None


_FOUND: dict[str, bool] = {}


def require(module: str, key: str, kind: str, extra: str = EXTRA) -> None:
    """Check that ``module`` can be imported (the sidecar needs it to encode), cheaply.

    Raises:
        ImportError: it is not installed; the message names the key and the extra.
    """
    found = _FOUND.get(module)
    if found is None:
        import sys

        if module in sys.modules:
            found = sys.modules[module] is not None
        else:
            import importlib.util

            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
        _FOUND[module] = found
    if not found:
        raise ImportError(
            f"log() value for key {key!r}: {kind} needs {module}, which is not installed; "
            f"install it with: pip install 'tracker[{extra}]'"
        )


def bad(key: str, kind: str, problem: str) -> ValueError:
    """The ``ValueError`` a bad media value raises at ``log``: the key named first."""
    return ValueError(f"log() value for key {key!r}: {kind} {problem}")


def is_array(value: Any) -> bool:
    """numpy arrays and framework tensors (checked by module, importing nothing)."""
    module = type(value).__module__ or ""
    return module.startswith(("numpy", "torch", "tensorflow", "jax"))


def to_numpy(value: Any) -> Any:
    """A numpy array of ``value``; torch tensors are detached and brought to the host."""
    np = need("numpy")
    for attr in ("detach", "cpu"):
        fn = getattr(value, attr, None)
        if callable(fn):
            value = fn()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


# From this size on, an array's bytes go as a Blob: copied once, by the log record's encoder,
# straight from the array (below it, bytes: the copy costs nothing and is simpler).
BLOB_MIN_BYTES = 64 * 1024


class Blob:
    """A C-contiguous array whose bytes ``encode_log`` copies straight into the record.

    The one copy of the caller's data happens inside ``log`` (when the record is built),
    so the array is the caller's own for ``to_log_value`` cells (built during ``log``);
    objects that keep a raw cell beyond ``log`` (``Histogram``) give it a copy they own.
    """

    __slots__ = ("array",)

    def __init__(self, array: Any) -> None:
        self.array = array

    def wire_bin(self) -> memoryview:
        """The bytes, as a flat byte view (no copy)."""
        return memoryview(self.array.reshape(-1).view("u1"))

    def __bytes__(self) -> bytes:
        return self.array.tobytes()

    def __len__(self) -> int:
        return int(self.array.nbytes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Blob):
            other = bytes(other)
        return isinstance(other, (bytes, bytearray, memoryview)) and bytes(self) == other

    __hash__ = None  # type: ignore[assignment]


def raw_array(kind: str, arr: Any, own: bool = False, **fields: Any) -> dict[str, Any]:
    """A raw cell carrying ``arr`` (its bytes copied once) and ``fields``.

    Args:
        own: the cell outlives this ``log`` call: take a copy now (the caller may change
            its array before the record is built).
    """
    np = need("numpy")
    arr = np.array(arr, order="C", copy=True) if own else np.ascontiguousarray(arr)
    if arr.nbytes >= BLOB_MIN_BYTES:
        data: Any = Blob(arr)
    else:
        data = arr.tobytes()
    return {
        "_type": f"{kind}-raw",
        "data": data,
        "shape": list(arr.shape),
        "dtype": arr.dtype.str,
        **fields,
    }


def raw_bytes(cell: dict[str, Any]) -> Any:
    """A raw cell's data as a buffer numpy reads (``np.frombuffer``)."""
    data = cell["data"]
    return data.wire_bin() if isinstance(data, Blob) else data


def is_torch(value: Any) -> bool:
    return (type(value).__module__ or "").startswith("torch")


class Media:
    """The base of every loggable media type."""

    _kind = "media"

    def to_log_value(self, key: str) -> dict[str, Any]:
        """The raw cell sent in place of this value (validated here, in the caller).

        Raises:
            ValueError: the value cannot be logged (``key`` is named).
        """
        raise NotImplementedError


def media_list(key: str, values: list) -> dict[str, Any]:
    """Several media objects under one key (``[Image, Image, ...]``)."""
    items = []
    for i, v in enumerate(values):
        fn = getattr(v, "to_log_value", None)
        if fn is None:
            raise bad(key, "list", f"item {i} is a {type(v).__name__} among media values")
        items.append(fn(key))
    return {"_type": "list-raw", "items": items}
