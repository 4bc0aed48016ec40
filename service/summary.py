"""The run summary: last values, manual overrides and ``define_metric`` aggregations (§4.3, §4.4).

Owned by the committer, updated with every committed row. Aggregations are kept only for
keys that have a definition with ops, and once kept they keep counting through
redefinitions and manual overrides.
"""

from __future__ import annotations

import math
from typing import Any

_AGG_OPS = ("min", "max", "mean", "first", "last", "best")


class Agg:
    """Running aggregates of one key."""

    __slots__ = ("min", "max", "total", "count", "first", "last", "has_first")

    def __init__(self) -> None:
        self.min = self.max = None
        self.total = 0.0
        self.count = 0
        self.first = self.last = None
        self.has_first = False

    def add(self, value: Any) -> None:
        if not self.has_first:
            self.first = value
            self.has_first = True
        self.last = value
        if type(value) in (int, float) and not (type(value) is float and math.isnan(value)):
            self.count += 1
            self.total += value
            if self.min is None or value < self.min:
                self.min = value
            if self.max is None or value > self.max:
                self.max = value

    def view(self, ops: list[str], goal: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for op in ops:
            if op in ("min", "max") and self.count:
                out[op] = getattr(self, op)
            elif op == "mean" and self.count:
                out["mean"] = self.total / self.count
            elif op == "first" and self.has_first:
                out["first"] = self.first
            elif op in ("last", "copy") and self.has_first:
                out["last"] = self.last
            elif op == "best" and self.count:
                out["best"] = self.max if goal == "maximize" else self.min
        return out

    def to_state(self) -> list:
        return [self.min, self.max, self.total, self.count, self.first, self.last, self.has_first]

    @classmethod
    def from_state(cls, state: list) -> Agg:
        agg = cls()
        agg.min, agg.max, agg.total, agg.count, agg.first, agg.last, agg.has_first = state
        return agg


def merge_definition(old: dict | None, new: dict) -> dict:
    """A new ``define_metric`` spec merged into an earlier one (unless it overwrites)."""
    if old is None or new.get("overwrite"):
        merged = dict(new)
    else:
        merged = dict(old)
        merged["step_sync"] = bool(old.get("step_sync")) or bool(new.get("step_sync"))
        merged["hidden"] = bool(old.get("hidden")) or bool(new.get("hidden"))
        if new.get("step_metric"):
            merged["step_metric"] = new["step_metric"]
        if new.get("goal"):
            merged["goal"] = new["goal"]
        merged["summary"] = list(
            dict.fromkeys(list(old.get("summary") or []) + list(new.get("summary") or []))
        )
    merged.pop("overwrite", None)
    return merged


class SummaryState:
    """Summary of one run, as of the last committed row."""

    def __init__(self) -> None:
        self.last: dict[str, Any] = {}
        self.overrides: dict[str, Any] = {}
        self.removed: set[str] = set()
        self.defs: dict[str, dict] = {}  # exact name -> spec
        self.globs: list[tuple[str, dict]] = []  # (prefix, spec), longest prefix first
        self.aggs: dict[str, Agg] = {}
        self._resolved: dict[str, dict | None] = {}
        self._plain = True  # no definitions, overrides or removals: dict.update suffices
        self.step_metrics: dict[str, str] = {}  # key -> step metric, for keys with step_sync

    # -- definitions -----------------------------------------------------------------------
    def define(self, spec: dict) -> dict:
        """Apply a ``define_metric`` spec; return the definition now in force."""
        name = spec["name"]
        if name.endswith("*"):
            prefix = name[:-1]
            old = next((s for p, s in self.globs if p == prefix), None)
            merged = merge_definition(old, spec)
            self.globs = [(p, s) for p, s in self.globs if p != prefix] + [(prefix, merged)]
            self.globs.sort(key=lambda item: -len(item[0]))
        else:
            merged = merge_definition(self.defs.get(name), spec)
            self.defs[name] = merged
        self._resolved.clear()
        self._plain = False
        self._seed_aggregates()
        return merged

    def _seed_aggregates(self) -> None:
        """Keys logged before their definition start their aggregates from their last value
        (the earlier ones are gone), so the summary keeps what is known instead of ``{}``."""
        for key, value in self.last.items():
            if key not in self.aggs:
                spec = self.resolve(key)
                if spec is not None and spec.get("summary"):
                    agg = self.aggs[key] = Agg()
                    agg.add(value)

    def resolve(self, key: str) -> dict | None:
        try:
            return self._resolved[key]
        except KeyError:
            pass
        spec = self.defs.get(key)
        if spec is None and not key.startswith("_"):
            for prefix, glob_spec in self.globs:
                if key.startswith(prefix):
                    spec = glob_spec
                    break
        self._resolved[key] = spec
        return spec

    # -- rows ------------------------------------------------------------------------------
    def step_sync(self, row: dict) -> None:
        """Fill in the latest value of each synced step metric in rows that lack it."""
        if self._plain:
            return
        for key in list(row):
            spec = self.resolve(key)
            if spec is None or not spec.get("step_sync"):
                continue
            metric = spec.get("step_metric")
            if metric and metric not in row and metric in self.last:
                row[metric] = self.last[metric]

    def update(self, row: dict) -> None:
        """Account one committed row."""
        if self._plain:
            self.last.update(row)
            return
        overrides, removed, aggs = self.overrides, self.removed, self.aggs
        for key, value in row.items():
            self.last[key] = value
            if overrides and key in overrides:
                del overrides[key]
            if removed and key in removed:
                removed.discard(key)
            spec = self.resolve(key)
            if spec is not None and spec.get("summary"):
                agg = aggs.get(key)
                if agg is None:
                    agg = aggs[key] = Agg()
                agg.add(value)

    def set(self, values: dict, remove: list) -> None:
        """Manual edits: ``summary[k] = v`` and ``del summary[k]``."""
        for key, value in values.items():
            self.overrides[key] = value
            self.removed.discard(key)
        for key in remove:
            self.overrides.pop(key, None)
            self.removed.add(key)
        if values or remove:
            self._plain = False

    def view(self) -> dict[str, Any]:
        """The summary as users read it."""
        if self._plain:
            return dict(self.last)
        out: dict[str, Any] = {}
        for key, value in self.last.items():
            if key in self.removed:
                continue
            spec = self.resolve(key)
            ops = spec.get("summary") if spec else None
            if ops:
                if "none" in ops:
                    continue
                agg = self.aggs.get(key)
                out[key] = agg.view(ops, spec.get("goal")) if agg else {}
            else:
                out[key] = value
        out.update(self.overrides)
        return out

    # -- persistence (for resume) ----------------------------------------------------------
    def to_state(self) -> dict:
        return {
            "last": self.last,
            "overrides": self.overrides,
            "removed": sorted(self.removed),
            "defs": self.defs,
            "globs": [[p, s] for p, s in self.globs],
            "aggs": {k: a.to_state() for k, a in self.aggs.items()},
        }

    @classmethod
    def from_state(cls, state: dict | None) -> SummaryState:
        s = cls()
        if not state:
            return s
        s.last = dict(state.get("last") or {})
        s.overrides = dict(state.get("overrides") or {})
        s.removed = set(state.get("removed") or [])
        s.defs = dict(state.get("defs") or {})
        s.globs = [(p, spec) for p, spec in state.get("globs") or []]
        s.aggs = {k: Agg.from_state(v) for k, v in (state.get("aggs") or {}).items()}
        s._plain = not (s.overrides or s.removed or s.defs or s.globs)
        return s
