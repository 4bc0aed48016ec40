"""``tracker.Video``: frames (T×C×H×W) that the sidecar encodes as GIF or MP4."""

from __future__ import annotations

import os
from typing import Any

from tracker.media.base import Media, bad, is_array, raw_array, require, to_numpy

FORMATS = ("gif", "mp4", "webm", "ogg")


class Video(Media):
    """A video to log (§10).

    Args:
        data_or_path: a numpy array or torch tensor of frames, T×C×H×W (C = 1, 3 or 4;
            uint8, or float in [0, 1]), or the path of a video file.
        caption: a caption shown with the video.
        fps: frames per second.
        format: ``gif`` (pillow) or ``mp4`` (imageio with its ffmpeg plugin).

    Example:
        >>> run.log({"rollout": tracker.Video(frames, fps=8, format="gif")})
    """

    _kind = "video"

    def __init__(
        self,
        data_or_path: Any,
        caption: str | None = None,
        fps: int | float | None = None,
        format: str | None = None,
    ) -> None:
        self.caption = None if caption is None else str(caption)
        self.fps = 4 if fps is None else fps
        self._bytes = None
        if isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            with open(path, "rb") as fh:
                self._bytes = fh.read()
            self.format = (format or os.path.splitext(path)[1].lstrip(".") or "gif").lower()
            self._data = None
        else:
            self.format = (format or "gif").lower()
            self._data = to_numpy(data_or_path) if is_array(data_or_path) else data_or_path

    def to_log_value(self, key: str) -> dict[str, Any]:
        if self.format not in FORMATS:
            raise bad(
                key, "Video", f"format must be one of {', '.join(FORMATS)}, got {self.format!r}"
            )
        if not isinstance(self.fps, (int, float)) or self.fps <= 0:
            raise bad(key, "Video", f"fps must be a positive number, got {self.fps!r}")
        if self._bytes is not None:
            return {
                "_type": "video-raw",
                "encoded": self._bytes,
                "format": self.format,
                "caption": self.caption,
            }
        arr = self._data
        if not is_array(arr):
            raise bad(key, "Video", f"takes an array, a tensor or a path, not {type(arr).__name__}")
        if arr.ndim != 4 or arr.shape[1] not in (1, 3, 4) or arr.shape[0] < 1:
            raise bad(
                key,
                "Video",
                f"frames must be T×C×H×W with C in 1, 3, 4, got shape {tuple(arr.shape)}",
            )
        if arr.dtype.kind not in "uif":
            raise bad(key, "Video", f"pixels must be uint8 or float, got dtype {arr.dtype}")
        for module in ("PIL",) if self.format == "gif" else ("imageio", "imageio_ffmpeg"):
            require(module, key, f"Video (format {self.format})")
        return raw_array(
            "video", arr, fps=float(self.fps), format=self.format, caption=self.caption
        )
