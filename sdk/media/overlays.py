"""Bounding boxes, masks and classes drawn over a ``tracker.Image``, in W&B's dict shapes.

Validated in the caller when the image is logged (the ``ValueError`` names the key); boxes
and class labels travel as plain data, a mask's pixels as a raw array (one copy) that the
sidecar writes as a PNG beside the image (``tracker.service.media_encode``).

Shapes (as W&B's ``wandb.Image(boxes=..., masks=...)``)::

    boxes = {"predictions": {
        "box_data": [{"position": {"minX": 0, "maxX": 10, "minY": 0, "maxY": 5},
                      # or {"middle": [x, y], "width": w, "height": h}
                      "class_id": 1, "box_caption": "cat", "scores": {"acc": 0.9},
                      "domain": "pixel"}],   # pixel coordinates; default: fractions of 0..1
        "class_labels": {1: "cat"}}}
    masks = {"ground_truth": {"mask_data": HxW integer array (0..255), "class_labels": {...}}}
            # or {"path": "mask.png"}
    classes = [{"id": 1, "name": "cat"}, ...]
"""

from __future__ import annotations

import numbers
import os
from typing import Any

from tracker.media.base import bad, is_array, raw_array, to_numpy

_CORNERS = ("minX", "maxX", "minY", "maxY")


def _number(key: str, where: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad(key, "Image", f"{where} must be a number, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _class_id(key: str, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise bad(key, "Image", f"{where} must be an int class id, got {value!r}")
    return int(value)


def _groups(key: str, what: str, value: Any) -> dict[str, dict]:
    if not isinstance(value, dict) or not value:
        raise bad(key, "Image", f"{what}= must be a dict of group name -> {{...}}, got {value!r}")
    for group, body in value.items():
        if not isinstance(group, str) or not isinstance(body, dict):
            raise bad(key, "Image", f"{what}[{group!r}] must be a dict under a str group name")
    return value


def class_labels(key: str, where: str, labels: Any) -> dict[str, str] | None:
    """``{class id: name}`` as JSON-safe ``{"1": "cat"}`` (None when absent)."""
    if labels is None:
        return None
    if not isinstance(labels, dict):
        raise bad(key, "Image", f"{where} class_labels must be a dict of int -> str")
    out = {}
    for cid, name in labels.items():
        out[str(_class_id(key, f"{where} class_labels key", cid))] = str(name)
    return out


def _position(key: str, where: str, pos: Any) -> dict[str, Any]:
    if not isinstance(pos, dict):
        raise bad(key, "Image", f"{where} position must be a dict, got {pos!r}")
    if all(c in pos for c in _CORNERS):
        return {c: _number(key, f"{where} position {c}", pos[c]) for c in _CORNERS}
    middle = pos.get("middle")
    if middle is not None and "width" in pos and "height" in pos:
        if not isinstance(middle, (list, tuple)) or len(middle) != 2:
            raise bad(key, "Image", f"{where} position middle must be [x, y], got {middle!r}")
        return {
            "middle": [_number(key, f"{where} middle", m) for m in middle],
            "width": _number(key, f"{where} width", pos["width"]),
            "height": _number(key, f"{where} height", pos["height"]),
        }
    raise bad(
        key,
        "Image",
        f"{where} position needs minX, maxX, minY, maxY or middle, width, height; got {sorted(pos)}",
    )


def _box(key: str, where: str, box: Any) -> dict[str, Any]:
    if not isinstance(box, dict):
        raise bad(key, "Image", f"{where} must be a dict, got {type(box).__name__}")
    out: dict[str, Any] = {
        "position": _position(key, where, box.get("position")),
        "class_id": _class_id(key, f"{where} class_id", box.get("class_id")),
    }
    if box.get("box_caption") is not None:
        out["box_caption"] = str(box["box_caption"])
    if box.get("domain") is not None:
        if box["domain"] != "pixel":
            raise bad(
                key, "Image", f"{where} domain must be 'pixel' or absent, got {box['domain']!r}"
            )
        out["domain"] = "pixel"
    scores = box.get("scores")
    if scores is not None:
        if not isinstance(scores, dict):
            raise bad(key, "Image", f"{where} scores must be a dict of name -> number")
        out["scores"] = {str(n): _number(key, f"{where} score {n!r}", v) for n, v in scores.items()}
    return out


def boxes_of(key: str, boxes: Any) -> dict[str, dict]:
    """Validated boxes, JSON-safe: ``{group: {"box_data": [...], "class_labels": {...}}}``.

    Raises:
        ValueError: a shape W&B would refuse (``key`` and the offending box named).
    """
    out = {}
    for group, body in _groups(key, "boxes", boxes).items():
        data = body.get("box_data")
        if not isinstance(data, (list, tuple)):
            raise bad(key, "Image", f"boxes[{group!r}] needs a box_data list")
        out[group] = {
            "box_data": [_box(key, f"boxes[{group!r}] box {i}", b) for i, b in enumerate(data)],
            "class_labels": class_labels(key, f"boxes[{group!r}]", body.get("class_labels")),
        }
    return out


def masks_of(key: str, masks: Any) -> dict[str, dict]:
    """Validated masks: each a raw ``mask_data`` array (H×W integers 0..255) or a file's bytes.

    Raises:
        ValueError: not 2-D, not integers, values outside 0..255, or neither data nor path.
    """
    out = {}
    for group, body in _groups(key, "masks", masks).items():
        where = f"masks[{group!r}]"
        labels = class_labels(key, where, body.get("class_labels"))
        if body.get("path") is not None:
            path = os.fspath(body["path"])
            with open(path, "rb") as fh:
                out[group] = {"encoded": fh.read(), "class_labels": labels}
            continue
        data = body.get("mask_data")
        if data is None:
            raise bad(key, "Image", f"{where} needs mask_data (an H×W array) or path")
        arr = to_numpy(data) if is_array(data) else to_numpy(list(data))
        if arr.ndim != 2:
            raise bad(key, "Image", f"{where} mask_data must be H×W, got shape {tuple(arr.shape)}")
        if arr.dtype.kind not in "uib":
            raise bad(
                key, "Image", f"{where} mask_data must hold integer class ids, got {arr.dtype}"
            )
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 255):
            raise bad(key, "Image", f"{where} mask_data class ids must be in 0..255")
        out[group] = {"mask": raw_array("mask", arr.astype("uint8")), "class_labels": labels}
    return out


def classes_of(key: str, classes: Any) -> list[dict[str, Any]]:
    """``[{"id": int, "name": str}, ...]`` (a W&B ``Classes`` object's ``_class_set`` too).

    Raises:
        ValueError: an entry without an int ``id`` and a ``name``.
    """
    items = getattr(classes, "_class_set", classes)
    if not isinstance(items, (list, tuple)):
        raise bad(key, "Image", "classes must be a list of {'id': int, 'name': str}")
    out = []
    for i, c in enumerate(items):
        if not isinstance(c, dict) or "name" not in c:
            raise bad(key, "Image", f"classes[{i}] must be {{'id': int, 'name': str}}, got {c!r}")
        out.append({"id": _class_id(key, f"classes[{i}] id", c.get("id")), "name": str(c["name"])})
    return out
