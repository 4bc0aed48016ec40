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
        """A table's rows as a pandas DataFrame (column types as logged).

        Raises:
            ValueError: this is not a table.
        """
        if self.type != "table-file":
            raise ValueError(f"{self.path} is a {self.type}, not a table")
        import pyarrow.parquet as pq

        return pq.read_table(self._local()).to_pandas()


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
        return [MediaFile(step, cell["path"], kind, cell, run)]
    return []
