"""Validation and flattening of what ``log`` is given, done in the caller's process.

Everything that leaves here is a flat ``{str: scalar | list[scalar] | dict}`` that msgpack
packs as is. Anything else raises in the caller with the offending key named (§4.1, §4.2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_SCALARS = (float, str, bool, type(None))
RESERVED = frozenset({"_step", "_runtime"})
MAX_LIST = 32


def flatten(data: Mapping, prefix: str = "", out: dict | None = None) -> dict[str, Any]:
    """Flatten nested mappings with ``.`` and normalise each value.

    Args:
        data: the mapping given to ``log``.
        prefix: the dotted path of ``data`` inside the top-level mapping.
        out: the dict to fill.

    Returns:
        A flat dict of column name to value.

    Raises:
        TypeError: a top-level key is not a ``str``.
        ValueError: a reserved key, or a value of an unsupported type (the key is named).
    """
    if out is None:
        out = {}
    for key, value in data.items():
        if type(key) is not str:
            if not prefix:
                raise TypeError(f"log() keys must be strings, got {type(key).__name__} key {key!r}")
            key = str(key)
        name = prefix + key if prefix else key
        t = type(value)
        if t is float or t is str or t is bool or value is None:
            out[name] = value
        elif t is int:
            out[name] = value if _INT_MIN <= value <= _INT_MAX else float(value)
        elif isinstance(value, Mapping):
            if not value:
                continue
            flatten(value, name + ".", out)
        else:
            out[name] = normalize(name, value)
    if not prefix and ("_step" in out or "_runtime" in out):
        bad = "_step" if "_step" in out else "_runtime"
        raise ValueError(f"log() key {bad!r} is reserved; pass the step with log(..., step=N)")
    return out


def normalize(name: str, value: Any) -> Any:
    """Normalise one non-trivial value (numpy, tensors, lists, enums...), or raise."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        value = int(value)
        return value if _INT_MIN <= value <= _INT_MAX else float(value)
    if isinstance(value, (float, str)):
        return (
            value
            if type(value) in (float, str)
            else (float(value) if isinstance(value, float) else str(value))
        )
    if isinstance(value, (list, tuple)):
        if value and hasattr(value[0], "to_log_value"):  # several images under one key
            from tracker.media.base import media_list

            return media_list(name, list(value))
        return [_list_item(name, i, v) for i, v in enumerate(value)]
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"log() value for key {name!r} is bytes that are not UTF-8") from None
    media = getattr(value, "to_log_value", None)
    if media is not None:
        return media(name)
    module = type(value).__module__ or ""
    if module.startswith(("numpy", "torch", "tensorflow", "jax", "jaxlib")):
        return _array_like(name, value)
    if module.startswith("matplotlib") and hasattr(value, "canvas"):
        from tracker.media.image import Image  # W&B logs a bare figure as an image (§10)

        return Image(value).to_log_value(name)
    raise ValueError(
        f"log() value for key {name!r} has unsupported type {type(value).__name__}; "
        "use numbers, strings, bools, None, lists of those, nested dicts or arrays"
    )


def _list_item(name: str, index: int, value: Any) -> Any:
    t = type(value)
    if t is float or t is str or t is bool or value is None:
        return value
    if t is int:
        return value if _INT_MIN <= value <= _INT_MAX else float(value)
    if isinstance(value, (list, tuple, Mapping)):
        raise ValueError(
            f"log() value for key {name!r}: item {index} is nested; only flat lists are supported"
        )
    item = normalize(name, value)
    if isinstance(item, (list, dict)):
        raise ValueError(f"log() value for key {name!r}: item {index} is not a scalar")
    return item


def _array_like(name: str, value: Any) -> Any:
    # numpy scalars and arrays and framework tensors all have .tolist(); torch tensors are
    # detached and moved to the host first. numpy is never required.
    numel = getattr(value, "numel", None)
    if (numel() if callable(numel) else getattr(value, "size", 0)) > MAX_LIST:
        from tracker.media.histogram import array_histogram  # counted by the sidecar (§10)

        cell = array_histogram(name, value)
        if cell is not None:
            return cell
    obj = value
    for attr in ("detach", "cpu"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            obj = fn()
    tolist = getattr(obj, "tolist", None)
    if tolist is None:
        raise ValueError(
            f"log() value for key {name!r} has unsupported type {type(value).__name__}"
        )
    numel = getattr(obj, "numel", None)
    size = numel() if callable(numel) else getattr(obj, "size", None)
    items = tolist()
    if not isinstance(items, list):
        return normalize(name, items) if not isinstance(items, (float, int, bool, str)) else items
    flat = _flatten_list(items)
    if size is None:
        size = len(flat)
    if size == 1:
        return _list_item(name, 0, flat[0])
    if size <= MAX_LIST:
        return [_list_item(name, i, v) for i, v in enumerate(flat)]
    return histogram(name, flat)


def _flatten_list(items: list) -> list:
    out: list = []
    stack = [items]
    while stack:
        cur = stack.pop()
        for v in reversed(cur):
            if isinstance(v, list):
                stack.append(v)
            else:
                out.append(v)
    out.reverse()
    return out


def histogram(name: str, values: list, bins: int = 64) -> dict[str, Any]:
    """A W&B-style histogram cell for a large array (§10): counts over ``bins`` even bins."""
    data = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not data:
        return {"_type": "histogram", "values": [], "bins": []}
    lo, hi = min(data), max(data)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in data:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    return {
        "_type": "histogram",
        "values": counts,
        "bins": [lo + i * width for i in range(bins + 1)],
    }


def is_number(value: Any) -> bool:
    return type(value) in (int, float) and not (type(value) is float and math.isnan(value))
