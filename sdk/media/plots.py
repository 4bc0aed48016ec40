"""``tracker.plots``: W&B's legacy chart module (``wandb.plots.precision_recall``, ``roc``).

W&B kept these names as deprecated aliases of ``wandb.plot.pr_curve`` / ``roc_curve`` (seed
000's example still uses ``wandb.plots.precision_recall``); so does this module.
"""

from __future__ import annotations

import warnings
from typing import Any

from tracker.media import plot
from tracker.media.plot import ComputedChart

_DEPRECATED = "tracker.plots.{} is deprecated; use tracker.plot.{} instead"


def precision_recall(
    y_true: Any = None,
    y_probas: Any = None,
    labels: list[str] | None = None,
    plot_micro: bool = True,
    classes_to_plot: list[Any] | None = None,
) -> ComputedChart:
    """Precision against recall for each class; the legacy name of :func:`tracker.plot.pr_curve`.

    Args:
        y_true: the true class of each sample.
        y_probas: the predicted probabilities, one row per sample and one column per class.
        labels: the class names.
        plot_micro: accepted for W&B compatibility.
        classes_to_plot: the classes to draw (default all).

    Returns:
        A chart to pass to ``log``.
    """
    warnings.warn(_DEPRECATED.format("precision_recall", "pr_curve"), DeprecationWarning, 2)
    return plot.pr_curve(y_true, y_probas, labels, classes_to_plot)


def roc(
    y_true: Any = None,
    y_probas: Any = None,
    labels: list[str] | None = None,
    plot_micro: bool = True,
    plot_macro: bool = True,
    classes_to_plot: list[Any] | None = None,
) -> ComputedChart:
    """True- against false-positive rate per class; the legacy name of :func:`tracker.plot.roc_curve`.

    Args:
        y_true, y_probas, labels, plot_micro, classes_to_plot: as :func:`precision_recall`.
        plot_macro: accepted for W&B compatibility.

    Returns:
        A chart to pass to ``log``.
    """
    warnings.warn(_DEPRECATED.format("roc", "roc_curve"), DeprecationWarning, 2)
    return plot.roc_curve(y_true, y_probas, labels, classes_to_plot)
