"""Media logged by a run, read back (§10): ``Run.media(key)`` and its objects.

History cells hold typed references (``image-file``, ``table-file``, ``histogram``...);
each becomes a :class:`MediaFile` (files: ``download``, ``to_numpy``, ``get_dataframe``) or
a :class:`HistogramValue` (bins inline).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HistogramValue:
    """A logged histogram: ``values`` (counts) over ``bins`` (edges, one more)."""

    step: int
    values: list[float]
    bins: list[float]
    type: str = "histogram"


@dataclass
class MediaFile:
    """A logged media file (image, video, table, html, 3-D object).

    Attributes:
        step: the history step it was logged at.
        path: its name among the run's files (``media/images/...``).
        type: ``image-file``, ``video-file``, ``table-file``...
        ref: the whole history cell (sha256, size, width, height, caption...).
    """

    step: int
    path: str
    type: str
    ref: dict[str, Any] = field(repr=False)
    _run: Any = field(repr=False, default=None)

    @property
    def caption(self) -> str | None:
        return self.ref.get("caption")

    @property
    def boxes(self) -> dict[str, Any] | None:
        """An image's bounding boxes by group, as logged (``class_labels`` keyed by int)."""
        boxes = _json_field(self.ref, "boxes")
        for group in (boxes or {}).values():
            group["class_labels"] = _int_keys(group.get("class_labels"))
        return boxes

    @property
    def masks(self) -> dict[str, MediaFile]:
        """An image's masks by group: each a ``mask`` file (``to_numpy()``: H×W class ids;
        ``class_labels`` in ``.ref``, keyed by int)."""
        out = {}
        for group, ref in (_json_field(self.ref, "masks") or {}).items():
            ref["class_labels"] = _int_keys(ref.get("class_labels"))
            out[group] = MediaFile(self.step, ref["path"], "mask", ref, self._run)
        return out

    @property
    def classes(self) -> list[dict[str, Any]] | None:
        """An image's class set (``[{"id", "name"}, ...]``), as logged."""
        return _json_field(self.ref, "classes")

    @property
    def chart(self) -> dict[str, Any] | None:
        """A chart's description (kind, fields, title), for tables logged by ``tracker.plot``."""
        chart = self.ref.get("chart")
        return json.loads(chart) if isinstance(chart, str) else chart

    def download(self, root: str = ".", replace: bool = True) -> str:
        """Copy the file to ``root/<path>``; return that local path.

        Raises:
            FileNotFoundError: the run has no such file in the store.
        """
        f = self._run.file(self.path)
        if f is None:
            raise FileNotFoundError(f"run {'/'.join(self._run.path)} has no file {self.path!r}")
        f.download(root, replace=replace).close()
        return os.path.join(root, self.path)

    def _local(self) -> str:
        import tempfile

        return self.download(tempfile.mkdtemp(prefix="tracker-media-"))

    def to_numpy(self) -> Any:
        """An image's pixels (H×W×C uint8), or a video's frames (T×H×W×C); needs pillow."""
        import numpy as np

        if self.type == "video-file" and not self.path.endswith(".gif"):
            try:
                import imageio.v3 as iio
            except ImportError:
                raise ImportError(
                    "imageio is needed for this; install it with: pip install 'tracker[media]'"
                ) from None
            return iio.imread(self._local(), extension="." + self.path.rsplit(".", 1)[-1])
        try:
            from PIL import Image as pil
        except ImportError:
            raise ImportError(
                "pillow is needed for this; install it with: pip install 'tracker[media]'"
            ) from None
        with pil.open(self._local()) as img:
            if self.type == "video-file":
                frames = []
                for i in range(getattr(img, "n_frames", 1)):
                    img.seek(i)
                    frames.append(np.array(img.convert("RGB")))
                return np.stack(frames)
            return np.array(img)

    def get_dataframe(self) -> Any:
        """A table's rows as a pandas DataFrame (column types as logged; a cell that held an
        ``Image`` holds its :class:`MediaFile`: ``to_numpy()``, ``download()``, ``boxes``).

        Raises:
            ValueError: this is not a table.
        """
        if self.type != "table-file":
            raise ValueError(f"{self.path} is a {self.type}, not a table")
        import pyarrow.parquet as pq

        df = pq.read_table(self._local()).to_pandas()
        for name in df.columns:  # media cells (images in rows): usable objects, not dicts
            if df[name].dtype == object and any(_is_ref(v) for v in df[name]):
                df[name] = [self._cell(v) for v in df[name]]
        return df

    def _cell(self, value: Any) -> Any:
        if not _is_ref(value):
            return value
        objs = _objects(self._run, self.step, value)
        return objs[0] if len(objs) == 1 else objs


def _is_ref(value: Any) -> bool:
    """A table cell that is a media reference (a struct, or JSON text in a mixed column)."""
    if isinstance(value, str):
        return value.startswith('{"_type": ')
    return isinstance(value, dict) and bool(value.get("path") or value.get("_type") == "histogram")


def _json_field(ref: dict[str, Any], name: str) -> Any:
    value = ref.get(name)
    return json.loads(value) if isinstance(value, str) else value


def _int_keys(labels: dict | None) -> dict[int, str] | None:
    return None if labels is None else {int(k): v for k, v in labels.items()}


def media_of(run: Any, key: str, step: int | None = None) -> list[Any]:
    """Every logged object of ``key``, in step order (lists of images flattened)."""
    out: list[Any] = []
    for row in run.scan_history(keys=[key]):
        if step is not None and row["_step"] != step:
            continue
        out.extend(_objects(run, row["_step"], row[key]))
    return out


def _objects(run: Any, step: int, cell: Any) -> list[Any]:
    if isinstance(cell, str):
        try:
            cell = json.loads(cell)  # a column of mixed cells is stored as JSON text
        except ValueError:
            return []
    if not isinstance(cell, dict):
        return []
    kind = cell.get("_type")
    if kind == "media-list":
        return [o for item in cell.get("items") or [] for o in _objects(run, step, item)]
    if kind == "histogram":
        return [HistogramValue(step, list(cell.get("values") or []), list(cell.get("bins") or []))]
    if cell.get("path"):
        # a struct read back from parquet has every field of its column: None where absent
        ref = {k: v for k, v in cell.items() if v is not None}
        return [MediaFile(step, cell["path"], kind, ref, run)]
    return []
