"""``tracker.Image``: pixels from numpy arrays, torch tensors, PIL images, files or figures."""

from __future__ import annotations

import os
from typing import Any

from tracker.media.base import Media, bad, is_array, is_torch, need, raw_array, require, to_numpy

_MODES = {None, "L", "RGB", "RGBA"}


class Image(Media):
    """An image to log; the sidecar encodes it as PNG (§10).

    Args:
        data_or_path: a numpy array (H×W, H×W×1/3/4; uint8, or float in [0, 1]), a torch
            tensor (C×H×W), a PIL image, a matplotlib figure, or the path of an image file.
        mode: the PIL mode (``L``, ``RGB``, ``RGBA``); default from the channels.
        caption: a caption shown with the image.
        classes: the class set, ``[{"id": int, "name": str}, ...]``.
        boxes: bounding boxes by group, W&B's shape (see :mod:`tracker.media.overlays`).
        masks: segmentation masks by group, W&B's shape (``mask_data``: H×W class ids).
        file_type: ignored (kept for W&B compatibility: images are stored as PNG).

    Example:
        >>> run.log({"sample": tracker.Image(np.zeros((64, 64, 3), np.uint8), caption="x")})
    """

    _kind = "image"

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        grouping: int | None = None,
        classes: Any = None,
        boxes: Any = None,
        masks: Any = None,
        file_type: str | None = None,
        normalize: bool = True,
    ) -> None:
        self._data = data_or_path
        self.mode = mode
        self.caption = None if caption is None else str(caption)
        self._chw = False
        self._overlays = {"boxes": boxes, "masks": masks, "classes": classes}
        if isinstance(data_or_path, (str, os.PathLike)):
            self._path = os.fspath(data_or_path)
            with open(self._path, "rb") as fh:  # read now: the file may change after log
                self._bytes = fh.read()
            return
        self._path = None
        self._bytes = None
        if is_torch(data_or_path):
            self._data = to_numpy(data_or_path)
            self._chw = self._data.ndim == 3 and self._data.shape[0] in (1, 3, 4)
        elif _is_figure(data_or_path):
            self._data = _figure_pixels(data_or_path)
        elif type(data_or_path).__module__.startswith("PIL"):
            self._data = to_numpy(data_or_path)

    @property
    def image(self) -> Any:
        """The pixels as a PIL image (needs pillow)."""
        pil = need("PIL.Image")
        if self._bytes is not None:
            import io

            return pil.open(io.BytesIO(self._bytes))
        arr = self._data.transpose(1, 2, 0) if self._chw else self._data
        return pil.fromarray(arr if arr.dtype.kind != "f" else (arr * 255).round().astype("uint8"))

    def to_log_value(self, key: str) -> dict[str, Any]:
        if self.mode not in _MODES:
            raise bad(key, "Image", f"mode must be one of L, RGB, RGBA, got {self.mode!r}")
        if self._bytes is not None:
            ext = os.path.splitext(self._path)[1].lstrip(".").lower() or "png"
            return {
                "_type": "image-raw",
                "encoded": self._bytes,
                "format": ext,
                "caption": self.caption,
                **self._overlay_cells(key),
            }
        arr = self._data
        if not is_array(arr):
            raise bad(
                key,
                "Image",
                f"takes an array, a tensor, a PIL image, a figure or a path, not {type(arr).__name__}",
            )
        _check_pixels(key, "Image", arr, self._chw)
        require("PIL", key, "Image")
        overlays = self._overlay_cells(key)
        return raw_array(
            "image", arr, caption=self.caption, mode=self.mode, chw=self._chw, **overlays
        )

    def _overlay_cells(self, key: str) -> dict[str, Any]:
        """Boxes, masks and classes, validated (only those given: the common case pays nothing)."""
        given = self._overlays
        if given["boxes"] is None and given["masks"] is None and given["classes"] is None:
            return {}
        from tracker.media import overlays

        out: dict[str, Any] = {}
        if given["boxes"] is not None:
            out["boxes"] = overlays.boxes_of(key, given["boxes"])
        if given["masks"] is not None:
            out["masks"] = overlays.masks_of(key, given["masks"])
        if given["classes"] is not None:
            out["classes"] = overlays.classes_of(key, given["classes"])
        return out


def _check_pixels(key: str, kind: str, arr: Any, chw: bool) -> None:
    if arr.ndim not in (2, 3):
        raise bad(
            key, kind, f"must be H×W or H×W×C, got a {arr.ndim}-D array of shape {tuple(arr.shape)}"
        )
    channels = 1 if arr.ndim == 2 else (arr.shape[0] if chw else arr.shape[2])
    if channels not in (1, 3, 4):
        raise bad(key, kind, f"must have 1, 3 or 4 channels, got shape {tuple(arr.shape)}")
    if arr.dtype.kind not in "uif":
        raise bad(key, kind, f"pixels must be uint8 or float, got dtype {arr.dtype}")


def _is_figure(value: Any) -> bool:
    return (type(value).__module__ or "").startswith("matplotlib") and hasattr(value, "canvas")


def _figure_pixels(fig: Any) -> Any:
    """A matplotlib figure's RGBA pixels (drawn here: the figure lives in this process)."""
    np = need("numpy")
    fig.canvas.draw()
    return np.array(fig.canvas.buffer_rgba())
