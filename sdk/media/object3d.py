"""``tracker.Object3D`` (point clouds and 3-D files) and ``tracker.Html``."""

from __future__ import annotations

import os
from typing import Any

from tracker.media.base import Media, bad, is_array, raw_array, to_numpy

FILE_TYPES = ("obj", "gltf", "glb", "babylon", "stl", "pts.json")


class Object3D(Media):
    """A 3-D object to log: a point cloud (numpy N×3, N×4 or N×6) or a 3-D file (§10).

    Args:
        data_or_path: the points (x, y, z[, category | r, g, b]) or a file's path.
        caption: a caption shown with the object.
    """

    _kind = "object3D"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        self.caption = None if caption is None else str(caption)
        self._bytes = None
        self._format = None
        if isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            self._format = path.rsplit(".", 1)[-1].lower()
            with open(path, "rb") as fh:
                self._bytes = fh.read()
            self._data = None
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
