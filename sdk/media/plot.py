"""``tracker.plot.*`` and ``tracker.plot_table``: a Table plus a small chart description (§10).

The chart description (``{"kind", "fields", "title"}``) is stored in the table's history
cell for the web UI to draw. ``confusion_matrix``, ``pr_curve`` and ``roc_curve`` send their
arrays; the sidecar computes their tables (``tracker.service.media_plots``).
"""

from __future__ import annotations

from typing import Any

from tracker.media.base import Media, bad, raw_array, to_numpy
from tracker.media.table import Table


class Chart(Media):
    """A chart to log: a :class:`Table` and how to draw it."""

    _kind = "plot"

    def __init__(self, kind: str, table: Table, fields: dict[str, Any], title: str = "") -> None:
        if not isinstance(table, Table):
            raise ValueError(f"a {kind} chart takes a tracker.Table, got {type(table).__name__}")
        for role, column in fields.items():
            if column is not None and column not in table.columns:
                raise ValueError(
                    f"chart field {role}={column!r} is not a column of the table {table.columns}"
                )
        self.table = table
        self.spec = {"kind": kind, "fields": fields, "title": title or ""}

    def to_log_value(self, key: str) -> dict[str, Any]:
        return {**self.table.to_log_value(key), "chart": self.spec}


def plot_table(
    vega_spec_name: str,
    data_table: Table,
    fields: dict[str, Any],
    string_fields: dict[str, Any] | None = None,
    split_table: bool = False,
) -> Chart:
    """A custom chart: ``data_table`` drawn by the chart ``vega_spec_name`` (§10).

    Args:
        vega_spec_name: the chart's name (``line``, ``scatter``, ``bar`` or any of your own).
        data_table: the data.
        fields: chart role -> column name (``{"x": "epoch", "y": "loss"}``).
        string_fields: text for the chart (``{"title": ...}``).
        split_table: accepted for W&B compatibility.

    Returns:
        A chart to pass to ``log``.
    """
    title = (string_fields or {}).get("title", "")
    return Chart(vega_spec_name, data_table, dict(fields), title)


def line(
    table: Table,
    x: str,
    y: str,
    stroke: str | None = None,
    title: str = "",
    split_table: bool = False,
) -> Chart:
    """A line chart of columns ``x`` and ``y`` (one line per ``stroke`` value)."""
    return Chart("line", table, {"x": x, "y": y, "stroke": stroke}, title)


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> Chart:
    """A scatter plot of columns ``x`` and ``y``."""
    return Chart("scatter", table, {"x": x, "y": y}, title)


def bar(table: Table, label: str, value: str, title: str = "", split_table: bool = False) -> Chart:
    """A bar chart: one bar per ``label``, as high as ``value``."""
    return Chart("bar", table, {"label": label, "value": value}, title)


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> Chart:
    """A histogram of column ``value``."""
    return Chart("histogram", table, {"value": value}, title)


def line_series(
    xs: Any,
    ys: Any,
    keys: list[str] | None = None,
    title: str = "",
    xname: str = "x",
    split_table: bool = False,
) -> Chart:
    """Several lines over shared (or per-line) x values.

    Args:
        xs: one list of x values, or one per line.
        ys: a list of lines (each a list of y values).
        keys: the lines' names (default ``key_0``, ...).
        title: the chart's title.
        xname: the x axis's label.
    """
    ys = [list(y) for y in ys]
    xs = list(xs)
    per_line = bool(xs) and hasattr(xs[0], "__len__")
    keys = list(keys) if keys is not None else [f"key_{i}" for i in range(len(ys))]
    if len(keys) != len(ys):
        raise ValueError(f"line_series got {len(keys)} keys for {len(ys)} lines")
    rows = []
    for i, (name, line_ys) in enumerate(zip(keys, ys, strict=True)):
        line_xs = list(xs[i]) if per_line else xs
        if len(line_xs) != len(line_ys):
            raise ValueError(
                f"line_series line {name!r}: {len(line_xs)} x values for {len(line_ys)} y values"
            )
        rows.extend([name, x, y] for x, y in zip(line_xs, line_ys, strict=True))
    table = Table(columns=["lineKey", xname, "lineVal"], data=rows)
    return Chart(
        "line_series", table, {"step": xname, "lineKey": "lineKey", "lineVal": "lineVal"}, title
    )


