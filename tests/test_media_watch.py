"""``watch`` / ``unwatch`` on a small torch model with the real sidecar (§10)."""

from __future__ import annotations

import pytest
import torch
import tracker


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def _train(run, model, steps):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(steps):
        loss = model(torch.randn(16, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()})


def test_watch_logs_histograms_every_log_freq_steps_and_unwatch_stops_it():
    run = tracker.init(project="watch")
    model = _model()
    run.watch(model, log="all", log_freq=3)
    _train(run, model, 7)  # forward calls 3 and 6 log: steps 2 and 5
    run.unwatch(model)
    _train(run, model, 6)  # nothing more
    run.finish()
    rows = list(tracker.Api().run(run.path).scan_history())
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    expected = {f"{kind}/{n}" for kind in ("gradients", "parameters") for n in names}
    logged = {
        r["_step"]: {k for k in r if k.startswith(("gradients/", "parameters/"))} for r in rows
    }
    assert {s for s, keys in logged.items() if keys} == {2, 5}
    assert logged[2] == expected and logged[5] == expected
    cell = rows[2]["gradients/0.weight"]
    assert cell["_type"] == "histogram" and len(cell["values"]) == 64 and sum(cell["values"]) == 32
    assert sum(rows[5]["parameters/2.bias"]["values"]) == 1


def test_module_level_watch_gradients_only_and_hooks_removed_at_finish():
    run = tracker.init(project="watch")
    model = _model()
    tracker.watch(model, log_freq=1)
    _train(run, model, 2)
    run.finish()
    assert not model._forward_hooks  # finish removed them
    rows = list(tracker.Api().run(run.path).scan_history())
    assert all("gradients/0.weight" in r for r in rows)
    assert not any(k.startswith("parameters/") for r in rows for k in r)
    with pytest.raises(tracker.Error):
        tracker.unwatch()  # no active run


def test_watch_refuses_bad_arguments():
    run = tracker.init(project="watch", mode="disabled")
    with pytest.raises(ValueError, match="log_freq"):
        run.watch(_model(), log_freq=0)
    with pytest.raises(ValueError, match="nn.Module"):
        run.watch(object())
    with pytest.raises(ValueError, match="log must be"):
        run.watch(_model(), log="weights")
    run.finish()
