"""Tables of computed charts (confusion matrix, PR and ROC curves), with numpy, in the sidecar."""

from __future__ import annotations

from typing import Any

from tracker.service.media_encode import array_of


def compute(cell: dict) -> dict[str, Any]:
    """The raw table cell of a ``plot-raw`` cell: its columns, rows and chart description.

    Raises:
        ValueError: an unknown chart, or arrays that do not fit it.
    """
    arrays = {name: array_of(c) for name, c in cell["arrays"].items()}
    kind = cell["plot"]
    options = cell.get("options") or {}
    if kind == "confusion_matrix":
        columns, rows = confusion(arrays, options.get("class_names"))
    elif kind in ("pr_curve", "roc_curve"):
        columns, rows = curves(kind, arrays, options.get("labels"), options.get("classes_to_plot"))
    else:
        raise ValueError(f"unknown computed chart {kind!r}")
    return {"_type": "table-raw", "columns": columns, "rows": rows, "chart": cell.get("chart")}


def confusion(arrays: dict[str, Any], class_names: list | None) -> tuple[list[str], list[list]]:
    import numpy as np

    y_true = arrays["y_true"].astype(np.int64).reshape(-1)
    preds = arrays.get("preds")
    preds = arrays["probs"].argmax(axis=1) if preds is None else preds.astype(np.int64).reshape(-1)
    n = int(max(y_true.max(initial=0), preds.max(initial=0))) + 1
    if class_names is not None:
        if n > len(class_names):
            raise ValueError(f"labels go up to {n - 1} but only {len(class_names)} class_names")
        n = len(class_names)
    names = class_names or [f"Class_{i + 1}" for i in range(n)]
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (y_true, preds), 1)
    rows = [[names[i], names[j], int(counts[i, j])] for i in range(n) for j in range(n)]
    return ["Actual", "Predicted", "nPredictions"], rows


def curves(
    kind: str, arrays: dict[str, Any], labels: list | None, classes: list | None
) -> tuple[list[str], list[list]]:
    import numpy as np

    y_true = arrays["y_true"].reshape(-1)
    probs = arrays["probs"]
    if probs.ndim == 1:
        probs = np.stack([1 - probs, probs], axis=1)
    n = probs.shape[1]
    names = labels or [str(i) for i in range(n)]
    chosen = range(n) if classes is None else [int(c) for c in classes]
    rows: list[list] = []
    for c in chosen:
        truth = y_true == c
        scores = probs[:, c]
        order = np.argsort(-scores, kind="stable")
        tp = np.cumsum(truth[order])
        fp = np.cumsum(~truth[order])
        pos, neg = max(int(truth.sum()), 1), max(int((~truth).sum()), 1)
        if kind == "roc_curve":
            xs, ys = np.concatenate([[0.0], fp / neg]), np.concatenate([[0.0], tp / pos])
        else:
            xs = np.concatenate([[0.0], tp / pos])
            ys = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1)])
        rows.extend([names[c], float(x), float(y)] for x, y in zip(xs, ys, strict=True))
    x, y = ("recall", "precision") if kind == "pr_curve" else ("fpr", "tpr")
    return ["class", x, y], rows