class ComputedChart(Media):
    """A chart whose table the sidecar computes from arrays (confusion matrix, PR, ROC)."""

    _kind = "plot"

    def __init__(
        self, kind: str, arrays: dict[str, Any], options: dict[str, Any], fields: dict, title: str
    ) -> None:
        self.kind = kind
        self.arrays = {name: to_numpy(a) for name, a in arrays.items() if a is not None}
        self.options = options
        self.spec = {"kind": kind, "fields": fields, "title": title or ""}

    def to_log_value(self, key: str) -> dict[str, Any]:
        lengths = {name: len(a) for name, a in self.arrays.items()}
        if len(set(lengths.values())) > 1:
            raise bad(key, self.kind, f"arrays differ in length: {lengths}")
        for name, arr in self.arrays.items():
            if arr.dtype.kind not in "uifb":
                raise bad(key, self.kind, f"{name} must be numbers, got dtype {arr.dtype}")
        return {
            "_type": "plot-raw",
            "plot": self.kind,
            "arrays": {n: raw_array("array", a) for n, a in self.arrays.items()},
            "options": self.options,
            "chart": self.spec,
        }


def confusion_matrix(
    probs: Any = None,
    y_true: Any = None,
    preds: Any = None,
    class_names: list[str] | None = None,
    title: str = "Confusion Matrix",
    split_table: bool = False,
) -> ComputedChart:
    """A confusion matrix of ``y_true`` against ``preds`` (or the argmax of ``probs``).

    Raises:
        ValueError: neither or both of ``probs`` and ``preds``, or no ``y_true``.
    """
    if y_true is None or (probs is None) == (preds is None):
        raise ValueError("confusion_matrix takes y_true and one of probs or preds")
    return ComputedChart(
        "confusion_matrix",
        {"y_true": y_true, "preds": preds, "probs": probs},
        {"class_names": list(class_names) if class_names is not None else None},
        {"actual": "Actual", "predicted": "Predicted", "value": "nPredictions"},
        title,
    )


def _curve(
    kind: str, y_true: Any, y_probas: Any, labels: Any, classes_to_plot: Any, title: str
) -> ComputedChart:
    if y_true is None or y_probas is None:
        raise ValueError(f"{kind} takes y_true and y_probas")
    x, y = ("recall", "precision") if kind == "pr_curve" else ("fpr", "tpr")
    return ComputedChart(
        kind,
        {"y_true": y_true, "probs": y_probas},
        {
            "labels": list(labels) if labels is not None else None,
            "classes_to_plot": list(classes_to_plot) if classes_to_plot is not None else None,
        },
        {"x": x, "y": y, "class": "class"},
        title,
    )


def pr_curve(
    y_true: Any = None,
    y_probas: Any = None,
    labels: list[str] | None = None,
    classes_to_plot: list[Any] | None = None,
    interp_size: int = 21,
    title: str = "Precision v. Recall",
    split_table: bool = False,
) -> ComputedChart:
    """Precision against recall for each class, one-vs-rest (``y_probas``: N×classes)."""
    return _curve("pr_curve", y_true, y_probas, labels, classes_to_plot, title)


def roc_curve(
    y_true: Any = None,
    y_probas: Any = None,
    labels: list[str] | None = None,
    classes_to_plot: list[Any] | None = None,
    title: str = "ROC",
    split_table: bool = False,
) -> ComputedChart:
    """True- against false-positive rate for each class, one-vs-rest (``y_probas``: N×classes)."""
    return _curve("roc_curve", y_true, y_probas, labels, classes_to_plot, title)
