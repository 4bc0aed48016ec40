"""What ``define_metric`` returns, and the validation of its arguments (§4.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracker.errors import Error

SUMMARY_OPS = ("min", "max", "mean", "first", "last", "best", "none", "copy")
GOALS = ("minimize", "maximize")


@dataclass(frozen=True)
class Metric:
    """A metric definition as the sidecar applies it.

    Attributes:
        name: the flattened key, or a prefix ending with ``*``.
        step_metric: the key used as this metric's x axis.
        step_sync: whether rows logging ``name`` get the latest ``step_metric`` filled in.
        hidden: hide the metric from charts.
        summary: the aggregations kept in the summary.
        goal: ``minimize`` or ``maximize`` (what ``best`` means).
    """

    name: str
    step_metric: str | None = None
    step_sync: bool | None = None
    hidden: bool | None = None
    summary: tuple[str, ...] = ()
    goal: str | None = None


def check_definition(
    name: Any,
    step_metric: Any,
    step_sync: Any,
    hidden: Any,
    summary: Any,
    goal: Any,
    overwrite: Any,
) -> dict[str, Any]:
    """Validate ``define_metric`` arguments; return the spec sent to the sidecar.

    Raises:
        Error: a bad name, summary op, goal or argument type (named in the message).
    """
    if not isinstance(name, str) or not name:
        raise Error("define_metric() name must be a non-empty string")
    if "*" in name[:-1]:
        raise Error(f"define_metric() name {name!r}: '*' is allowed only as the last character")
    if step_metric is not None and (not isinstance(step_metric, str) or not step_metric):
        raise Error("define_metric() step_metric must be a non-empty string")
    for arg, val in (("step_sync", step_sync), ("hidden", hidden), ("overwrite", overwrite)):
        if val is not None and not isinstance(val, bool):
            raise Error(f"define_metric() {arg} must be a bool, got {val!r}")
    ops: list[str] = []
    if summary is not None:
        if not isinstance(summary, str):
            raise Error(
                f"define_metric() summary must be a comma-separated string, got {summary!r}"
            )
        for op in summary.split(","):
            op = op.strip().lower()
            if not op:
                continue
            if op not in SUMMARY_OPS:
                raise Error(
                    f"define_metric() summary op {op!r} is not one of {', '.join(SUMMARY_OPS)}"
                )
            if op not in ops:
                ops.append(op)
    if goal is not None:
        if not isinstance(goal, str) or goal.lower() not in GOALS:
            raise Error(f"define_metric() goal must be 'minimize' or 'maximize', got {goal!r}")
        goal = goal.lower()
    if step_metric is not None and step_sync is None:
        step_sync = True
    return {
        "name": name,
        "step_metric": step_metric,
        "step_sync": step_sync,
        "hidden": hidden,
        "summary": ops,
        "goal": goal,
        "overwrite": bool(overwrite),
    }
