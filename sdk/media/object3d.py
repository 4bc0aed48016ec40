"""``tracker.Object3D`` (point clouds and 3-D files) and ``tracker.Html``."""

from __future__ import annotations

import os
from typing import Any

from tracker.media.base import Media, bad, is_array, raw_array, to_numpy

FILE_TYPES = ("obj", "gltf", "glb", "babylon", "stl", "pts.json")


class Object3D(Media):
    """A 3-D object to log: a point cloud (numpy N×3, N×4 or N×6) or a 3-D file (§10).

    Args:
        data_or_path: the points (x, y, z[, category | r, g, b]), a file's path, or an open
            file (text or binary; read at once).
        caption: a caption shown with the object.
        file_type: the type of an open file (``obj``, ``gltf``, ...); default from its name.

    Raises:
        ValueError: an open file whose type is neither given nor in its name.
    """

    _kind = "object3D"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        self.caption = None if caption is None else str(caption)
        self._bytes = None
        self._format = None
        self._data = None
        if isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            self._format = _file_type(path)
            with open(path, "rb") as fh:
                self._bytes = fh.read()
        elif hasattr(data_or_path, "read"):
            self._format, self._bytes = _read_handle(data_or_path, kwargs.get("file_type"))
        else:
            self._data = to_numpy(data_or_path) if is_array(data_or_path) else data_or_path

    def to_log_value(self, key: str) -> dict[str, Any]:
        if self._bytes is not None:
            if self._format not in FILE_TYPES:
                raise bad(
                    key,
                    "Object3D",
                    f"file type must be one of {', '.join(FILE_TYPES)}, got {self._format!r}",
                )
            return {
                "_type": "object3D-raw",
                "encoded": self._bytes,
                "format": self._format,
                "caption": self.caption,
            }
        arr = self._data
        if not is_array(arr) or arr.ndim != 2 or arr.shape[1] not in (3, 4, 6):
            shape = tuple(arr.shape) if is_array(arr) else type(arr).__name__
            raise bad(key, "Object3D", f"points must be an N×3, N×4 or N×6 array, got {shape}")
        if arr.dtype.kind not in "uif":
            raise bad(key, "Object3D", f"points must be numbers, got dtype {arr.dtype}")
        return raw_array("object3D", arr, caption=self.caption)


def _file_type(name: str) -> str:
    base = os.path.basename(name).lower()
    return "pts.json" if base.endswith(".pts.json") else base.rsplit(".", 1)[-1]


def _read_handle(handle: Any, file_type: str | None) -> tuple[str, bytes]:
    """The type and bytes of an open file (W&B reads it at construction too)."""
    name = getattr(handle, "name", None)
    if file_type is None and not isinstance(name, str):
        raise ValueError(
            "Object3D of an open file without a name needs file_type= (obj, gltf, ...)"
        )
    if hasattr(handle, "seek"):
        handle.seek(0)
    data = handle.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return (file_type or _file_type(name)).lower().lstrip("."), bytes(data)


class Html(Media):
    """An HTML page to log (§10).

    Args:
        data: the HTML text, an open file, or the path of an ``.html`` file.
        inject: accepted for W&B compatibility.
    """

    _kind = "html"

    def __init__(self, data: Any, inject: bool = True) -> None:
        if hasattr(data, "read"):
            data = data.read()
        elif isinstance(data, os.PathLike) or (
            isinstance(data, str) and data.endswith(".html") and os.path.isfile(data)
        ):
            with open(data, encoding="utf-8") as fh:
                data = fh.read()
        self.html = data

    def to_log_value(self, key: str) -> dict[str, Any]:
        if not isinstance(self.html, str):
            raise bad(key, "Html", f"takes text, a file or a path, not {type(self.html).__name__}")
        return {"_type": "html-raw", "html": self.html}
