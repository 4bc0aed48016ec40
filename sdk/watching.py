"""``run.watch`` / ``unwatch``: gradient and parameter histograms of torch modules (§10).

One forward hook per watched model counts its calls; on every ``log_freq``-th call it logs
the parameters' histograms and arms one-shot hooks on the parameters that log their
gradients' histograms during the backward pass that follows. Steps in between cost one
Python call per forward. Histograms are computed where the tensor lives (``torch.histc``);
only counts and edges cross to the host. (Named ``watching`` so that the module does not
shadow the ``tracker.watch`` function.)
"""

from __future__ import annotations

from typing import Any

from tracker.media.histogram import Histogram

LOG_CHOICES = ("gradients", "parameters", "all", None)


class ModelWatch:
    """The hooks of one watched model."""

    def __init__(self, run: Any, model: Any, prefix: str, what: str | None, log_freq: int) -> None:
        self.run = run
        self.model = model
        self.prefix = prefix
        self.params = what in ("parameters", "all")
        self.grads = what in ("gradients", "all")
        self.log_freq = log_freq
        self.calls = 0
        self._armed: list[Any] = []
        self._waiting: set[str] = set()  # gradients still to log in this backward
        self._handle = model.register_forward_hook(self._forward)

    def _named(self) -> list[tuple[str, Any]]:
        return [(self.prefix + n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    def _forward(self, module: Any, inputs: Any, output: Any) -> None:
        self.calls += 1
        if self.calls % self.log_freq:
            if self._armed and not self._waiting:
                self._disarm()  # every gradient of the last logging step is logged
            return
        named = self._named()
        if self.params:
            self.run.log({f"parameters/{n}": Histogram(p.detach()) for n, p in named}, commit=False)
        if self.grads and module.training:
            self._disarm()
            self._waiting = {name for name, _ in named}
            for name, param in named:
                self._armed.append(param.register_hook(self._grad_hook(name)))

    def _grad_hook(self, name: str) -> Any:
        def hook(grad: Any) -> None:
            # armed until the next logging forward; logs once per armed backward
            if name in self._waiting and not self.run._finished:
                self._waiting.discard(name)
                self.run.log({f"gradients/{name}": Histogram(grad)}, commit=False)

        return hook

    def _disarm(self) -> None:
        for handle in self._armed:
            handle.remove()
        self._armed.clear()

    def remove(self) -> None:
        self._handle.remove()
        self._disarm()


def watch(
    run: Any,
    models: Any,
    log: str | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
) -> list[ModelWatch]:
    """Hook ``models`` (one torch module or several) into ``run``; see :meth:`Run.watch`.

    Raises:
        ValueError: a model that is not a ``torch.nn.Module``, a bad ``log`` or ``log_freq``.
    """
    if log not in LOG_CHOICES:
        raise ValueError(f"watch() log must be one of {LOG_CHOICES}, got {log!r}")
    if not isinstance(log_freq, int) or isinstance(log_freq, bool) or log_freq < 1:
        raise ValueError(f"watch() log_freq must be a positive int, got {log_freq!r}")
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    for model in models:
        if not hasattr(model, "register_forward_hook") or not hasattr(model, "named_parameters"):
            raise ValueError(f"watch() takes torch.nn.Module objects, got {type(model).__name__}")
    watches = run.__dict__.setdefault("_watches", [])
    added = []
    for i, model in enumerate(models):
        if any(w.model is model for w in watches):
            continue  # watched already: W&B ignores a second watch of the same model
        prefix = (
            f"graph_{idx if idx is not None else i}." if len(models) > 1 or idx is not None else ""
        )
        if log is None:
            continue
        added.append(ModelWatch(run, model, prefix, log, log_freq))
    watches.extend(added)
    return added


def unwatch(run: Any, models: Any = None) -> None:
    """Remove the hooks of ``models`` (all watched models when None)."""
    watches = run.__dict__.get("_watches") or []
    if models is None:
        chosen = list(watches)
    else:
        models = list(models) if isinstance(models, (list, tuple)) else [models]
        chosen = [w for w in watches if any(w.model is m for m in models)]
    for w in chosen:
        w.remove()
        watches.remove(w)
