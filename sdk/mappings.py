"""``run.config`` and ``run.summary`` as the user sees them in the training process (§4.4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from tracker.errors import Error


class Config(MutableMapping):
    """Run configuration: item and attribute access; changing a value needs ``allow_val_change``.

    Example:
        >>> run.config.lr = 0.01
        >>> run.config.update({"batch": 64})
        >>> run.config["lr"]
        0.01
    """

    def __init__(self, data: dict | None = None, on_change: Callable[[dict], None] | None = None):
        object.__setattr__(self, "_data", dict(data or {}))
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_always_allow", False)  # init(allow_val_change=True)

    def _allow_val_changes(self) -> None:
        object.__setattr__(self, "_always_allow", True)

    def _bind(self, on_change: Callable[[dict], None] | None) -> None:
        object.__setattr__(self, "_on_change", on_change)

    def update(self, d: Any = None, allow_val_change: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        """Add keys; changing an existing key's value raises unless ``allow_val_change``.

        Raises:
            Error: a key already holds a different value.
        """
        items: dict[str, Any] = {}
        if d is not None:
            if hasattr(d, "items"):
                items.update(dict(d.items()))
            elif hasattr(d, "__dict__"):  # argparse.Namespace and friends
                items.update(vars(d))
            else:
                raise TypeError(f"config.update() takes a mapping, got {type(d).__name__}")
        items.update(kwargs)
        changes = {}
        for key, value in items.items():
            if not isinstance(key, str):
                raise TypeError(f"config keys must be strings, got {key!r}")
            old = self._data.get(key, _MISSING)
            if (
                old is not _MISSING
                and old != value
                and not (allow_val_change or self._always_allow)
            ):
                raise Error(
                    f"config key {key!r} already has value {old!r}; pass "
                    f"allow_val_change=True to change it to {value!r}"
                )
            if old is _MISSING or old != value:
                changes[key] = value
        self._data.update(changes)
        if changes and self._on_change is not None:
            self._on_change(changes)

    def setdefaults(self, d: dict) -> None:
        self.update({k: v for k, v in d.items() if k not in self._data})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        raise Error("config keys cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


_MISSING = object()


class Summary(MutableMapping):
    """The run summary: reads ask the sidecar for what it has committed; writes override.

    ``run.summary["best"] = 0.9`` overrides the automatic value until the key is logged again.
    """

    def __init__(self, fetch: Callable[[], dict], send: Callable[[dict, list], None]):
        self._fetch = fetch
        self._send = send

    def _get(self) -> dict:
        return self._fetch()

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        if key not in self._get():
            raise KeyError(key)
        self._send({}, [key])

    def update(self, d: Any = None, **kwargs: Any) -> None:  # type: ignore[override]
        items = dict(d or {}, **kwargs)
        for key in items:
            if not isinstance(key, str):
                raise TypeError(f"summary keys must be strings, got {key!r}")
        if items:
            self._send(items, [])

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._get()[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        # ``run.summary.best_acc = 0.97`` is W&B's idiom: an item, never an attribute
        if key.startswith("_"):
            object.__setattr__(self, key, value)
        else:
            self.update({key: value})

    def __delattr__(self, key: str) -> None:
        if key.startswith("_"):
            object.__delattr__(self, key)
            return
        try:
            del self[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._get())

    def __repr__(self) -> str:
        return f"Summary({self._get()!r})"
