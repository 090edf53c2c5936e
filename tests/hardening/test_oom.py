"""Promise 4 (CPU): an out-of-memory error during training ends the run as "failed" with a message
naming the batch size and suggesting a smaller one; the model of the last finished epoch and the
history are kept; the run is returned and registered.  The OOM is injected (torch.OutOfMemoryError,
as CUDA raises it) or real (the CPU allocator refusing a huge tensor)."""

import copy

import pytest
import torch
from hardening_helpers import one_line_short, tiny_data
from torch import nn

import nbtrain


class OOMAt(nn.Module):
    """An MLP that runs out of memory on its ``at``-th training forward (or in validation)."""

    def __init__(self, at: int, kind: str = "cuda", in_eval_after: int = None):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        self.at, self.kind, self.calls, self.in_eval_after, self.train_calls = at, kind, 0, in_eval_after, 0

    def forward(self, x):
        h = self.net(x)
        if self.training:
            self.train_calls += 1
            if self.train_calls == self.at:
                self._oom()
        elif self.in_eval_after is not None and self.train_calls >= self.in_eval_after:
            self._oom()
        return h

    def _oom(self):
        if self.kind == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected)")
        torch.empty(2**50, dtype=torch.uint8)  # a real allocation failure: 1 PiB
        raise AssertionError("the allocator accepted 1 PiB")


class Snapshots(nbtrain.Callback):
    def __init__(self):
        self.states = {}

    def on_epoch_end(self, run, epoch, logs, **kw):
        self.states[epoch] = copy.deepcopy(run.model.state_dict())
        return logs


def _train(model, cb, **kw):
    X, y = tiny_data(n=80)
    args = dict(epochs=4, batch_size=16, display="none", callbacks=[cb], name="oom_run")
    args.update(kw)
    return nbtrain.train((X, y), model=model, **args)


@pytest.mark.parametrize("kind", ["cuda", "cpu"])
def test_oom_mid_training_keeps_last_finished_epoch(kind):
    # 80 rows -> 48 training rows -> 3 batches of 16 per epoch; step 8 is epoch 3, batch 2
    model, snaps = OOMAt(at=8, kind=kind), Snapshots()
    run = _train(model, snaps)
    assert run.status == "failed"
    msg = run.error
    assert "out of memory" in msg and "epoch 3" in msg, msg
    assert "batch size 16" in msg and "batch_size=8" in msg, msg
    assert one_line_short(msg), msg
    assert len(run.history) == 2 and [r["epoch"] for r in run.history] == [1.0, 2.0]
    for k, v in snaps.states[2].items():
        assert torch.equal(run.model.state_dict()[k], v), f"{k} is not the epoch-2 weight"
    assert nbtrain.runs["oom_run"] is run
    assert not any(p.grad is not None for p in run.model.parameters()), "gradients of the failed step are freed"
    # the run is still usable: it predicts with the kept weights
    X, _ = tiny_data(n=80)
    assert len(run.predict(X)) == len(X)


def test_oom_in_first_step_keeps_initial_weights():
    model, snaps = OOMAt(at=1), Snapshots()
    init = copy.deepcopy(model.state_dict())
    run = _train(model, snaps, batch_size=1)
    assert run.status == "failed" and len(run.history) == 0
    assert "batch size 1" in run.error and "batch_size=1" in run.error
    for k, v in init.items():
        assert torch.equal(run.model.state_dict()[k], v)


def test_oom_in_validation_is_reported_as_validation():
    model, snaps = OOMAt(at=-1, in_eval_after=6), Snapshots()  # epochs 1-2 fine, epoch 2's validation fails
    run = _train(model, snaps)
    assert run.status == "failed" and "validation" in run.error and "batch size 16" in run.error, run.error
    assert len(run.history) == 1
    for k, v in snaps.states[1].items():
        assert torch.equal(run.model.state_dict()[k], v)


def test_other_runtime_errors_are_not_mistaken_for_oom():
    class Broken(OOMAt):
        def _oom(self):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        _train(Broken(at=3), Snapshots())
    assert nbtrain.runs["oom_run"].status == "failed"


def test_earlier_runs_survive_an_oom_run():
    ok = _train(OOMAt(at=-1), Snapshots(), name="fine", epochs=1)
    bad = _train(OOMAt(at=2), Snapshots(), name="bad")
    assert list(nbtrain.runs) == ["fine", "bad"]
    assert ok.status == "completed" and bad.status == "failed"


def test_oom_with_patience_keeps_the_best_epoch():
    """With early stopping the one kept copy is the best epoch's: an out-of-memory error falls back to it."""

    class Best(nbtrain.Callback):
        def __init__(self):
            self.states = {}

        def on_epoch_end(self, run, epoch, logs, **kw):
            self.states[epoch] = (run.best_epoch, copy.deepcopy(run.model.state_dict()))

    model, best = OOMAt(at=14), Best()  # 3 batches an epoch: the 14th step is epoch 5, batch 2
    run = _train(model, best, epochs=6, patience=10, optimizer="sgd(lr=0.5)")
    assert run.status == "failed" and "out of memory at epoch 5" in run.error, run.error
    kept = best.states[4][0]
    assert f"the weights of the best epoch ({kept}) were kept" in run.error
    for k, v in best.states[kept][1].items():
        assert torch.equal(run.model.state_dict()[k], v)
