"""``tracker.Histogram`` and the histograms that large arrays become (§10).

Bins and counts travel inline in the history cell. A histogram of an array is computed by
the sidecar (the caller pays for a copy); one of a torch tensor is computed where the tensor
lives (``torch.histc``) and only the counts and edges cross to the host.
"""

from __future__ import annotations

import math
from typing import Any

from tracker.media.base import Media, is_torch, need, raw_array, raw_bytes, to_numpy

DEFAULT_BINS = 64
MAX_BINS = 512


class Histogram(Media):
    """A histogram to log: from values, or from ``np.histogram``'s output.

    Args:
        sequence: the values (a list, a numpy array or a torch tensor).
        np_histogram: ``(counts, edges)`` as returned by ``np.histogram``.
        num_bins: how many even bins (1 to 512) ``sequence`` is counted into.

    Raises:
        ValueError: neither or both of ``sequence`` and ``np_histogram``, a bad
            ``np_histogram``, or ``num_bins`` out of range.

    Example:
        >>> run.log({"weights": tracker.Histogram(np.random.randn(10_000), num_bins=32)})
    """

    _kind = "histogram"

    def __init__(
        self,
        sequence: Any = None,
        np_histogram: Any = None,
        num_bins: int = DEFAULT_BINS,
    ) -> None:
        if (sequence is None) == (np_histogram is None):
            raise ValueError("Histogram takes a sequence or np_histogram (one of them)")
        if not isinstance(num_bins, int) or not 1 <= num_bins <= MAX_BINS:
            raise ValueError(
                f"Histogram num_bins must be an int in 1..{MAX_BINS}, got {num_bins!r}"
            )
        self.num_bins = num_bins
        self._cell: dict[str, Any] | None = None
        self._values: Any = None
        if np_histogram is not None:
            self._cell = _from_np_histogram(np_histogram)
        elif is_torch(sequence):
            self._cell = torch_histogram(sequence, num_bins)
        else:
            np = need("numpy")
            arr = np.asarray(sequence) if not hasattr(sequence, "dtype") else sequence
            if arr.dtype.kind not in "uifb":
                raise ValueError(f"Histogram values must be numbers, got dtype {arr.dtype}")
            # the one copy kept (the caller may change its array before log()): the bytes sent
            if arr.dtype.kind == "b":
                arr = arr.astype(np.uint8)
            self._raw = raw_array("histogram", arr.reshape(-1), own=True, num_bins=num_bins)

    @property
    def histogram(self) -> list[int]:
        """The counts (computed here on first use when the sidecar would compute them)."""
        return self._computed()["values"]

    @property
    def bins(self) -> list[float]:
        """The bin edges (one more than the counts)."""
        return self._computed()["bins"]

    def _computed(self) -> dict[str, Any]:
        if self._cell is None:
            np = need("numpy")
            self._values = np.frombuffer(raw_bytes(self._raw), np.dtype(self._raw["dtype"]))
            vals = (
                self._values[np.isfinite(self._values)]
                if self._values.dtype.kind == "f"
                else self._values
            )
            counts, edges = np.histogram(vals, bins=self.num_bins)
            self._cell = {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
        return self._cell

    def to_log_value(self, key: str) -> dict[str, Any]:
        if self._cell is not None:
            return self._cell
        return self._raw


def _from_np_histogram(pair: Any) -> dict[str, Any]:
    try:
        counts, edges = pair
        counts = [float(c) if not float(c).is_integer() else int(c) for c in counts]
        edges = [float(e) for e in edges]
    except (TypeError, ValueError):
        raise ValueError(
            "Histogram np_histogram must be (counts, edges) from np.histogram"
        ) from None
    if len(edges) != len(counts) + 1:
        raise ValueError(
            f"Histogram np_histogram needs one more edge than counts, got {len(counts)} counts "
            f"and {len(edges)} edges"
        )
    return {"_type": "histogram", "values": counts, "bins": edges}


def torch_histogram(tensor: Any, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """A histogram computed on the tensor's device; only counts and edges come to the host."""
    import torch

    with torch.no_grad():
        t = tensor.detach().reshape(-1)
        if t.dtype not in (torch.float32, torch.float64):
            t = t.float()  # ints, halves: histc wants float32 or float64
        if t.numel() == 0:
            return {"_type": "histogram", "values": [], "bins": []}
        lo, hi = torch.aminmax(t)
        lo_f, hi_f = float(lo), float(hi)
        if not (math.isfinite(lo_f) and math.isfinite(hi_f)):
            # NaN or infinities: dropped (one masked copy, paid only when they are there)
            t = t[torch.isfinite(t)]
            if t.numel() == 0:
                return {"_type": "histogram", "values": [], "bins": []}
            lo, hi = torch.aminmax(t)
            lo_f, hi_f = float(lo), float(hi)
        if lo_f == hi_f:
            lo_f, hi_f = lo_f - 0.5, hi_f + 0.5
        counts = torch.histc(t, bins=bins, min=lo_f, max=hi_f)
    step = (hi_f - lo_f) / bins
    return {
        "_type": "histogram",
        "values": [int(c) for c in counts.cpu().tolist()],
        "bins": [lo_f + i * step for i in range(bins + 1)],
    }


def array_histogram(key: str, value: Any, bins: int = DEFAULT_BINS) -> dict[str, Any] | None:
    """The cell of a large array logged as is (64 bins), or None for non-numeric arrays."""
    if is_torch(value):
        if value.dtype.is_complex or value.dtype == getattr(value, "bool", None):
            return None
        return torch_histogram(value, bins)
    arr = to_numpy(value)
    if arr.dtype.kind not in "uif":
        return None
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
        arr = arr.astype("float32")
    return raw_array("histogram", arr.reshape(-1), num_bins=bins)
